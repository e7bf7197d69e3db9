"""The study report reads result files only, so a hand-built study directory tests it fully.

`write_fake_study` writes what `loralab study run` writes (layout and schemas in loralab/results.py):
two LoRA runs (r8, r16) and the base model, three checkpoints each, two tasks, per-sample
records, comparisons and meta.json. Every score in it is derived from the per-problem
outcomes below, so the expected numbers in the assertions can be checked by hand.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from loralab.config import RunConfig, save_config
from loralab.errors import LoralabError
from loralab.io import write_json, write_jsonl
from loralab.report import config_diff, flatten, render_summary, summary_table, verdict, write_report

TASKS = {"pytasks": 20, "humaneval": 10}  # task -> number of problems
STEPS = (10, 20, 30)
# run -> step -> task -> ids of the problems solved (n_samples = 1). Step 0 is the base model.
BASE = {"pytasks": set(range(5)), "humaneval": {0, 1}}
SOLVED = {
    "r8": {10: {"pytasks": set(range(6)), "humaneval": {0, 1}},
           20: {"pytasks": {0, 1, 2, 3, 5, 6, 7, 8}, "humaneval": {0, 1, 4}},  # best: 8/20, flips 4 up, 1 down
           30: {"pytasks": set(range(7)), "humaneval": {0, 1}}},
    "r16": {10: {"pytasks": set(range(9)), "humaneval": {0, 1, 2}},
            20: {"pytasks": set(range(12)), "humaneval": {0, 1, 2}},
            30: {"pytasks": set(range(14)), "humaneval": {0, 1, 2, 3}}},  # best: 14/20, 9 up, 0 down
}
BEST = {"r8": 20, "r16": 30}


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    """Wilson score interval (Wilson 1927), what an evaluation would report as ci95."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar: a binomial test on the discordant pairs."""
    n, k = only_a + only_b, min(only_a, only_b)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0


def _score(solved: set, m: int) -> dict:
    p = len(solved) / m
    return {"n_problems": m, "n_samples": 1, "solved": len(solved), "pass@1": p, "pass@k": {"1": p},
            "ci95": wilson(len(solved), m)}


def _write_eval(run_dir: Path, run: str) -> None:
    systems = [("base", 0, None, BASE)] + [(f"checkpoint-{s}", s, f"runs/{run}/checkpoint-{s}", SOLVED[run][s])
                                           for s in STEPS]
    summary = {"systems": [{"name": name, "step": step, "adapter": adapter,
                            "tasks": {t: _score(solved[t], m) for t, m in TASKS.items()}}
                           for name, step, adapter, solved in systems],
               "select_on": "pytasks", "report_on": "pytasks",
               "best": {"name": f"checkpoint-{BEST[run]}", "step": BEST[run],
                        "pass@1": len(SOLVED[run][BEST[run]]["pytasks"]) / TASKS["pytasks"]}}
    write_json(run_dir / "eval" / "summary.json", summary)
    samples = [{"system": name, "step": step, "task": t, "task_id": f"{t}/{i}", "sample": 0,
                "passed": i in solved[t], "status": "pass" if i in solved[t] else "fail",
                "completion": "def f(x):\n    return x  # <b>not html</b>\n"}
               for name, step, _, solved in systems for t, m in TASKS.items() for i in range(m)]
    write_jsonl(run_dir / "eval" / "samples.jsonl", samples)


