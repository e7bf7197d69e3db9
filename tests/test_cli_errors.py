"""Bad input on every command: one `error:` line, exit 2, no traceback, nothing written.

Each case runs the real `loralab` entry point in-process (`run_cli`) from an empty working
directory holding only the inputs the case made. Model loading, serving, training and the
sandbox are replaced by a stand-in that fails the test: bad input must be refused before
any of them starts, and a missed check shows up as "stage reached", not as a hang.
"""

from __future__ import annotations

import json
import os

import pytest

from loralab.cli import run_cli

GOOD = {  # a valid file for each input slot kind
    "samples": '{"task_id": "HumanEval/0", "completion": "    pass\\n"}\n',
    "lcb_samples": '{"question_id": "q1", "code": "print(1)"}\n',
    "lcb_problems": json.dumps({"question_id": "q1", "question_content": "Print 1.", "platform": "atcoder",
                                "difficulty": "easy", "contest_date": "", "starter_code": "", "metadata": "{}",
                                "public_test_cases": json.dumps([{"input": "", "output": "1\n", "testtype": "stdin"}]),
                                "private_test_cases": "[]"}) + "\n",
    "prompts": '{"prompt": "hi"}\n',
    "rows": "".join(json.dumps({"instruction": f"Add {i} to a number.", "output": f"def f(a):\n    return a + {i}\n"}) + "\n"
                    for i in range(3)),
    "judge": '{"instruction": "Say hi."}\n',
    "run_yaml": "train:\n  max_steps: 1\n",
    "curate_yaml": "dedup:\n  threshold: 0.9\n",
    "synth_yaml": "n: 5\n",
    "study_yaml": "study:\n  out_dir: study_out\nmatrix:\n  - {name: a}\n",
}
MISSING_FIELD = {  # parses, but a row lacks what the command needs
    "samples": '{"completion": "    pass\\n"}\n',
    "lcb_samples": '{"code": "print(1)"}\n',
    "prompts": '{"text": "hi"}\n',
    "rows": '{"colour": "blue"}\n',
    "judge": '{"colour": "blue"}\n',
}
UNKNOWN_KEY = {
    "run_yaml": "train:\n  max_step: 1\n",
    "curate_yaml": "dedup:\n  treshold: 0.9\n",
    "synth_yaml": "nn: 5\n",
    "study_yaml": "study:\n  out_dir: study_out\nmatrix:\n  - {name: a}\nbogus: 1\n",
}
MALFORMED = {  # line 2 is broken
    "jsonl": '{"a": 1}\n{"a": \n',
    "yaml": "train:\n  max_steps: [1\n",
}


def in_slot_kind(kind: str) -> str:
    return "yaml" if kind.endswith("_yaml") else "jsonl"


