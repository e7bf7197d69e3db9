"""`loralab study run --executor ray` on a local Ray instance (2 CPUs): the same samples,
selections and comparisons as the serial study, and a study killed in serial mode finished by
Ray without redoing finished work. Bad --executor / --address input is one error line."""

from __future__ import annotations

import sys

import pytest
import yaml
from test_kspecialist import write_spec
from test_study import cache_keys, results, run_until, write_study

from loralab.cli import run_cli
from loralab.io import read_json, read_jsonl
from loralab.studies.matrix import run_study


def small_study(path, tiny_model_dir, out):
    """test_study.py's two-run study, smaller: two checkpoints per run, three problems per split."""
    spec = yaml.safe_load(write_study(path, tiny_model_dir, out).read_text())
    spec["base"]["train"]["max_steps"] = 4
    spec["base"]["eval"]["limit"] = 3
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, configure_logging=False,
             log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def serial(tmp_path_factory, tiny_model_dir):
    """The reference: the two-run study of test_study.py, run in this process."""
    tmp = tmp_path_factory.mktemp("serial")
    return results(run_study(small_study(tmp / "s.yaml", tiny_model_dir, tmp / "study")))


def ray_executor():
    from loralab.studies.executors import RayExecutor

    return RayExecutor()


@pytest.mark.slow
def test_ray_study_equals_the_serial_one(ray, serial, tmp_path, tiny_model_dir):
    root = run_study(small_study(tmp_path / "s.yaml", tiny_model_dir, tmp_path / "study"), executor=ray_executor())
    got = results(root)
    assert got == serial
    assert len(got["r2"]["samples"]) == 3 * (3 + 3)  # base + 2 checkpoints, 3 val + 3 test problems
    keys = cache_keys(root)  # both runs evaluated the base at once: its generations are kept once
    assert len(keys) == len(set(keys)) == (1 + 2 + 2) * (3 + 3)  # base + 2 checkpoints per run, 6 problems
    # a second run is a no-op: every task finds its run trained and evaluated
    before = (root / "runs" / "r4" / "eval" / "samples.jsonl").stat().st_mtime_ns
    run_study(tmp_path / "s.yaml", executor=ray_executor())
    assert (root / "runs" / "r4" / "eval" / "samples.jsonl").stat().st_mtime_ns == before


@pytest.mark.slow
def test_a_killed_study_resumed_on_ray_redoes_nothing(ray, serial, tmp_path, tiny_model_dir):
    root = tmp_path / "study"
    spec = small_study(tmp_path / "s.yaml", tiny_model_dir, root)
    done = root / "runs" / "r2" / "eval" / "meta.json"  # killed after the first run (meta.json: written last), before the second trained
    assert run_until(spec, lambda: done.exists() and not (root / "runs" / "r4" / "summary.json").exists()), \
        "the study finished before the kill"
    r2_trained = (root / "runs" / "r2" / "summary.json").stat().st_mtime_ns
    r2_evaluated = done.stat().st_mtime_ns
    run_study(spec, executor=ray_executor())
    assert results(root) == serial
    keys = cache_keys(root)
    assert len(keys) == len(set(keys)), "a generation was made twice"
    assert (root / "runs" / "r2" / "summary.json").stat().st_mtime_ns == r2_trained  # not retrained
    assert done.stat().st_mtime_ns == r2_evaluated  # not re-evaluated


@pytest.mark.slow
def test_ray_kspecialist_study_equals_the_serial_one(ray, tmp_path, tiny_model_dir):
    from loralab.studies.kspecialist import run_kspecialist

    def decided(root):
        return {k: {"samples": [(r["system"], r["task_id"], r["completion"], r["passed"])
                                for r in read_jsonl(root / "runs" / k / "eval" / "samples.jsonl")],
                    "best": read_json(root / "runs" / k / "eval" / "summary.json")["best"]} for k in ("k1", "k2")} | \
            {"comparisons": read_json(root / "comparisons.json")}

    (tmp_path / "serial").mkdir()
    (tmp_path / "ray").mkdir()
    serial = run_kspecialist(write_spec(tmp_path / "serial", tiny_model_dir))
    on_ray = run_kspecialist(write_spec(tmp_path / "ray", tiny_model_dir), executor=ray_executor())
    assert decided(on_ray) == decided(serial)
    for i in range(2):  # K=2's clusters were trained as two tasks, into their own run directories
        assert (on_ray / "runs" / "k2" / "clusters" / f"cluster-{i}" / "summary.json").exists()


def test_ray_checker_gives_the_local_verdicts(ray):
    from loralab.eval.sandbox import Limits, Program, check_many
    from loralab.studies.executors import RayChecker

    programs = [Program(code=f"def f(x):\n    return x + {i % 3}\n", names={"f": "f"}, tests="assert f(1) == 2\n")
                for i in range(7)]
    seen = []
    got = RayChecker(chunk=3)(programs, limits=Limits(timeout=10), progress=seen.append)
    want = check_many(programs, workers=2, limits=Limits(timeout=10))
    assert [v.status for v in got] == [v.status for v in want] == ["failed", "passed", "failed"] * 2 + ["failed"]
    assert sorted(seen)[-1] == 7


def test_resources_follow_the_device():
    from loralab.studies.executors import run_resources

    assert run_resources("cpu", True, 2) == {"cpus": 2, "gpus": 0}
    assert run_resources("cuda", False, 1) == {"cpus": 1, "gpus": 1}
    assert run_resources("auto", True, 1) == {"cpus": 1, "gpus": 1}
    assert run_resources("auto", False, 1) == {"cpus": 1, "gpus": 0}


def refused(argv, capsys) -> str:
    code = run_cli(argv)
    text = capsys.readouterr()
    lines = [ln for ln in (text.out + text.err).splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in text.err, text
    return lines[0]


@pytest.mark.parametrize("extra,message", [
    (["--executor", "dask"], "expected one of local, ray"),
    (["--address", "auto"], "only with --executor ray"),
    (["--executor", "ray", "--address", "not an address"], "expected auto, HOST:PORT"),
])
def test_bad_executor_options_are_one_error(tmp_path, tiny_model_dir, capsys, extra, message):
    pytest.importorskip("ray")
    spec = write_study(tmp_path / "s.yaml", tiny_model_dir, tmp_path / "study")
    assert message in refused(["study", "run", str(spec), *extra], capsys)
    assert not (tmp_path / "study").exists()


def test_unreachable_cluster_is_one_error_and_no_study(tmp_path, tiny_model_dir, capsys):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # the instance the tests above share would be reused, whatever the address
        ray.shutdown()
    spec = write_study(tmp_path / "s.yaml", tiny_model_dir, tmp_path / "study")
    line = refused(["study", "run", str(spec), "--executor", "ray", "--address", "127.0.0.1:9"], capsys)
    assert "cannot attach to a Ray cluster" in line
    assert not (tmp_path / "study").exists()


def test_ray_missing_is_one_error(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as without the extra
    spec = write_study(tmp_path / "s.yaml", tiny_model_dir, tmp_path / "study")
    assert "pip install 'loralab[ray]'" in refused(["study", "run", str(spec), "--executor", "ray"], capsys)
    assert not (tmp_path / "study").exists()