def _write_training(run_dir: Path, run: str, r: int) -> None:
    rate = 1.0 + r / 32  # the r16 run learns a little faster in this fake

    def val(step: int) -> float:
        return round(2.1 * math.exp(-step * rate / 30) + 0.7, 4)

    train = [{"step": s, "epoch": s / 30, "loss": round(2.0 * math.exp(-s * rate / 25) + 0.6, 4), "grad_norm": 1.1,
              "lr": 2e-4, "tokens_per_s": 410.0, "samples_per_s": 1.6, "peak_mem_mb": 900.0} for s in range(2, 31, 2)]
    evals = [{"step": s, "epoch": s / 30, "val_loss": val(s)} for s in STEPS]
    write_jsonl(run_dir / "metrics.jsonl", sorted(train + evals, key=lambda m: m["step"]))
    write_json(run_dir / "checkpoints.json", [
        {"step": s, "epoch": s / 30, "tokens_seen": 1500 * s, "train_loss": train[s // 2 - 1]["loss"],
         "val_loss": val(s), "path": f"runs/{run}/checkpoint-{s}"} for s in STEPS])
    write_json(run_dir / "summary.json", {
        "train_runtime": 187.4 + r, "train_samples_per_second": 1.61, "train_steps_per_second": 0.16,
        "tokens_per_second": 412.5, "final_loss": train[-1]["loss"], "best_val_loss": min(e["val_loss"] for e in evals),
        "trainable_params": 115_200 * r // 8, "total_params": 134_630_000 + 115_200 * r // 8, "steps": 30})


def write_fake_study(root: Path) -> Path:
    """A finished two-run study in `root`, as `loralab study run` leaves it."""
    write_json(root / "study.json", {"study": {"name": "quickstart", "out_dir": str(root), "compare": "all"}})
    for run, r in (("r8", 8), ("r16", 16)):
        run_dir = root / "runs" / run
        cfg = RunConfig()
        cfg.adapter.r, cfg.adapter.alpha = r, 2 * r
        cfg.train.out_dir, cfg.train.max_steps, cfg.train.save_steps = f"{root}/runs/{run}", 30, 10
        cfg.eval.tasks, cfg.eval.limit = ["pytasks", "humaneval"], 20
        save_config(cfg, run_dir)
        _write_training(run_dir, run, r)
        _write_eval(run_dir, run)
    comps = []
    for a, b in (("base", "r8"), ("base", "r16"), ("r8", "r16")):
        sa = BASE["pytasks"] if a == "base" else SOLVED[a][BEST[a]]["pytasks"]
        sb = SOLVED[b][BEST[b]]["pytasks"]
        m = TASKS["pytasks"]
        delta = (len(sb) - len(sa)) / m
        comps.append({"a": a, "b": b, "task": "pytasks", "a_system": "base" if a == "base" else f"checkpoint-{BEST[a]}",
                      "b_system": f"checkpoint-{BEST[b]}", "n": m, "a_solved": len(sa), "b_solved": len(sb),
                      "both": len(sa & sb), "only_a": len(sa - sb), "only_b": len(sb - sa),
                      "mcnemar_p": mcnemar_exact(len(sa - sb), len(sb - sa)), "delta_pass1": delta,
                      "bootstrap_ci95": [round(delta - 0.2, 3), round(delta + 0.2, 3)]})
    # Holm over the 3 tests on pytasks: raw 2/2**9, 2/2**6, .375 (sorted) x 3, 2, 1
    for comp, adjusted in zip(comps, (0.375, 3 * 2 / 2**9, 2 * 2 / 2**6), strict=True):
        comp.update(mcnemar_p_holm=adjusted, holm_m=3)
    write_json(root / "comparisons.json", comps)
    write_json(root / "meta.json", {
        "stage": "study", "seed": None, "inputs": {}, "finished_at": "2026-11-23T02:10:00Z", "seconds": 812.5,
        "versions": {"python": "3.11.2", "platform": "Linux-6.1-x86_64", "loralab": "0.1.0", "torch": "2.13.0",
                     "transformers": "5.23.0", "peft": "0.21.2"},
        "hardware": {"cpu": "AMD EPYC 7B13", "cores": 2, "gpu": None}})
    return root


@pytest.fixture
def study(tmp_path) -> Path:
    return write_fake_study(tmp_path / "quickstart")


class _TagBalance(HTMLParser):
    """Fails on a closing tag that does not match the open one: catches broken escaping."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def _table(html_text: str, table_id: str) -> str:
    m = re.search(rf'<table id="{table_id}">.*?</table>', html_text, re.S)
    assert m, f"no table {table_id}"
    return m.group(0)


# ----------------------------------------------------------------------------- tests


def test_summary_table_numbers(study):
    rows = {r["run"]: r for r in summary_table(study)}
    assert list(rows) == ["r8", "r16"]  # natural order, not "r16" < "r8"
    r8, r16 = rows["r8"], rows["r16"]
    assert (r8["best"], r8["step"], r8["task"]) == ("checkpoint-20", 20, "pytasks")
    assert r8["base_pass1"] == pytest.approx(5 / 20) and r8["best_pass1"] == pytest.approx(8 / 20)
    assert (r8["solved"], r8["n_problems"]) == (8, 20) and r8["ci95"] == wilson(8, 20)
    assert r8["delta"] == pytest.approx(0.15)
    assert r8["p_value"] == pytest.approx(0.375)  # 1 down, 4 up: 2 * (1 + 5) / 2**5
    assert r16["p_value"] == pytest.approx(2 / 2**9) and r16["solved"] == 14
    assert r8["p_holm"] == pytest.approx(0.375) and r16["p_holm"] == pytest.approx(3 * 2 / 2**9)
    text = render_summary(study)
    for needed in ("r8", "checkpoint-20", "25.0%", "40.0%", "8/20", "+15.0", "[21.9, 61.3]", "0.375", "0.004",
                   "0.012", "14/20", "on pytasks", "Holm"):
        assert needed in text, needed
    assert max(len(line) for line in text.splitlines()) <= 80


def test_report_files_are_complete_and_self_contained(study):
    md, page = write_report(study)
    assert (md, page) == (study / "report.md", study / "report.html")
    text = page.read_text()
    _TagBalance().feed(text)
    for table in ("summary-table", "significance-table", "config-diff", "config-shared", "training-table",
                  "checkpoints-r8", "checkpoints-r16", "problems-table", "environment-table"):
        assert f'<table id="{table}">' in text, table
    # Self-contained: every image is a data URI and nothing is fetched from elsewhere.
    assert re.findall(r'src="(?!data:image/png;base64,)', text) == []
    assert "<link" not in text and "http" not in text
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == 3  # pass@1 x 2 tasks + loss
    figures = sorted(p.name for p in (study / "figures").glob("*.png"))
    assert figures == ["loss.png", "pass1_humaneval.png", "pass1_pytasks.png"]
    for f in figures:
        assert (study / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(figures/{f})" in md.read_text()
    assert not list(study.glob(".*.tmp")) and not list((study / "figures").glob(".*.tmp"))


def test_best_row_training_and_environment(study):
    _, page = write_report(study)
    text = page.read_text()
    summary = _table(text, "summary-table")
    assert re.search(r"<b>base</b>.*?25\.0%.*?5/20", summary)
    assert re.search(r"<b>r16</b></td><td class=\"id\">checkpoint-30</td><td class=\"num\">30</td>.*?70\.0%.*?14/20", summary)
    training = _table(text, "training-table")
    assert "3m 23s" in training and "412.5" in training and "230.40K" in training  # r16: 187.4 + 16 s
    env = _table(text, "environment-table")
    assert "AMD EPYC 7B13" in env and "2.13.0" in env and "none" in env
    ck = _table(text, "checkpoints-r8")
    assert re.search(r'<tr class="?best"?><td class="id"><b>checkpoint-20</b>', ck)
    md = (study / "report.md").read_text()
    assert "| **r16** | checkpoint-30 | 30 | pytasks | 70.0% | 14/20 |" in md


def test_config_differences_are_highlighted(study):
    configs = {r: yaml.safe_load((study / "runs" / r / "config.yaml").read_text()) for r in ("r8", "r16")}
    flat = flatten(configs["r8"])
    assert flat["adapter.r"] == "8" and flat["eval.tasks"] == "[pytasks, humaneval]" and flat["model.adapter"] == "null"
    differs, shared = config_diff(configs)
    assert set(differs) == {"adapter.r", "adapter.alpha", "train.out_dir"}
    assert "train.learning_rate" in shared
    _, page = write_report(study)
    diff = _table(page.read_text(), "config-diff")
    assert '<tr class=differs><td><b>adapter.r</b></td><td>8</td><td>16</td></tr>' in diff
    assert "learning_rate" not in diff
    md = (study / "report.md").read_text()
    assert "| **adapter.r** | **8** | **16** |" in md
    assert "<details><summary>" in page.read_text()


def test_significance_verdicts(study):
    _, page = write_report(study)
    sig = _table(page.read_text(), "significance-table")
    assert "r16 solves more; unlikely to be noise at 0.05" in sig
    assert "not distinguishable from noise at 0.05 (only 5 of 20 problems differ)" in sig
    # r8 vs r16: raw p = 2/2**6 = .031 < .05, but Holm's x2 (second smallest of 3) gives .0625
    assert ("not distinguishable from noise at 0.05 (only 6 of 20 problems differ; raw p 0.031, "
            "Holm-adjusted over 3 tests 0.062)") in sig
    assert re.search(r"<td class=\"num\">0\.031</td><td class=\"num\">0\.062</td>", sig)
    assert "McNemar p (raw)" in sig and "Holm p" in sig
    from loralab.results import Comparison

    worse = Comparison(a="base", b="r8", task="t", n=30, a_solved=20, b_solved=8, only_a=12, only_b=0,
                       mcnemar_p=0.0005, delta_pass1=-0.4)
    assert verdict(worse) == ("base solves more; unlikely to be noise at 0.05", True)


def test_comparisons_written_before_holm_are_adjusted_when_read(study):
    path = study / "comparisons.json"
    old = [{k: v for k, v in c.items() if k not in ("mcnemar_p_holm", "holm_m")} for c in json.loads(path.read_text())]
    path.write_text(json.dumps(old))
    rows = {r["run"]: r for r in summary_table(study)}
    assert rows["r16"]["p_holm"] == pytest.approx(3 * 2 / 2**9) and rows["r8"]["p_holm"] == pytest.approx(0.375)
    _, page = write_report(study)
    assert "raw p 0.031, Holm-adjusted over 3 tests 0.062" in _table(page.read_text(), "significance-table")


def test_selection_bias_and_per_problem_flips(study):
    _, page = write_report(study)
    text = page.read_text()
    assert "selected on pytasks, the same task it is reported on" in text
    problems = _table(text, "problems-table")
    # base solves 0-4; r8's best solves 0-3 and 5-8; r16's best 0-13: problems 4..13 change.
    assert "10 of 20 problems of pytasks change outcome" in text
    assert ('<b>pytasks/4</b></td><td class="pass">✓</td><td class="fail">✗</td><td class="pass">✓</td>'
            in problems)
    assert "pytasks/0<" not in problems and "pytasks/19<" not in problems


def test_text_is_escaped(study):
    for run in ("r8", "r16"):
        path = study / "runs" / run / "config.yaml"
        path.write_text(path.read_text().replace("chat_template: auto",
                                                 "chat_template: \"<script>alert('x')</script> a|b & *c*\""))
    md, page = write_report(study)
    text = page.read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; a|b &amp; *c*" in text
    _TagBalance().feed(text)
    assert r"\<script\>alert('x')\</script\> a\|b & \*c\*" in md.read_text()
    # Rendered as GitHub-style Markdown, the value reads back as the same text and no table breaks.
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").enable("table").render(md.read_text())
    assert "&lt;script&gt;alert('x')&lt;/script&gt; a|b &amp; *c*" in rendered and "<script>" not in rendered
    assert rendered.count("<table>") == 9
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        widths = {len(re.findall(r"<t[hd][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)}
        assert len(widths) == 1, widths


def test_missing_pieces_render_as_dashes(study):
    shutil.rmtree(study / "runs" / "r16" / "eval")
    for f in ("summary.json", "metrics.jsonl", "checkpoints.json"):
        (study / "runs" / "r16" / f).unlink()
    for f in ("comparisons.json", "meta.json"):
        (study / f).unlink()
    rows = {r["run"]: r for r in summary_table(study)}
    assert rows["r16"]["best"] is None and rows["r16"]["note"] == "no eval/summary.json yet"
    assert rows["r8"]["p_value"] is None and rows["r8"]["best_pass1"] == pytest.approx(0.4)
    md, page = write_report(study)
    text = page.read_text()
    _TagBalance().feed(text)
    assert "r16: — because no eval/summary.json yet." in text
    assert "no comparisons.json yet" in text and "no meta.json yet" in text
    assert "r16: no summary.json yet (training not finished)" in text
    assert "No metrics.jsonl yet for: r16" in text
    assert "| **r16** | — | — | — | — | — | — |" in md.read_text()
    # A run with nothing at all but its config still gets its row.
    render_summary(study)


def test_single_run_mid_evaluation(study):
    """One run, evaluated on the base and one checkpoint so far, nothing selected or compared yet."""
    shutil.rmtree(study / "runs" / "r16")
    (study / "comparisons.json").unlink()
    path = study / "runs" / "r8" / "eval" / "summary.json"
    ev = json.loads(path.read_text())
    ev["systems"], ev["best"] = ev["systems"][:2], None
    path.write_text(json.dumps(ev))
    [row] = summary_table(study)
    assert row["best"] is None and row["base_pass1"] == pytest.approx(0.25) and row["note"] == "no checkpoint selected yet"
    md, page = write_report(study)
    text = page.read_text()
    _TagBalance().feed(text)
    assert "<details open><summary>" in text and 'id="config-diff"' not in text  # one run: nothing to diff
    assert "r8: — because no checkpoint selected yet." in text
    assert re.search(r"<b>checkpoint-10</b>.*?30\.0% \(6/20\)", _table(text, "checkpoints-r8"))


def test_malformed_and_absent_inputs_name_the_file(study, tmp_path):
    (study / "runs" / "r8" / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, \n')
    with pytest.raises(LoralabError, match=r"r8/metrics\.jsonl:2: malformed JSON"):
        write_report(study)
    (study / "runs" / "r8" / "metrics.jsonl").write_text("")
    (study / "runs" / "r8" / "eval" / "summary.json").write_text('{"systems": [{"name": "base"}]}')
    with pytest.raises(LoralabError, match=r"r8/eval/summary\.json: systems\.0\.step: Field required"):
        write_report(study)
    with pytest.raises(LoralabError, match="not a study directory"):
        write_report(tmp_path / "nowhere")


def test_rewriting_is_idempotent(study):
    write_report(study)
    first = (study / "figures" / "pass1_pytasks.png").read_bytes()
    md, _ = write_report(study)
    assert (study / "figures" / "pass1_pytasks.png").read_bytes() == first
    assert md.read_text().startswith("# Study report: quickstart")


def test_cli_report_prints_table_and_path(study):
    from loralab.cli import app

    res = CliRunner().invoke(app, ["report", str(study)])
    assert res.exit_code == 0, res.output
    assert "checkpoint-30" in res.output and "14/20" in res.output and "0.004" in res.output
    assert str(study / "report.html") in res.output.replace("\n", "")
    assert (study / "report.md").exists()