# (case id, argv with {IN} or {OUT}, the {IN} slot's kind). Argv is otherwise valid.
FILE_SLOTS = [
    ("score-humaneval", ["score", "humaneval", "{IN}"], "samples"),
    ("score-humaneval-problems", ["score", "humaneval", "{GOOD:samples}", "--problem-file", "{IN}"], "samples"),
    ("score-mbpp", ["score", "mbpp", "{IN}"], "samples"),
    ("score-pytasks", ["score", "pytasks", "{IN}"], "samples"),
    ("score-pytasks-split", ["score", "pytasks", "{GOOD:samples}", "--split-file", "{IN}"], "rows"),
    ("score-lcb", ["score", "livecodebench", "--problems", "{GOOD:lcb_problems}", "{IN}"], "lcb_samples"),
    ("generate", ["generate", "--prompts", "{IN}", "--out", "o.jsonl"], "prompts"),
    ("config", ["config", "{IN}"], "run_yaml"),
    ("train", ["train", "{IN}"], "run_yaml"),
    ("prepare-config", ["prepare", "bundled:pytasks", "--out", "prep", "--config", "{IN}"], "run_yaml"),
    ("prepare-source", ["prepare", "{IN}", "--out", "prep"], "rows"),
    ("eval-config", ["eval", "smollm2-135m-instruct", "--config", "{IN}", "--out", "ev"], "run_yaml"),
    ("study", ["study", "run", "{IN}"], "study_yaml"),
    ("curate-dedup", ["curate", "dedup", "{IN}", "--no-semantic", "--out", "cu"], "rows"),
    ("curate-dedup-config", ["curate", "dedup", "{GOOD:rows}", "--config", "{IN}", "--out", "cu"], "curate_yaml"),
    ("curate-metrics", ["curate", "metrics", "{IN}", "--out", "cu"], "rows"),
    ("curate-contamination", ["curate", "contamination", "{IN}", "--no-embed", "--out", "cu"], "rows"),
    ("curate-compare", ["curate", "compare", "{IN}", "{GOOD:rows}", "--out", "cu"], "rows"),
    ("synth", ["synth", "{IN}", "--out", "sy", "--endpoint", "http://127.0.0.1:9/v1"], "rows"),
    ("synth-config", ["synth", "{GOOD:rows}", "--config", "{IN}", "--out", "sy"], "synth_yaml"),
    ("judge", ["judge", "{IN}", "--out", "ju"], "judge"),
    ("forgetting-source", ["forgetting", "smollm2-135m-instruct", "--task", "arc_easy", "--source", "arc_easy={IN}",
                           "--out", "fo"], "rows"),
]
DIR_SLOTS = [  # commands whose input is a directory: given a missing path or a file instead
    ("report", ["report", "{IN}"]),
    ("learn-forget", ["analyze", "learn-forget", "{IN}"]),
    ("spectrum", ["analyze", "spectrum", "{IN}", "--out", "sp"]),
    ("export", ["export", "{IN}", "--out", "ex"]),
    ("route-fit", ["route", "fit", "{IN}", "--out", "ro", "--k", "1"]),
    ("serve-router", ["serve", "--router", "{IN}"]),
    ("serve-adapter", ["serve", "--adapter", "a={IN}"]),
    ("generate-adapter", ["generate", "hi", "--adapter", "{IN}"]),
    ("judge-adapter", ["judge", "{GOOD:judge}", "--out", "ju", "--adapter", "{IN}"]),
    ("forgetting-adapter", ["forgetting", "smollm2-135m-instruct", "--adapter", "{IN}", "--out", "fo"]),
]
OUT_SLOTS = [
    ("prepare", ["prepare", "bundled:pytasks", "--out", "{OUT}"]),
    ("generate", ["generate", "--prompts", "{GOOD:prompts}", "--out", "{OUT}"]),
    ("curate-dedup", ["curate", "dedup", "{GOOD:rows}", "--no-semantic", "--out", "{OUT}"]),
    ("curate-metrics", ["curate", "metrics", "{GOOD:rows}", "--out", "{OUT}"]),
    ("curate-contamination", ["curate", "contamination", "{GOOD:rows}", "--out", "{OUT}"]),
    ("curate-compare", ["curate", "compare", "{GOOD:rows}", "{GOOD:rows}", "--out", "{OUT}"]),
    ("synth", ["synth", "{GOOD:rows}", "--out", "{OUT}"]),
    ("eval", ["eval", "smollm2-135m-instruct", "--out", "{OUT}"]),
    ("route-fit", ["route", "fit", "{GOOD:prepared}", "--out", "{OUT}"]),
    ("forgetting", ["forgetting", "smollm2-135m-instruct", "--out", "{OUT}"]),
    ("learn-forget", ["analyze", "learn-forget", "{GOOD:dir}", "--out", "{OUT}"]),
    ("spectrum", ["analyze", "spectrum", "{GOOD:dir}", "--out", "{OUT}"]),
    ("export", ["export", "{GOOD:dir}", "--out", "{OUT}"]),
    ("judge", ["judge", "{GOOD:judge}", "--out", "{OUT}"]),
    ("train", ["train", "{GOOD:run_yaml}", "--set", "train.out_dir={OUT}"]),
    ("study", ["study", "run", "{GOOD:study_yaml}", "--set", "study.out_dir={OUT}"]),
]
NUMBERS = [  # (command argv, option, bad values)
    (["score", "humaneval", "{GOOD:samples}"], "--timeout", ["-1", "0", "nan", "inf", "x"]),
    (["score", "humaneval", "{GOOD:samples}"], "--workers", ["0", "-2", "1.5"]),
    (["score", "humaneval", "{GOOD:samples}"], "--k", ["0", "1,-1", "1,x", ","]),
    (["score", "mbpp", "{GOOD:samples}"], "--timeout", ["-5"]),
    (["score", "livecodebench", "{GOOD:lcb_samples}", "--problems", "{GOOD:lcb_problems}"], "--workers", ["0"]),
    (["score", "pytasks", "{GOOD:samples}"], "--timeout", ["0"]),
    (["serve"], "--port", ["99999", "-1", "http"]),
    (["serve"], "--batch-size", ["0", "-3"]),
    (["serve"], "--queue-size", ["-1", "0"]),
    (["serve"], "--timeout", ["-5", "0"]),
    (["serve"], "--max-tokens", ["0", "-1"]),
    (["generate", "hi"], "--max-new-tokens", ["0"]),
    (["generate", "hi"], "--temperature", ["-0.5", "nan"]),
    (["prepare", "bundled:pytasks", "--out", "prep"], "--max-rows", ["0"]),
    (["prepare", "bundled:pytasks", "--out", "prep"], "--seed", ["-1"]),
    (["curate", "dedup", "{GOOD:rows}", "--out", "cu"], "--threshold", ["0", "1.5", "-0.1"]),
    (["curate", "metrics", "{GOOD:rows}", "--out", "cu"], "--sample", ["0"]),
    (["curate", "contamination", "{GOOD:rows}", "--out", "cu"], "--n", ["0"]),
    (["curate", "contamination", "{GOOD:rows}", "--out", "cu"], "--embed-threshold", ["2"]),
    (["synth", "{GOOD:rows}", "--out", "sy"], "--n", ["0"]),
    (["synth", "{GOOD:rows}", "--out", "sy"], "--rpm", ["0", "-1"]),
    (["synth", "{GOOD:rows}", "--out", "sy"], "--batch-size", ["0"]),
    (["synth", "{GOOD:rows}", "--out", "sy"], "--temperature", ["-1"]),
    (["synth", "{GOOD:rows}", "--out", "sy"], "--max-attempts", ["0"]),
    (["eval", "smollm2-135m-instruct"], "--limit", ["0", "-3"]),
    (["forgetting", "smollm2-135m-instruct"], "--limit", ["0"]),
    (["forgetting", "smollm2-135m-instruct"], "--batch-size", ["0"]),
    (["judge", "{GOOD:judge}", "--out", "ju"], "--limit", ["0"]),
    (["judge", "{GOOD:judge}", "--out", "ju"], "--max-new-tokens", ["0"]),
    (["judge", "{GOOD:judge}", "--out", "ju"], "--judge-max-tokens", ["-1"]),
    (["judge", "{GOOD:judge}", "--out", "ju"], "--batch-size", ["0"]),
    (["route", "fit", "{GOOD:prepared}", "--out", "ro"], "--k", ["0", "2,-1"]),
    (["route", "fit", "{GOOD:prepared}", "--out", "ro"], "--seed", ["-1"]),
]


