"""QLoRA on the CPU: bitsandbytes (>= 0.50) runs NF4 Linear4bit layers there, so the whole path runs here.

Train a few steps on a 4-bit NF4 base, reload the adapter, evaluate the run, export --merge
(which dequantizes: the adapter goes onto the full-precision base, and the export says so).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from loralab.cli import app
from loralab.errors import LoralabError
from loralab.io import read_json

pytest.importorskip("bitsandbytes")
runner = CliRunner()


def test_qlora_trains_on_cpu_reloads_evaluates_and_exports_dequantized(make_cfg, tiny_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from loralab.train.sft import train

    run = train(make_cfg(**{"adapter.method": "qlora", "model.device": "cpu", "train.max_steps": 4,
                            "train.save_steps": 4, "train.learning_rate": 3e-3}))
    meta, summary = read_json(run / "meta.json"), read_json(run / "summary.json")
    assert meta["device"] == "cpu" and meta["optimizer"] == "AdamW"  # no paged optimizer off CUDA
    assert meta["quantization"]["bnb_4bit_quant_type"] == "nf4" and meta["quantization"]["load_in_4bit"]
    assert summary["final_val_loss"] < summary["initial_val_loss"]
    ckpt = run / "checkpoint-4"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    reloaded = PeftModel.from_pretrained(base, str(ckpt))  # the adapter loads on an unquantised base
    assert any("lora_A" in n for n, _ in reloaded.named_parameters())

    res = runner.invoke(app, ["eval", str(run), "--task", "humaneval", "--limit", "2", "--set", "eval.max_new_tokens=8"])
    assert res.exit_code == 0, res.output
    names = [s["name"] for s in read_json(run / "eval" / "summary.json")["systems"]]
    assert names == ["base", "checkpoint-4"]

    res = runner.invoke(app, ["export", str(ckpt), "--merge", "--out", str(tmp_path / "merged")])
    assert res.exit_code == 0, res.output
    assert "merged into the full-precision base (dequantized)" in " ".join(res.output.split())
    record = read_json(tmp_path / "merged" / "loralab_export.json")
    assert record["merged"] and record["trained_on"] == "4-bit nf4 base"
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert getattr(merged.config, "quantization_config", None) is None  # plain float weights, loads anywhere


def test_qlora_refuses_mps_clearly():
    from loralab.config import AdapterConfig
    from loralab.train.lora import quantization_config

    with pytest.raises(LoralabError, match="qlora needs CUDA or the CPU .* on 'mps'"):
        quantization_config(AdapterConfig(method="qlora"), "mps")
