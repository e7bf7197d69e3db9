"""MBPP and pytasks: reference solutions pass, wrong ones fail, prompts name the function,
the hub path is wired, bad rows are named."""

from __future__ import annotations

import json

import pytest
from realdata import shared_file

from loralab.errors import LoralabError
from loralab.eval.sandbox import Limits
from loralab.eval.tasks import check, get_task

LIMITS = Limits(timeout=3.0)


@pytest.fixture(scope="module")
def mbpp():
    return get_task("mbpp", path=str(shared_file("eval/mbpp.jsonl")), split="all")


def reference(p) -> str:
    return p.meta["code"].replace("\r\n", "\n")


def test_test_split_is_the_papers_500(mbpp):
    task = get_task("mbpp", path=str(shared_file("eval/mbpp.jsonl")))
    ids = [p.task_id for p in task.problems()]
    assert len(ids) == 500 and ids[0] == "mbpp/11" and ids[-1] == "mbpp/510"
    with pytest.raises(LoralabError, match="unknown split"):
        get_task("mbpp", split="dev")


def test_reference_solutions_pass_on_a_sample_and_on_the_awkward_problems(mbpp):
    by_id = {p.task_id: p for p in mbpp.problems()}
    # 126 defines `sum` (shadows the builtin), 533 passes `int` as an argument, 596 uses
    # `sys` from the reference's imports, 367/601/927 build the program's own classes (handles)
    awkward = ["mbpp/126", "mbpp/533", "mbpp/596", "mbpp/367", "mbpp/601", "mbpp/927"]
    sample = [p.task_id for p in mbpp.problems()[::25]]
    problems = [by_id[t] for t in awkward + sample]
    verdicts = check(mbpp, problems, [reference(p) for p in problems], workers=2, limits=LIMITS)
    assert [p.task_id for p, v in zip(problems, verdicts, strict=True) if not v.passed] == []
    assert {p.task_id for p in problems if p.meta["objects"]} == {"mbpp/367", "mbpp/601", "mbpp/927"}
    assert {mbpp.program(p, reference(p)).mode for p in problems} == {"call"}


@pytest.mark.slow
def test_every_mbpp_reference_solution_passes(mbpp):
    problems = mbpp.problems()  # mbpp/123's reference is O(n^2) up to 9999: seconds on a busy CPU
    verdicts = check(mbpp, problems, [reference(p) for p in problems], workers=2, limits=Limits(timeout=30.0))
    assert len(problems) == 974 and [p.task_id for p, v in zip(problems, verdicts, strict=True) if not v.passed] == []


def test_wrong_solutions_fail(mbpp):
    problems = mbpp.problems()[10:20]
    answers = [f"def {p.entry_point}(*args):\n    return None\n" for p in problems]
    assert not any(v.passed for v in check(mbpp, problems, answers, workers=2, limits=LIMITS))


def test_prompts_show_the_task_and_first_test(mbpp):
    p = mbpp.problems()[10]
    chat = mbpp.request(p, chat=True).messages[0]["content"]
    assert p.prompt in chat and p.meta["first_test"] in chat and "```python" in chat
    base = mbpp.request(p, chat=False).prompt
    assert base.startswith('"""\n') and p.meta["first_test"] in base and '\n"""' in mbpp.stop


def test_hub_id_goes_through_datasets(monkeypatch):
    import datasets

    rows = [{"task_id": 11, "text": "Remove first and last occurrence of a char.", "code": "def f(s):\n    return s\n",
             "test_list": ["assert f('a') == 'a'"], "test_setup_code": "", "challenge_test_list": []}]
    calls = []

    def fake_load(name, config=None, **kw):
        calls.append((name, config))
        return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    task = get_task("mbpp", path="mbpp")
    assert [p.task_id for p in task.problems()] == ["mbpp/11"] and calls == [("mbpp", "full")]



def test_without_a_path_the_hub_is_asked_and_its_failure_names_the_option(monkeypatch):
    # no default file next to the checkout: only an explicit path reads a local copy
    import datasets

    def offline(name, config=None, **kw):
        raise ConnectionError(f"offline: cannot reach the hub for {name}")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(LoralabError, match=r"mbpp: cannot load the hub dataset 'mbpp' \(ConnectionError.*"
                                           r"eval.task_options.mbpp.path"):
        get_task("mbpp").problems()

def test_pytasks_reference_solutions_pass_and_stubs_fail():
    task = get_task("pytasks")
    problems = task.problems()
    assert len(problems) >= 100
    picked = problems[::4] + [p for p in problems if p.meta["topic"] == "generators"]
    verdicts = check(task, picked, [p.meta["solution"] for p in picked], workers=2, limits=LIMITS)
    assert [p.task_id for p, v in zip(picked, verdicts, strict=True) if not v.passed] == []
    stubs = [f"```python\ndef {p.entry_point}(*a, **k):\n    return None\n```" for p in picked[:12]]
    assert not any(v.passed for v in check(task, picked[:12], stubs, workers=2, limits=LIMITS))


def test_pytasks_split_file_and_bad_rows(tmp_path):
    split = tmp_path / "test.jsonl"
    split.write_text(json.dumps({"task_id": "t1", "instruction": "Write `double(x)`.", "entry_point": "double",
                                 "tests": ["assert double(2) == 4"]}) + "\n")
    task = get_task("pytasks", split_file=str(split))
    (p,) = task.problems()
    assert check(task, [p], ["def double(x):\n    return 2 * x\n"], limits=LIMITS)[0].passed
    assert "```python" in task.request(p, chat=True).messages[0]["content"]
    split.write_text(json.dumps({"task_id": "t2", "instruction": "x"}) + "\n")
    with pytest.raises(LoralabError, match=r"test.jsonl:1: pytasks row lacks entry_point, tests"):
        get_task("pytasks", split_file=str(split)).problems()


def test_unknown_task_and_option_suggest_the_nearest():
    with pytest.raises(LoralabError, match="did you mean 'mbpp'"):
        get_task("mbp")
    with pytest.raises(LoralabError, match="did you mean 'split_file'"):
        get_task("pytasks", splitfile="x")
