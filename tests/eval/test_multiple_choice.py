"""Multiple-choice log-likelihood scoring: batched scores equal a direct forward pass, metrics by hand."""

from __future__ import annotations

import json
import math

import pytest
from parity import reference
from realdata import shared_file

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.eval.mc_tasks import McItem, clean_hellaswag, load_items
from loralab.eval.multiple_choice import encode_pair, evaluate_mc, loglikelihoods, score_items, summarise

# Our own WinoGrande-format items (the shared data holds none).
WINO = [
    {"sentence": "The trophy does not fit into the brown suitcase because the _ is too large.",
     "option1": "trophy", "option2": "suitcase", "answer": "1"},
    {"sentence": "Anna poured water from the bottle into the cup until the _ was full.",
     "option1": "bottle", "option2": "cup", "answer": "2"},
    {"sentence": "Sam could not lift the box onto the shelf because _ was too weak.",
     "option1": "Sam", "option2": "the box", "answer": "1"},
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from loralab.models import load_model

    model, tok = load_model(ModelConfig(name=str(tiny_model_dir), device="cpu", dtype="float32"))
    return model.eval(), tok


def direct_loglikelihood(model, tok, context: str, continuation: str) -> float:
    """One unbatched forward over context+continuation, summing log-softmax at the continuation."""
    import torch

    ctx, cont = encode_pair(tok, context, continuation)
    with torch.no_grad():
        logits = model(torch.tensor([ctx + cont])).logits[0]  # (T, V)
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return sum(logprobs[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont))


PAIRS = [
    ("Question: What is the capital of France?\nAnswer:", " Paris"),
    ("Question: What is the capital of France?\nAnswer:", " a large city on the river Seine in the north"),
    ("Roof shingle removal: A man is sitting on a roof. he", " starts pulling up roofing on a roof."),
    ("The trophy does not fit into the suitcase because the trophy", " is too large."),
    ("Answer: ", "yes"),
    ("", "Hello there"),
]


def test_batched_loglikelihoods_equal_direct_computation(tiny):
    model, tok = tiny
    want = [direct_loglikelihood(model, tok, c, x) for c, x in PAIRS]
    for batch_size in (1, 4, len(PAIRS)):
        got = loglikelihoods(model, tok, PAIRS, batch_size=batch_size)
        assert got == pytest.approx(want, abs=1e-5)
    assert all(v < 0 for v in want)


def test_truncation_keeps_the_continuation_and_the_latest_context(tiny):
    import torch

    model, tok = tiny
    context, continuation = PAIRS[1]
    ctx, cont = encode_pair(tok, context, continuation)
    assert len(ctx) + len(cont) > 15  # so max_length 14 really cuts the context
    full = (ctx + cont)[-15:]  # max_length 14 -> 14 input tokens, the last one only a target
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([full[:-1]])).logits[0].double(), -1)
    want = sum(logprobs[len(full) - 1 - len(cont) + j, t].item() for j, t in enumerate(cont))
    assert loglikelihoods(model, tok, [(context, continuation)], max_length=14) == pytest.approx([want], abs=1e-5)
    with pytest.raises(LoralabError, match="continuation of 11 tokens exceeds the model's 8-token window"):
        loglikelihoods(model, tok, [(context, continuation)], max_length=8)


def test_tokenisation_boundary_as_lm_eval_splits_it(tiny):
    _, tok = tiny
    ctx, cont = encode_pair(tok, "Question: x\nAnswer:", " yes")
    assert cont == tok(" yes", add_special_tokens=False)["input_ids"]
    assert encode_pair(tok, "Answer: ", "yes") == encode_pair(tok, "Answer:", " yes")  # trailing space moves
    assert encode_pair(tok, "", "Hi")[0] == [tok.bos_token_id]


def test_acc_and_acc_norm_on_hand_cases():
    items = [McItem("a", ["q"] * 2, [" a", " bbbb"], ["a", "bbbb"], 1),
             McItem("b", ["q"] * 3, [" x", " y", " zz"], ["x", "y", "zz"], 0)]
    lls = [-2.0, -4.0,  # raw picks 0 (wrong); per character -2 vs -1 picks 1 (right)
           -1.0, -1.0, -1.5]  # raw: tie between 0 and 1 -> first (right); normed -1, -1, -0.75 -> 2 (wrong)
    records = score_items(items, lls)
    assert [(r["pred"], r["pred_norm"], r["acc"], r["acc_norm"]) for r in records] == [(0, 1, 0.0, 1.0), (0, 2, 1.0, 0.0)]
    assert records[0]["choice_chars"] == [1, 4]
    s = summarise([{"acc": v, "acc_norm": 1.0} for v in (1.0, 0.0, 1.0, 1.0)])
    assert s["n"] == 4 and s["acc"] == pytest.approx(0.75)
    assert s["acc_stderr"] == pytest.approx(math.sqrt(0.25 / 4))  # sd(ddof=1) = .5
    assert s["acc_norm"] == 1.0 and s["acc_norm_stderr"] == 0.0


