"""The real CLI, invoked in-process."""

import json

from typer.testing import CliRunner

from loralab.cli import app

runner = CliRunner()


def test_help_lists_stages():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("doctor", "prepare", "generate", "config"):
        assert cmd in res.output


def test_doctor_reports_versions_and_assets():
    res = runner.invoke(app, ["doctor"])
    assert res.exit_code == 0, res.output
    assert "transformers" in res.output and "device (auto): cpu" in res.output
    assert "smollm2-135m-instruct" in res.output and "cache:" in res.output


def test_config_validates(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("adapter:\n  rnak: 4\n")
    res = runner.invoke(app, ["config", str(bad)])
    assert res.exit_code != 0
    assert "did you mean 'r'" in str(res.exception) or "did you mean 'r'" in res.output
    ok = runner.invoke(app, ["config", "--set", "adapter.r=4"])
    assert ok.exit_code == 0 and "r: 4" in ok.output


def test_generate_jsonl_on_tiny_model(tiny_model_dir, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "hi"}) + "\n" + json.dumps({"prompt": "def f():", "id": 7}) + "\n")
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["generate", "--prompts", str(prompts), "--out", str(out), "--model",
                              str(tiny_model_dir), "--max-new-tokens", "5"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["hi", "def f():"] and rows[1]["id"] == 7
    assert all(isinstance(r["completion"], str) for r in rows)


def test_generate_bad_prompts_file(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text('{"prompt": "ok"}\n{"prompt": \n')
    res = runner.invoke(app, ["generate", "--prompts", str(p)])
    assert res.exit_code != 0
    assert f"{p}:2: malformed JSON" in str(res.exception)