def file_cases():
    for cid, argv, kind in FILE_SLOTS:
        for bad in ("missing", "directory", "empty", "blank", "binary", "latin1", "malformed"):
            yield pytest.param(argv, kind, bad, id=f"{cid}-{bad}")
        if kind in MISSING_FIELD and not cid.startswith(("score-pytasks-split", "score-humaneval-problems",
                                                         "prepare-source")):
            yield pytest.param(argv, kind, "missing_field", id=f"{cid}-missing_field")
        if kind in UNKNOWN_KEY:
            yield pytest.param(argv, kind, "unknown_key", id=f"{cid}-unknown_key")


def number_cases():
    for argv, opt, values in NUMBERS:
        for v in values:
            yield pytest.param([*argv, opt, v], id=f"{'-'.join(a for a in argv[:2] if '{' not in a)}{opt}={v}")


# ----------------------------------------------------------------------------- harness


class StageReached(AssertionError):
    pass


TRIPWIRED = ("loralab.models.load_model", "loralab.models.load_tokenizer", "loralab.serve.http.serve",
             "loralab.train.sft.train", "loralab.eval.sandbox.run", "loralab.embed.load_embedder",
             "loralab.train.export.export", "loralab.eval.judge.run_judge")


@pytest.fixture(scope="module")
def every_loralab_module():
    """Import all of loralab first, so no module binds a tripwire by `from ... import` and keeps it."""
    import importlib
    import pkgutil
    import sys

    import loralab

    for info in pkgutil.walk_packages(loralab.__path__, "loralab."):
        if info.name.endswith("__main__"):  # importing it would run the CLI
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # an optional backend (vllm) that this machine lacks
            pass
    return [m for name, m in sys.modules.items() if name.startswith("loralab")]


