"""A study's `judge:` stage on the tiny model: a real HTTP judge, what it writes, resume, bad config.

The judge is a stand-in for the external judge LLM behind `loralab serve`'s HTTP server, with
an API key the stage must send from the variable judge.api_key_env names: it prefers the
longer answer, so its verdicts agree across the two orders and are predictable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from realdata import shared_file

from loralab.cli import run_cli
from loralab.errors import LoralabError
from loralab.io import read_json
from loralab.studies.judging import judge_run
from loralab.studies.matrix import load_study, run_study

KEY_ENV = "LORALAB_TEST_JUDGE_KEY"


class LongerAnswerJudge:
    name = "longer-answer-judge"
    tok, adapters, router, streams = None, {}, None, False

    def __init__(self):
        self.calls = 0

    def identity(self, adapter):
        return self.name

    def generate(self, requests, params):
        self.calls += len(requests)
        return [[f"The longer one.\n{self.verdict(r.messages[-1]['content'])}"] for r in requests]

    @staticmethod
    def verdict(text: str) -> str:
        """Longer block wins: the answers (turn 1) or whole conversations (turn 2) shown as A and B,
        cut at the prompt's own markers, so an answer's stray newlines cannot move the cut."""
        if "[Answer A]\n" in text:
            body = text.split("[Answer A]\n", 1)[1].rsplit("\n\nExplain your comparison", 1)[0]
            a, b = body.split("\n\n[Answer B]\n", 1)
        else:
            body = text.split("[Conversation with assistant A]\n", 1)[1].rsplit("\n\nExplain your comparison", 1)[0]
            a, b = body.split("\n\n[Conversation with assistant B]\n", 1)
        return "[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]"


@pytest.fixture
def http_judge(monkeypatch):
    from loralab.serve.http import start_server

    judge = LongerAnswerJudge()
    monkeypatch.setenv(KEY_ENV, "judge-key-123")
    with start_server(judge, model_name="longer-answer-judge", api_key="judge-key-123") as handle:
        yield judge, handle.url


def write_study(tmp_path: Path, model: Path, judge: dict, name: str = "s.yaml") -> Path:
    dolly = tmp_path / "dolly.jsonl"
    dolly.write_text("".join(json.dumps({"instruction": f"Add {i} to x.", "context": "x = 1" if i % 2 else "",
                                         "response": f"x + {i}", "category": "open_qa"}) + "\n" for i in range(20)))
    mt = tmp_path / "mt_bench.jsonl"
    mt.write_text("".join(json.dumps({"question_id": q, "turns": [f"Name a colour {q}.", "And another?"]}) + "\n"
                          for q in (81, 82)))
    spec = {"study": {"name": "judged", "out_dir": str(tmp_path / "out")},
            "base": {"model": {"name": str(model), "device": "cpu"},
                     "data": {"source": str(dolly), "format": "dolly"},
                     "train": {"max_steps": 2, "batch_size": 2, "save_steps": 2, "logging_steps": 1,
                               "max_seq_len": 96, "eval_max_examples": 2},
                     "eval": {"tasks": ["pytasks"], "limit": 1, "max_new_tokens": 6, "batch_size": 4}},
            "matrix": [{"name": "r2", "set": {"adapter.r": 2}}, {"name": "r4", "set": {"adapter.r": 4}}],
            "judge": {"instructions": [str(shared_file("judge/alpaca_eval.jsonl")), str(mt)], **judge}}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


def judge_prompts(root: Path, run: str) -> list[str]:
    """The prompts of a run's judgments, one per (question, turn, order)."""
    return [json.loads(line)["prompt"] for f in sorted(root.glob(f"runs/{run}/judge/*/judgments.jsonl"))
            for line in f.read_text().splitlines()]


def judge_keys(root: Path, name: str) -> list[str]:
    return [json.loads(line)["key"] for line in (root / "cache" / "judge" / name).read_text().splitlines()]


