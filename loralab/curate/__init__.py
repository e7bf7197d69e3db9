"""Dataset curation: semantic dedup, diversity and complexity metrics, contamination, comparison.

One module per job, each exposing a stage function that takes a `CurateConfig` and writes an
artifact directory (rows, summary.json, config.yaml, meta.json):
  rows.py           read alpaca-style JSON/JSONL or prepared splits into `InstructionRow`s
  metrics.py        pure metrics: MTLD, spread, code extraction, Halstead and cyclomatic complexity
  dedup.py          exact, normalised-text and embedding near-duplicates (blockwise, no n x n matrix)
  contamination.py  n-gram and embedding overlap with evaluation sets
  report.py         metrics of one dataset, and the side-by-side comparison table
"""