@pytest.fixture
def workdir(tmp_path, monkeypatch, every_loralab_module):
    """An empty working directory; every heavy stage replaced by a tripwire, wherever it was imported."""
    def tripwire(*args, **kwargs):
        raise StageReached("bad input reached the stage instead of being refused up front")

    import importlib

    originals = []
    for target in TRIPWIRED:
        module, name = target.rsplit(".", 1)
        originals.append((name, getattr(importlib.import_module(module), name)))
    for mod in every_loralab_module:
        for name, original in originals:
            if getattr(mod, name, None) is original:
                monkeypatch.setattr(mod, name, tripwire)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def good_input(root, kind: str):
    if kind == "dir":
        (root / "somedir").mkdir(exist_ok=True)
        return root / "somedir"
    if kind == "prepared":
        (root / "prepared").mkdir(exist_ok=True)
        (root / "prepared" / "train.jsonl").write_text(GOOD["rows"] * 3)
        return root / "prepared"
    path = root / f"good_{kind}.{'yaml' if kind.endswith('_yaml') else 'jsonl'}"
    path.write_text(GOOD[kind])
    return path


def bad_input(root, kind: str, bad: str):
    path = root / f"bad.{'yaml' if kind.endswith('_yaml') else 'jsonl'}"
    if bad == "missing":
        return root / "no_such_file.jsonl"
    if bad == "directory":
        path = root / "a_directory"
        path.mkdir()
        return path
    content = {"empty": b"", "blank": b"\n  \n", "binary": b"\x00\x01\x02PK\x03\x04\xff\xfe" * 64,
               "latin1": "{\"instruction\": \"caf\xe9\"}\n".encode("latin-1"),
               "malformed": MALFORMED[in_slot_kind(kind)].encode(),
               "missing_field": MISSING_FIELD.get(kind, "").encode(),
               "unknown_key": UNKNOWN_KEY.get(kind, "").encode()}[bad]
    path.write_bytes(content)
    return path


def fill(argv: list[str], root, **slots) -> list[str]:
    out = []
    for a in argv:
        for key, value in slots.items():
            a = a.replace("{" + key + "}", str(value))
        while "{GOOD:" in a:
            start = a.index("{GOOD:")
            end = a.index("}", start)
            a = a[:start] + str(good_input(root, a[start + 6:end])) + a[end + 1:]
        out.append(a)
    return out


def snapshot(root) -> dict:
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            state[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns) if name in filenames else "dir"
    return state


def assert_refused(argv, root, capsys):
    before = snapshot(root)
    code = run_cli(argv)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    errors = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert code == 2, f"exit {code} for {argv}:\n{text}"
    assert len(errors) == 1, f"expected one error: line for {argv}, got:\n{text}"
    assert "Traceback" not in text
    assert snapshot(root) == before, f"{argv} left files behind"
    return errors[0]


# ----------------------------------------------------------------------------- the cases


@pytest.mark.parametrize("argv,kind,bad", list(file_cases()))
def test_bad_input_file(workdir, capsys, argv, kind, bad):
    path = bad_input(workdir, kind, bad)
    line = assert_refused(fill(argv, workdir, IN=path), workdir, capsys)
    assert path.name in line or "--" in line  # names the file (or, for a missing field, the option)


@pytest.mark.parametrize("argv", [a for _, a in DIR_SLOTS], ids=[c for c, _ in DIR_SLOTS])
@pytest.mark.parametrize("bad", ["missing", "file"])
def test_bad_input_dir(workdir, capsys, argv, bad):
    path = workdir / "no_such_dir"
    if bad == "file":
        path = workdir / "a_file.txt"
        path.write_text("x\n")
    line = assert_refused(fill(argv, workdir, IN=path), workdir, capsys)
    assert path.name in line


@pytest.mark.parametrize("argv", [a for c, a in DIR_SLOTS if c.endswith("-adapter") and "forgetting" not in c])
def test_a_directory_that_is_no_adapter(workdir, capsys, argv):
    (workdir / "not_an_adapter").mkdir()
    line = assert_refused(fill(argv, workdir, IN=workdir / "not_an_adapter"), workdir, capsys)
    assert "not_an_adapter: not a PEFT adapter directory" in line


def out_cases():
    for cid, argv in OUT_SLOTS:
        for bad in ("under_a_file", "is_a_file", "proc", "sys"):
            if not (bad == "is_a_file" and cid == "generate"):  # its --out names a file: overwriting it is asked for
                yield pytest.param(argv, bad, id=f"{cid}-{bad}")


