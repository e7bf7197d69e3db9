"""The Dolly-15k recipe through `prepare`: Dolly's layout (the stand-in of scripts/dolly_standin.py
built from real CodeAlpaca rows), empty rows dropped, asks stripped, the context folded into the
prompt, {"text"} JSONL, seed 42, 80/10/10."""

from __future__ import annotations

import json

from realdata import ROOT, load_script, shared_file

from loralab.config import DataConfig, ModelConfig
from loralab.data.prepare import prepare, split_counts

standin = load_script(ROOT / "scripts" / "dolly_standin.py")


def rows(out, split):
    return [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]


def test_standin_has_dollys_layout_and_is_written_under_the_given_path(tmp_path):
    src = shared_file("instruct/code_alpaca_2k.json")
    assert standin.main(["--source", str(src), "--rows", "400", "--out", str(tmp_path / "d.jsonl")]) == 0
    written = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    source = json.loads(src.read_text())[:400]
    assert len(written) == 400 and all(set(r) == {"instruction", "context", "response", "category"} for r in written)
    assert [r["response"] for r in written] == [s["output"] for s in source]  # copied as they are
    assert {r["category"] for r in written if r["context"].strip()} == {"closed_qa"}
    assert standin.main(["--source", str(tmp_path / "nope.json")]) == 2


def test_dolly_recipe_drops_strips_folds_the_context_and_splits_80_10_10(tmp_path):
    src = tmp_path / "dolly.jsonl"
    standin.main(["--source", str(shared_file("instruct/code_alpaca_2k.json")), "--rows", "400", "--out", str(src)])
    raw = [json.loads(line) for line in src.read_text().splitlines()]
    # the recipe's template (### Instruction / ### Context / ### Response)
    result = prepare(DataConfig(source=str(src), format="dolly", template="dolly"), tmp_path / "out")
    empty = sum(not r["instruction"].strip() or not r["response"].strip() for r in raw)
    assert empty == 1 and result.dropped == {"empty response": 1}  # CodeAlpaca row 237 has no output
    assert tuple(result.counts.values()) == split_counts(399, (0.8, 0.1, 0.1)) == (319, 40, 40)
    assert (result.format, result.template) == ("dolly", "dolly")
    out = [r for s in ("train", "validation", "test") for r in rows(tmp_path / "out", s)]
    by_instruction = {r["instruction"].strip(): r for r in raw}
    with_context = [r for r in out if r["context"]]
    assert with_context and len(with_context) < len(out)
    for r in out:
        assert r["text"] == r["prompt"] + r["response"]  # the {"text"} JSONL the trainer reads
        assert r["instruction"] == r["instruction"].strip() and r["context"] == r["context"].strip()
        assert r["instruction"] == by_instruction[r["instruction"]]["instruction"].strip()
        assert f"### Instruction:\n{r['instruction']}\n\n" in r["prompt"]
        assert (f"### Context:\n{r['context']}\n\n### Response:\n" in r["prompt"]) == bool(r["context"])
    again = prepare(DataConfig(source=str(src), format="dolly", template="dolly", seed=42), tmp_path / "out")
    assert again.reused  # seed 42 and 80/10/10 are the defaults: the same preparation


def test_dolly_rows_in_the_chat_template_ask_the_context_after_the_instruction(tmp_path, tiny_model_dir):
    src = tmp_path / "dolly.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"instruction": "  When was it built? ", "context": " The tower was built in 1889.\n", "response": "In 1889.",
         "category": "closed_qa"},
        {"instruction": "Name a colour.", "context": "", "response": "Blue.", "category": "open_qa"},
        {"instruction": "", "context": "x", "response": "y", "category": "open_qa"}] * 4))
    result = prepare(DataConfig(source=str(src)), tmp_path / "out", model_cfg=ModelConfig(name=str(tiny_model_dir)))
    assert (result.format, result.template, result.dropped) == ("dolly", "chat", {"empty instruction": 4})
    kept = [r for s in ("train", "validation", "test") for r in rows(tmp_path / "out", s)]
    asked = next(r for r in kept if r["context"])
    assert "When was it built?\n\nThe tower was built in 1889.<|im_end|>" in asked["prompt"]
    assert asked["text"].endswith("In 1889.")
