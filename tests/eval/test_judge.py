"""Pairwise judge: prompts, verdict parsing, both orders over real HTTP, rates, caching and resume."""

from __future__ import annotations

import json
import re

import pytest
from realdata import shared_file

from loralab.errors import LoralabError
from loralab.eval.judge import (
    JUDGE_SYSTEM,
    Question,
    SystemSpec,
    judge_prompt,
    load_questions,
    parse_verdict,
    run_judge,
    winner,
)


def test_parse_verdict_reads_one_tag_and_never_guesses():
    assert parse_verdict("A is clearer.\n[[A]]") == "A"
    assert parse_verdict("verdict: [[ b ]]") == "B"
    assert parse_verdict("[[C]]") == "C" and parse_verdict("[[tie]]") == "C"
    assert parse_verdict("[[A]] at first, and on reflection [[A]]") == "A"
    assert parse_verdict("[[A]] ... no wait, [[B]]") is None  # conflicting: unparseable
    assert parse_verdict("Answer A is better.") is None         # no tag: unparseable
    assert parse_verdict("") is None


def test_winner_follows_the_position_swap():
    assert winner("A", model_is_a=True) == "model" and winner("A", model_is_a=False) == "base"
    assert winner("B", model_is_a=True) == "base" and winner("B", model_is_a=False) == "model"
    assert winner("C", True) == "tie" and winner(None, False) is None


def test_prompts_put_each_answer_in_its_position():
    q = Question("1", ("What is 2+2?", "And 3+3?"))
    one = judge_prompt(q, 1, ["four", "six"], ["4", "6"])
    assert one.index("[Answer A]\nfour") < one.index("[Answer B]\n4")
    two = judge_prompt(q, 2, ["four", "six"], ["4", "6"])
    assert "Assistant A: four\nUser: And 3+3?\nAssistant A: six" in two and "Assistant B: 6" in two


def test_load_real_instruction_sets():
    alpaca = load_questions(shared_file("judge/alpaca_eval.jsonl"), limit=3)
    assert len(alpaca) == 3 and len(alpaca[0].turns) == 1 and alpaca[0].reference
    mt = load_questions(shared_file("judge/mt_bench_question.jsonl"), limit=2)
    assert [len(q.turns) for q in mt] == [2, 2] and mt[0].id == "81"


def test_bad_instruction_rows_are_named(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"text": "hi"}) + "\n")
    with pytest.raises(LoralabError, match=r"q.jsonl:1: no 'instruction', 'turns' or 'prompt' field"):
        load_questions(path)


class LengthJudge:
    """A stand-in for the external judge LLM, served over real HTTP: it prefers the longer answer
    (so verdicts are consistent across orders and predictable) and counts the calls it gets."""

    name = "length-judge"
    tok, adapters, router, streams = None, {}, None, False

    def identity(self, adapter):
        return self.name

    def __init__(self):
        self.calls = 0

    def generate(self, requests, params):
        self.calls += len(requests)
        out = []
        for r in requests:
            text = r.messages[-1]["content"]
            if "[Answer A]" in text:
                a = re.search(r"\[Answer A\]\n(.*?)\n\n\[Answer B\]", text, re.S).group(1)
                b = re.search(r"\[Answer B\]\n(.*?)\n\nExplain", text, re.S).group(1)
            else:
                a = re.findall(r"Assistant A: (.*?)\n(?:User|\n)", text, re.S)[-1]
                b = re.findall(r"Assistant B: (.*?)\n\nExplain", text, re.S)[-1]
            verdict = "[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]"
            out.append([f"The longer one is better.\n{verdict}"])
        return out


@pytest.fixture
def length_judge():
    from loralab.serve.http import start_server

    judge = LengthJudge()
    with start_server(judge, model_name="length-judge") as handle:
        yield judge, handle.url