@pytest.mark.parametrize("argv,bad", list(out_cases()))
def test_bad_output_path(workdir, capsys, argv, bad):
    afile = workdir / "a_file.txt"
    afile.write_text("x\n")
    target = {"under_a_file": afile / "sub", "is_a_file": afile, "proc": "/proc/loralab-test/out",
              "sys": "/sys/loralab-test"}[bad]
    assert_refused(fill(argv, workdir, OUT=target), workdir, capsys)
    assert not os.path.exists("/proc/loralab-test")


@pytest.mark.parametrize("argv", list(number_cases()))
def test_bad_number(workdir, capsys, argv):
    line = assert_refused(fill(argv, workdir), workdir, capsys)
    assert argv[-2] in line  # names the option


# ----------------------------------------------------------------------------- named in issue #12


def test_empty_run_yaml_does_not_start_a_default_training(workdir, capsys):
    (workdir / "empty.yaml").write_text("# nothing yet\n")
    assert "empty" in assert_refused(["train", "empty.yaml"], workdir, capsys)


def test_train_into_another_runs_directory(workdir, capsys):
    run = workdir / "runs" / "a"
    run.mkdir(parents=True)
    from loralab.config import RunConfig, dump_config

    other = RunConfig.model_validate({"model": {"name": "other-org/other-model"}, "train": {"out_dir": str(run)}})
    (run / "config.yaml").write_text(dump_config(other))
    (run / "checkpoint-5").mkdir()
    (workdir / "r.yaml").write_text(f"train:\n  out_dir: {run}\n")
    line = assert_refused(["train", "r.yaml"], workdir, capsys)
    assert line.endswith("holds a different run (model.name: 'other-org/other-model' there, 'smollm2-135m-instruct' "
                         "here); choose another train.out_dir, or restore these keys to continue that run")


def test_train_into_a_non_empty_directory_that_is_no_run(workdir, capsys):
    (workdir / "mine").mkdir()
    (workdir / "mine" / "notes.txt").write_text("precious\n")
    (workdir / "r.yaml").write_text("train:\n  out_dir: mine\n")
    assert "not a loralab run" in assert_refused(["train", "r.yaml"], workdir, capsys)


def test_resume_without_a_run(workdir, capsys):
    (workdir / "r.yaml").write_text("train:\n  out_dir: runs/none\n")
    assert "no run to resume" in assert_refused(["train", "r.yaml", "--resume"], workdir, capsys)


def test_study_with_a_missing_model_leaves_no_study_json(workdir, capsys):
    (workdir / "s.yaml").write_text("study:\n  out_dir: st\nbase:\n  model:\n    name: ./no/such/model\n"
                                    "matrix:\n  - {name: a}\n")
    assert "model.name" in assert_refused(["study", "run", "s.yaml"], workdir, capsys)
    assert not (workdir / "st").exists()


def test_unknown_model_is_refused_before_loading(workdir, capsys):
    assert "--model" in assert_refused(["generate", "hi", "--model", "./nowhere"], workdir, capsys)
    assert "--model" in assert_refused(["serve", "--model", "no-org/no-such-model-xyz"], workdir, capsys)


@pytest.mark.parametrize("argv", [["judge", "{GOOD:judge}", "--out", "ju", "--judge", "api.openai.com"],
                                  ["synth", "{GOOD:rows}", "--out", "sy", "--endpoint", "http://127.0.0.1:99999/v1"],
                                  ["synth", "{GOOD:rows}", "--out", "sy", "--endpoint", "ftp://host/v1"]])
def test_bad_endpoint_url(workdir, capsys, argv):
    assert argv[-2] in assert_refused(fill(argv, workdir), workdir, capsys)  # names --judge / --endpoint


def test_usage_errors_are_one_line_too(workdir, capsys):
    assert "--bogus" in assert_refused(["score", "humaneval", "x.jsonl", "--bogus"], workdir, capsys)
    assert "--device" in assert_refused(["serve", "--device", "tpu"], workdir, capsys)
    assert "Missing" in assert_refused(["score", "humaneval"], workdir, capsys)


def test_the_installed_entry_point_prints_one_error_line(tmp_path):
    """The real process: stderr holds one `error:` line, exit status 2."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-m", "loralab", "serve", "--port", "99999"], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120)
    assert res.returncode == 2
    assert res.stderr.splitlines() == ["error: --port: must be <= 65535, got 99999"]
    assert json.dumps(res.stdout) == '""'