@pytest.mark.slow  # two tiny runs trained, evaluated, judged and re-run: 515 s at load ~20 on 2 shared cores
def test_judge_stage_end_to_end_resumes_and_reports(tiny_model_dir, tmp_path, http_judge):
    judge, url = http_judge
    settings = {"endpoint": url, "model": "longer-answer-judge", "api_key_env": KEY_ENV, "limit": 3,
                "max_new_tokens": 6, "judge_max_tokens": 8}
    spec = write_study(tmp_path, tiny_model_dir, settings)
    root = run_study(spec)
    # r2: 3 one-turn + 2 two-turn pairs, both orders. The runs share one verdict cache, so r4 calls
    # the judge only for prompts r2 did not ask (none when both checkpoints answer like the base)
    r2, r4 = judge_prompts(root, "r2"), judge_prompts(root, "r4")
    assert len(r2) == len(r4) == 14 and judge.calls == 14 + sum(p not in set(r2) for p in r4)
    for run in ("r2", "r4"):
        out = root / "runs" / run / "judge"
        summary = read_json(out / "summary.json")
        best = read_json(root / "runs" / run / "eval" / "summary.json")["best"]
        assert (summary["checkpoint"], summary["step"], summary["selected_by"]) == (best["name"], best["step"], "selected")
        assert set(summary["sets"]) == {"alpaca_eval", "mt_bench"}
        for name, s in summary["sets"].items():
            assert s["results"] == read_json(out / name / "results.json")  # the set's own loralab judge dir
            assert s["results"]["position_consistency"] == 1.0  # a consistent judge: both orders agree
        alpaca, mt = summary["sets"]["alpaca_eval"]["results"], summary["sets"]["mt_bench"]["results"]
        assert alpaca["alpaca_eval"]["n_total"] == 3 and {"win_rate", "standard_error",
                                                          "lc_win_rate_loralab_logistic"} <= set(alpaca["alpaca_eval"])
        assert mt["mt_bench"]["n"] == 4 and mt["mt_bench"]["turn_2"]["n"] == 2 and "win_rate_adjusted" in mt["mt_bench"]
        meta = read_json(out / "mt_bench" / "meta.json")
        assert meta["inputs"]["model"]["adapter"].endswith(summary["checkpoint"]) and meta["inputs"]["base"]["adapter"] is None
    from loralab.studies.runner import study_summary

    assert study_summary(root)["runs"]["r4"]["judge"] == read_json(root / "runs" / "r4" / "judge" / "summary.json")
    answers = judge_keys(root, "answers_cache.jsonl")
    assert len(answers) == len(set(answers)) == 7 + 2 * 7  # the base answers once for both runs (3 + 2 x 2 turns)

    before = {run: (root / "runs" / run / "judge" / "summary.json").read_bytes() for run in ("r2", "r4")}
    calls = judge.calls
    run_study(spec)  # a re-run: every finished set is reused, no judge call, summary untouched
    assert judge.calls == calls
    assert {run: (root / "runs" / run / "judge" / "summary.json").read_bytes() for run in ("r2", "r4")} == before

    study, runs = load_study(spec)  # limit 3 -> 4: both sets of r2 re-judged, only the 4th pair is new
    judge_run(root, "r2", runs["r2"], study.judge.model_copy(update={"limit": 4}))
    assert judge.calls == calls + 2
    assert read_json(root / "runs" / "r2" / "judge" / "summary.json")["sets"]["alpaca_eval"]["results"][
        "alpaca_eval"]["n_total"] == 4

    from loralab.report import write_report

    md, page = write_report(root)
    text = md.read_text()
    assert "## Pairwise judge versus the base" in text and "longer-answer-judge at http://127.0.0.1" in text
    rows = [line for line in text.splitlines() if line.startswith("| **r")]
    judged = [line for line in rows if "alpaca_eval" in line or "mt_bench" in line]
    assert len(judged) == 4 and all("(selected)" in line for line in judged)
    assert 'id="judge-table"' in page.read_text()


def test_checkpoint_by_validation_loss_and_last(tmp_path):
    from loralab.studies.judging import chosen_checkpoint

    run = tmp_path / "run"
    for step in (2, 4, 6):
        (run / f"checkpoint-{step}").mkdir(parents=True)
        (run / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (run / "checkpoints.json").write_text(json.dumps([
        {"step": 2, "val_loss": 1.5, "path": "checkpoint-2"}, {"step": 4, "val_loss": 1.2, "path": "checkpoint-4"},
        {"step": 6, "val_loss": 1.2, "path": "checkpoint-6"}]))
    assert chosen_checkpoint(run, "val_loss") == (run / "checkpoint-4", 4)  # a tie: the earlier step
    assert chosen_checkpoint(run, "last") == (run / "checkpoint-6", 6)
    (run / "checkpoints.json").write_text(json.dumps([{"step": 2, "val_loss": None, "path": "checkpoint-2"}]))
    with pytest.raises(LoralabError, match="no checkpoint has a validation loss; set train.eval_steps"):
        chosen_checkpoint(run, "val_loss")


@pytest.mark.parametrize("judge, needle", [
    ({"endpont": "local"}, "judge.endpont: unknown key; did you mean 'endpoint'?"),
    ({"checkpoint": "best"}, "judge.checkpoint: Input should be 'selected', 'val_loss' or 'last'"),
    ({"limit": 0}, "judge.limit: Input should be greater than or equal to 1"),
    ({"endpoint": "ftp://x"}, "judge.endpoint 'ftp://x': expected an http(s) URL"),
    ({"instructions": ["nope.jsonl"]}, "s.yaml: judge.instructions[0] nope.jsonl: no such file"),
    ({"instructions": ["bad.jsonl"]}, "bad.jsonl:1: no 'instruction', 'turns' or 'prompt' field"),
    ({"instructions": ["ok.jsonl", "sub/ok.jsonl"]}, "judge.instructions: two files share a name"),
    ({"template": "dolly"}, "data.template dolly: the judge asks both systems through the model's chat template"),
])
def test_bad_judge_config_is_one_error_and_exit_2(tmp_path, monkeypatch, capsys, judge, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.jsonl").write_text(json.dumps({"instruction": "Say hi."}) + "\n")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"colour": "blue"}) + "\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ok.jsonl").write_text(json.dumps({"instruction": "Say hi."}) + "\n")
    judge = dict(judge)
    template = judge.pop("template", "auto")
    spec = {"study": {"out_dir": "out"}, "base": {"data": {"source": "bundled:pytasks", "template": template}},
            "matrix": [{"name": "a"}], "judge": {"instructions": ["ok.jsonl"], **judge}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    assert run_cli(["study", "run", "s.yaml"]) == 2
    text = "".join(capsys.readouterr())
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in text and needle in text, text
    assert not (tmp_path / "out").exists()  # refused before the study directory is made