def test_alpaca_style_run_over_http_against_reference_answers(tiny_model_dir, tmp_path, length_judge):
    judge, url = length_judge
    questions = shared_file("judge/alpaca_eval.jsonl")
    model = SystemSpec("model", str(tiny_model_dir))
    res = run_judge(questions, model, SystemSpec("base", reference=True), tmp_path / "j", endpoint=url,
                    judge_model="length-judge", limit=3, max_answer_tokens=8, device="cpu")
    verdicts = [json.loads(line) for line in (tmp_path / "j" / "verdicts.jsonl").read_text().splitlines()]
    assert len(verdicts) == 3 and judge.calls == 6  # both orders of every pair
    for v in verdicts:  # a consistent judge: both orders name the longer answer
        want = "model" if v["len_model"] > v["len_base"] else "base" if v["len_base"] > v["len_model"] else "tie"
        assert v["model_first"] == v["model_second"] == want
    stats = json.loads((tmp_path / "j" / "results.json").read_text())
    assert stats["alpaca_eval"]["n_total"] == 3 and stats["position_consistency"] == 1.0
    # loralab's own LC fit, under a name nobody reads as AlpacaEval 2's "LC win rate"
    assert "lc_win_rate_loralab_logistic" in stats["alpaca_eval"] and "length_controlled_win_rate" not in stats["alpaca_eval"]
    judgments = [json.loads(line) for line in (tmp_path / "j" / "judgments.jsonl").read_text().splitlines()]
    assert {j["order"] for j in judgments} == {"model_first", "model_second"}
    assert all("[Answer A]" in j["prompt"] and j["reply"].endswith("]]") for j in judgments)
    assert "[[A]]" in (tmp_path / "j" / "judge_prompt.md").read_text()
    again = run_judge(questions, model, SystemSpec("base", reference=True), tmp_path / "j", endpoint=url,
                      judge_model="length-judge", limit=3, max_answer_tokens=8, device="cpu")
    assert judge.calls == 6 and again.stats == res.stats  # resumed from the caches: no new judge call
    # the answers in AlpacaEval's layout: model outputs and, for --base reference, the file's own outputs
    answers = {(a["system"], a["id"]): a["answer"] for a in map(json.loads, (tmp_path / "j" / "answers.jsonl").read_text().splitlines())}
    rows = [json.loads(line) for line in questions.read_text().splitlines()[:3]]
    for name, system in (("model_outputs.json", "model"), ("reference_outputs.json", "base")):
        outputs = json.loads((tmp_path / "j" / "alpaca_eval" / name).read_text())
        assert [o["instruction"] for o in outputs] == [r["instruction"] for r in rows]  # AlpacaEval joins on it
        assert [o["output"] for o in outputs] == [answers[(system, str(i))] for i in range(1, 4)]
    assert [o["output"] for o in json.loads((tmp_path / "j" / "alpaca_eval" / "reference_outputs.json").read_text())] \
        == [r["output"] for r in rows]
    assert json.loads((tmp_path / "j" / "alpaca_eval" / "model_outputs.json").read_text())[0]["generator"] == \
        f"model-{str(tiny_model_dir).replace('/', '__')}"


def test_mt_bench_style_two_turns_base_versus_adapter(tiny_model_dir, tmp_path, length_judge):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    judge, url = length_judge
    torch.manual_seed(0)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(
        r=4, init_lora_weights=False, target_modules=["q_proj", "v_proj"])).save_pretrained(tmp_path / "adapter")
    qs = tmp_path / "mt.jsonl"
    qs.write_text("".join(json.dumps({"question_id": i, "turns": [f"Name a colour {i}.", "Now another one."]}) + "\n"
                          for i in (1, 2)))
    res = run_judge(qs, SystemSpec("model", str(tiny_model_dir), str(tmp_path / "adapter")),
                    SystemSpec("base", str(tiny_model_dir)), tmp_path / "mt", endpoint=url, judge_model="length-judge",
                    max_answer_tokens=6, device="cpu")
    assert judge.calls == 8  # 2 questions x 2 turns x 2 orders
    mt = res.stats["mt_bench"]
    assert mt["n"] == 4 and mt["turn_1"]["n"] == 2 and mt["turn_2"]["n"] == 2
    assert mt["win"] + mt["loss"] + mt["tie"] == 4
    answers = [json.loads(line) for line in (tmp_path / "mt" / "answers.jsonl").read_text().splitlines()]
    assert {(a["system"], a["turn"]) for a in answers} == {("model", 1), ("model", 2), ("base", 1), ("base", 2)}
    # FastChat's model_answer/<model_id>.jsonl, read the way its llm_judge loads answers
    files = {f.stem: {r["question_id"]: r for r in map(json.loads, f.read_text().splitlines())}
             for f in (tmp_path / "mt" / "model_answer").glob("*.jsonl")}
    assert set(files) == {"model-adapter", f"base-{str(tiny_model_dir).replace('/', '__')}"}
    assert not (tmp_path / "mt" / "alpaca_eval").exists()  # two-turn questions are not AlpacaEval's
    for model_id, system in (("model-adapter", "model"), (f"base-{str(tiny_model_dir).replace('/', '__')}", "base")):
        for qid in (1, 2):  # MT-Bench's integer ids, as its question file has them
            turns = [a["answer"] for a in sorted(answers, key=lambda a: a["turn"]) if a["system"] == system and a["id"] == str(qid)]
            assert files[model_id][qid]["choices"][0]["turns"] == turns and files[model_id][qid]["model_id"] == model_id


