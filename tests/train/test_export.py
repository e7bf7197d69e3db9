"""`loralab export --merge`: the merged model, loaded by plain transformers, computes what base + adapter does."""

from __future__ import annotations

import pytest

from loralab.errors import LoralabError
from loralab.io import read_json
from loralab.train.export import export
from loralab.train.sft import train


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_merged_logits_equal_base_plus_adapter(make_cfg, tiny_model_dir, tmp_path, method):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = train(make_cfg(**{"adapter.method": method, "adapter.target_modules": "all-linear", "train.max_steps": 2,
                            "train.learning_rate": 0.05}))
    merged_dir = export(run / "checkpoint-2", tmp_path / "merged", merge=True)
    assert (merged_dir / "model.safetensors").is_file() and not list(merged_dir.glob("adapter_*"))
    assert read_json(merged_dir / "loralab_export.json")["base_model"] == str(tiny_model_dir)

    ids = AutoTokenizer.from_pretrained(merged_dir)("def add(a, b):\n    return a + b", return_tensors="pt").input_ids
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        plain = base(ids).logits
        with_adapter = PeftModel.from_pretrained(base, str(run / "checkpoint-2"))(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_dir)(ids).logits
    assert (with_adapter - plain).abs().max() > 1e-3  # the adapter changes the output...
    torch.testing.assert_close(merged, with_adapter, atol=1e-5, rtol=1e-5)  # ...and the merge keeps the change


def test_full_checkpoint_exports_without_resume_state(make_cfg, tmp_path):
    run = train(make_cfg(**{"adapter.method": "full", "train.max_steps": 1}))
    out = export(run / "checkpoint-1", tmp_path / "model", merge=True)
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= names
    assert not names & {"optimizer.pt", "scheduler.pt", "trainer_state.json", "rng_state_0.pth"}
    with pytest.raises(LoralabError, match="not a checkpoint"):
        export(tmp_path, tmp_path / "x")
