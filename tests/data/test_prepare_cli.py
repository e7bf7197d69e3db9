"""`loralab prepare` as a user runs it: the issue's done-when checks on the real CodeAlpaca file."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from realdata import ROOT, shared_file
from typer.testing import CliRunner

from loralab.cli import app

runner = CliRunner()


def digests(out_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out_dir.iterdir())}


def test_prepare_code_alpaca_then_rerun_is_identical(tmp_path):
    src = shared_file("instruct/code_alpaca_2k.json")
    res = runner.invoke(app, ["prepare", str(src), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "kept 2015: train 1612, validation 202, test 201" in res.output
    assert "dropped 2: empty response 2" in res.output
    counts = {s: len((tmp_path / "out" / f"{s}.jsonl").read_text().splitlines()) for s in ("train", "validation", "test")}
    assert sum(counts.values()) == 2015 and counts == {"train": 1612, "validation": 202, "test": 201}
    first = digests(tmp_path / "out")

    again = runner.invoke(app, ["prepare", str(src), "--out", str(tmp_path / "out")])
    assert again.exit_code == 0 and "nothing to do" in again.output
    fresh = runner.invoke(app, ["prepare", str(src), "--out", str(tmp_path / "fresh"), "--seed", "42"])
    assert fresh.exit_code == 0 and "nothing to do" not in fresh.output
    assert digests(tmp_path / "out") == first == digests(tmp_path / "fresh")


def test_malformed_line_names_the_line_and_writes_nothing(tmp_path):
    lines = shared_file("instruct/code_alpaca_2k.json").read_text().splitlines()
    lines[41] = '        "instruction": this is not JSON,'
    bad = tmp_path / "code_alpaca_broken.json"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    # the installed console script, so the exit status and the one-line message are the user's
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "500"}  # rich wraps long paths at 80 columns
    proc = subprocess.run([str(Path(sys.executable).parent / "loralab"), "prepare", str(bad), "--out", str(out)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}:42: malformed JSON" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_options_reach_the_config(tmp_path):
    src = tmp_path / "qa.jsonl"
    src.write_text("".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(10)))
    res = runner.invoke(app, ["prepare", str(src), "--out", str(tmp_path / "out"), "--field", "instruction=question",
                              "--field", "output=answer", "--template", "plain", "--splits", "0.5,0.5,0",
                              "--seed", "3", "--max-rows", "8"])
    assert res.exit_code == 0, res.output
    assert "format alpaca, template plain" in res.output and "train 4, validation 4, test 0" in res.output
    saved = (tmp_path / "out" / "config.yaml").read_text()
    assert "seed: 3" in saved and "question: instruction" in saved and "max_rows: 8" in saved
    bad = runner.invoke(app, ["prepare", str(src), "--out", str(tmp_path / "x"), "--field", "instruction"])
    assert bad.exit_code != 0 and "expected FORMAT_FIELD=YOUR_COLUMN" in str(bad.exception)


def test_example_config_runs_from_the_project_root(tmp_path, monkeypatch):
    shared_file("instruct/code_alpaca_2k.json")
    monkeypatch.chdir(ROOT)
    res = runner.invoke(app, ["prepare", "--config", "examples/prepare_codealpaca.yaml", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "format alpaca, template alpaca" in res.output and "train 1612" in res.output