def test_hellaswag_cleaning():
    assert clean_hellaswag(" Make tea [title] Boil water. [header] Pour it ") == "Make tea. Boil water. Pour it"


def test_winogrande_partial_scoring(tiny, tmp_path):
    model, tok = tiny
    path = tmp_path / "wino.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in WINO))
    items = load_items("winogrande", str(path))
    assert items[0].contexts == ["The trophy does not fit into the brown suitcase because the trophy",
                                 "The trophy does not fit into the brown suitcase because the suitcase"]
    assert items[0].continuations == [" is too large."] * 2
    assert [it.gold for it in items] == [0, 1, 0]
    result = evaluate_mc(ModelConfig(name="unused"), "winogrande", source=str(path), model_and_tok=tiny)
    want = [direct_loglikelihood(model, tok, c, x) for c, x in zip(items[1].contexts, items[1].continuations, strict=True)]
    assert result.records[1]["loglikelihoods"] == pytest.approx(want, abs=1e-5)
    assert set(result.metrics) == {"n", "acc", "acc_stderr"}  # WinoGrande reports acc only


def test_real_arc_and_hellaswag_samples_on_the_tiny_model(tiny, tiny_model_dir, tmp_path):
    arc = shared_file("forgetting/arc_challenge_test.jsonl")
    hs = shared_file("forgetting/hellaswag_val_first1000.jsonl")
    items = load_items("arc_challenge", str(arc), limit=6)
    assert items[0].contexts[0].startswith("Question: An astronomer observes") and items[0].contexts[0].endswith("\nAnswer:")
    assert items[0].gold == 2 and items[0].continuations[2] == " Planetary days will become shorter."
    cfg = ModelConfig(name=str(tiny_model_dir), device="cpu", dtype="float32")
    result = evaluate_mc(cfg, "hellaswag", limit=6, batch_size=8, source=str(hs), out_dir=tmp_path / "hs")
    assert result.metrics["n"] == 6 and 0 <= result.metrics["acc"] <= 1
    assert all(len(r["loglikelihoods"]) == 4 for r in result.records)
    assert (tmp_path / "hs" / "samples.jsonl").exists() and (tmp_path / "hs" / "meta.json").exists()
    again = evaluate_mc(cfg, "hellaswag", limit=6, source=str(hs), out_dir=tmp_path / "hs", model_and_tok=None)
    assert again.metrics == pytest.approx(result.metrics)  # read back, the model never loaded again


def test_hub_layouts_from_local_dataset_directories(tmp_path):
    import datasets

    hub_hs = {"ind": 4, "activity_label": "High jump", "ctx_a": "The boy lifts his body above the height of a pole.",
              "ctx_b": "the boy", "ctx": "", "endings": ["turns around.", "gets up [title] now."], "label": "1"}
    (tmp_path / "hs").mkdir()
    (tmp_path / "hs" / "validation.jsonl").write_text(json.dumps(hub_hs) + "\n")
    item = load_items("hellaswag", str(tmp_path / "hs"))[0]
    assert item.contexts[0] == "High jump: The boy lifts his body above the height of a pole. The boy"
    assert item.choice_texts == ["turns around.", "gets up. now."] and item.gold == 1 and item.id == "4"
    arc = {"id": "q1", "question": "2+2?", "choices": {"text": ["3", "4"], "label": ["1", "2"]}, "answerKey": "2"}
    datasets.DatasetDict({"test": datasets.Dataset.from_list([arc])}).save_to_disk(str(tmp_path / "arc"))
    assert load_items("arc_easy", str(tmp_path / "arc"))[0].gold == 1


def test_bad_rows_name_the_source_and_row(tmp_path):
    path = tmp_path / "arc.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "q", "choices": [{"label": "A", "text": "t"}], "answerKey": "Z"}) + "\n")
    with pytest.raises(LoralabError, match=r"arc.jsonl: row 1: not a arc_challenge item \(answerKey 'Z'"):
        load_items("arc_challenge", str(path))
    path.write_text(json.dumps({"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"}) + "\n")
    with pytest.raises(LoralabError, match="row 1.*exactly one '_'"):
        load_items("winogrande", str(path))
    with pytest.raises(LoralabError, match="unknown multiple-choice task 'mmlu'"):
        load_items("mmlu", str(path))