def test_reference_base_needs_reference_outputs(tmp_path, length_judge):
    qs = tmp_path / "q.jsonl"
    qs.write_text(json.dumps({"instruction": "Say hi."}) + "\n")
    with pytest.raises(LoralabError, match="--base reference needs a one-turn 'output' per row"):
        run_judge(qs, SystemSpec("model", reference=True), SystemSpec("base", reference=True), tmp_path / "x",
                  endpoint=length_judge[1], judge_model="length-judge")


@pytest.mark.slow
def test_offline_end_to_end_with_the_embedded_model_as_local_judge(embedded_dir, tmp_path):
    """The issue's done-when: the embedded model judging offline, loaded in-process."""
    res = run_judge(shared_file("judge/alpaca_eval.jsonl"), SystemSpec("model", str(embedded_dir)),
                    SystemSpec("base", reference=True), tmp_path / "e2e", endpoint="local",
                    judge_model=str(embedded_dir), limit=2, max_answer_tokens=24, max_judge_tokens=24, device="cpu")
    print(res.describe())
    a = res.stats["alpaca_eval"]
    assert a["n_total"] + a["n_unparseable"] == 2  # every pair judged; unreadable verdicts counted, not guessed
    judgments = [json.loads(line) for line in (tmp_path / "e2e" / "judgments.jsonl").read_text().splitlines()]
    assert len(judgments) == 4 and all(j["reply"] for j in judgments)


def test_base_spec_choices(tiny_model_dir, tmp_path):
    from loralab.eval.judge import base_spec

    assert base_spec("base", "m") == SystemSpec("base", "m")
    assert base_spec("reference", "m") == SystemSpec("base", reference=True)
    (tmp_path / "ad").mkdir()
    (tmp_path / "ad" / "adapter_config.json").write_text("{}")
    assert base_spec(str(tmp_path / "ad"), "m") == SystemSpec("base", "m", adapter=str(tmp_path / "ad"))
    assert base_spec(str(tiny_model_dir), "m") == SystemSpec("base", str(tiny_model_dir))


def test_judge_command(tiny_model_dir, tmp_path, length_judge):
    from typer.testing import CliRunner

    from loralab.cli import app

    res = CliRunner().invoke(app, ["judge", str(shared_file("judge/alpaca_eval.jsonl")), "--out", str(tmp_path / "c"),
                                   "--model", str(tiny_model_dir), "--base", "reference", "--judge", length_judge[1],
                                   "--judge-model", "length-judge", "--limit", "2", "--max-new-tokens", "4",
                                   "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "position consistency 1.00" in res.output and (tmp_path / "c" / "results.json").exists()
    assert "not AlpacaEval 2's LC" in res.output


def test_local_judge_is_called_in_process_and_keyed_by_its_files(tiny_model_dir, tmp_path):
    """endpoint="local" needs no server; its verdict cache keys are those of the served judge (#14)."""
    from loralab.inference.cache import CachedGenerator
    from loralab.inference.generate import GenRequest, SamplingParams, model_identity

    qs = tmp_path / "q.jsonl"
    qs.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi."}) + "\n")
    run = lambda: run_judge(qs, SystemSpec("model", str(tiny_model_dir)), SystemSpec("base", reference=True),  # noqa: E731
                            tmp_path / "j", endpoint="local", judge_model=str(tiny_model_dir),
                            max_answer_tokens=4, max_judge_tokens=4, device="cpu")
    run()
    judged = (tmp_path / "j" / "judgments.jsonl").read_text()
    rows = [json.loads(line) for line in (tmp_path / "j" / "judge_cache.jsonl").read_text().splitlines()]
    assert len(rows) == 2  # both orders
    judgment = json.loads((tmp_path / "j" / "judgments.jsonl").read_text().splitlines()[0])
    req = GenRequest(messages=({"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": judgment["prompt"]}),
                     key=f"1:1:{judgment['order']}")

    class Fixed:  # the identity the server-backed local judge used: "local:<model files hash>"
        name, tok, adapters, router, streams = "fixed", None, {}, None, False

        def identity(self, adapter):
            return f"local:{model_identity(str(tiny_model_dir))}"

    key = CachedGenerator(Fixed(), tmp_path / "unused.jsonl", task="judge").key(req, SamplingParams(max_new_tokens=4))
    assert key in {r["key"] for r in rows}
    run()
    assert (tmp_path / "j" / "judgments.jsonl").read_text() == judged
    assert len((tmp_path / "j" / "judge_cache.jsonl").read_text().splitlines()) == 2  # the rerun hit the cache
