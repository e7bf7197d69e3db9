"""CUDA-only paths: QLoRA on a 4-bit NF4 base with the paged optimizer, bf16 autocast LoRA."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_qlora_trains_on_a_4bit_base_and_saves_a_peft_adapter(make_cfg, tiny_model_dir):
    pytest.importorskip("bitsandbytes")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from loralab.io import read_json
    from loralab.train.sft import train

    run = train(make_cfg(**{"adapter.method": "qlora", "train.max_steps": 3, "train.save_steps": 3}))
    meta, summary = read_json(run / "meta.json"), read_json(run / "summary.json")
    assert meta["optimizer"] == "PagedAdamW32bit" and meta["precision"] == "bf16"
    assert meta["quantization"]["bnb_4bit_quant_type"] == "nf4" and meta["quantization"]["bnb_4bit_use_double_quant"]
    assert summary["final_val_loss"] < summary["initial_val_loss"]
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    PeftModel.from_pretrained(base, str(run / "checkpoint-3"))  # the adapter loads on an unquantised base


def test_bf16_lora_learns_and_merges(make_cfg, tmp_path):
    from loralab.io import read_json
    from loralab.train.export import export
    from loralab.train.sft import train

    run = train(make_cfg(**{"train.max_steps": 6, "train.save_steps": 6, "train.learning_rate": 3e-3}))
    meta, summary = read_json(run / "meta.json"), read_json(run / "summary.json")
    assert meta["device"] == "cuda" and meta["precision"] == "bf16"
    assert summary["final_val_loss"] < summary["initial_val_loss"]
    assert (export(run / "checkpoint-6", tmp_path / "merged", merge=True) / "model.safetensors").is_file()