def test_agrees_with_lm_evaluation_harness(tiny, tiny_model_dir):
    """lm-eval's own HF scorer on the same (context, continuation) pairs; no dataset download needed."""
    reference("lm_eval")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model, tok = tiny
    pairs = [p for p in PAIRS if p[0]]  # lm-eval prefixes empty contexts with its own EOT token
    lm = HFLM(pretrained=str(tiny_model_dir), device="cpu", dtype="float32", batch_size=4)
    reqs = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    want = [ll for ll, _ in lm.loglikelihood(reqs, disable_tqdm=True)]
    assert loglikelihoods(model, tok, pairs, batch_size=3) == pytest.approx(want, abs=1e-4)


@pytest.mark.slow
def test_real_model_on_50_arc_items(embedded_dir, tmp_path):
    arc = shared_file("forgetting/arc_challenge_test.jsonl")
    cfg = ModelConfig(name=str(embedded_dir), device="cpu", dtype="float32")
    result = evaluate_mc(cfg, "arc_challenge", limit=50, batch_size=16, source=str(arc))
    print(result.summary())
    # SmolLM2-135M-Instruct is near chance on ARC-Challenge (~0.25-0.35 reported); a broken
    # scorer lands far from that (e.g. always the shortest answer) or at exactly 0/1.
    assert 0.12 <= result.metrics["acc"] <= 0.5 and 0.12 <= result.metrics["acc_norm"] <= 0.55


def test_run_sweep_scores_base_lora_and_full_checkpoints(tiny_model_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from loralab.config import RunConfig
    from loralab.eval.multiple_choice import evaluate_mc_run

    hs = shared_file("forgetting/hellaswag_val_first1000.jsonl")
    wino = tmp_path / "wino.jsonl"
    wino.write_text("".join(json.dumps(r) + "\n" for r in WINO))
    run = tmp_path / "run"
    torch.manual_seed(3)
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(
        r=4, init_lora_weights=False, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(run / "checkpoint-1")
    full = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        full.model.layers[0].mlp.up_proj.weight.mul_(3.0)
    full.save_pretrained(run / "checkpoint-2")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(run / "checkpoint-2")  # as training saves it
    (run / "checkpoints.json").write_text(json.dumps([{"step": 1, "path": "checkpoint-1"}, {"step": 2, "path": "checkpoint-2"}]))
    cfg = RunConfig.model_validate({"model": {"name": str(tiny_model_dir), "device": "cpu", "dtype": "float32"},
                                    "eval": {"limit": 3, "batch_size": 4, "task_options": {
                                        "hellaswag": {"source": str(hs)}, "wg": {"source": str(wino)}}}})
    out = evaluate_mc_run(run, cfg, ["hellaswag", "wg=winogrande"], tmp_path / "mc")
    summary = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in summary["systems"]] == ["base", "checkpoint-1", "checkpoint-2"]
    base = summary["systems"][0]
    assert base["mean_primary"] == pytest.approx((base["tasks"]["hellaswag"]["acc_norm"] + base["tasks"]["wg"]["acc"]) / 2)
    lls = {s["name"]: json.loads((out / s["name"] / "wg" / "samples.jsonl").read_text().splitlines()[0])["loglikelihoods"]
           for s in summary["systems"]}
    # each system's scores equal a fresh load of exactly that model: the adapter was on, then off again
    for name, mcfg in [("base", cfg.model), ("checkpoint-1", cfg.model.model_copy(update={"adapter": str(run / "checkpoint-1")})),
                       ("checkpoint-2", cfg.model.model_copy(update={"name": str(run / "checkpoint-2")}))]:
        fresh = evaluate_mc(mcfg, "winogrande", limit=3, source=str(wino))
        assert lls[name] == pytest.approx(fresh.records[0]["loglikelihoods"], abs=1e-5)
    assert lls["checkpoint-1"] != pytest.approx(lls["base"], abs=1e-4) and lls["checkpoint-2"] != pytest.approx(lls["base"], abs=1e-4)


def test_forgetting_command_on_the_tiny_model(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from loralab.cli import app

    arc = shared_file("forgetting/arc_challenge_test.jsonl")
    out = tmp_path / "f"
    res = CliRunner().invoke(app, ["forgetting", str(tiny_model_dir), "--task", "arc_challenge", "--source",
                                   f"arc_challenge={arc}", "--limit", "4", "--out", str(out),
                                   "--set", "model.device=cpu", "--set", "model.dtype=float32"])
    assert res.exit_code == 0, res.output
    assert "arc_challenge (acc_norm)" in res.output and "base" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["systems"][0]["tasks"]["arc_challenge"]["n"] == 4
    bad = CliRunner().invoke(app, ["forgetting", str(tiny_model_dir), "--source", "nonsense"])
    assert bad.exit_code != 0 and "expected TASK=FILE_OR_HUB_ID" in str(bad.exception)
