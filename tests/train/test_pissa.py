"""PiSSA/OLoRA adapters are saved as plain LoRA: on the *unmodified* base they are the trained model.

PiSSA (and OLoRA) rewrite the base into W_res = W - s B0 A0 while training. A checkpoint
saved as is holds B, A for W_res; PEFT re-derives W_res when one such adapter is loaded
alone, but two on one base (loralab eval, serve), vLLM and any tool that applies the
tensors to W get another model. So every checkpoint is converted to the rank-2r LoRA
[B | -B0] [A ; A0] on W, and these tests load checkpoints every way a tool does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from loralab.errors import LoralabError
from loralab.train.export import export
from loralab.train.lora import split_plain_lora
from loralab.train.sft import Recipe, train

# Constant LR without warm-up: a 2-step run is the first half of a 4-step run, so its
# in-memory model is what checkpoint-2 of the 4-step run must reproduce. CPU: fp32 everywhere (on a
# bf16 GPU run W_res itself is rounded to bf16, so the saved adapter matches only to that rounding).
SETS = {"model.device": "cpu", "adapter.target_modules": "all-linear", "adapter.r": 4, "adapter.dropout": 0.0,
        "train.learning_rate": 0.02, "train.scheduler": "constant", "train.warmup_ratio": 0, "train.save_steps": 2}


def trained_in_memory(cfg):
    """train(cfg), keeping the trained model (still PiSSA/OLoRA: W_res + s B A) for comparison."""
    recipe = Recipe(cfg, Path(cfg.train.out_dir), resume=False)
    try:
        recipe.setup_data()
        recipe.setup_model()
        recipe.setup_optimizer()
        recipe.train()
        recipe.cleanup()
        return recipe.accelerator.unwrap_model(recipe.model).eval()
    finally:
        recipe.release()


def probe(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)("def add(a, b):\n    return a + b  # sum", return_tensors="pt").input_ids


def logits(model, ids):
    import torch

    with torch.no_grad():
        return model(ids).logits


def applied_by_hand(base_dir: Path, adapter_dir: Path):
    """What vLLM or llama.cpp's converter does: W + (alpha/r) B A from the files alone, no PEFT."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / (config["r"] ** 0.5 if config["use_rslora"] else config["r"])
    tensors = load_file(adapter_dir / "adapter_model.safetensors")
    with torch.no_grad():
        for key, a in tensors.items():
            if ".lora_A." in key:
                b = tensors[key.replace(".lora_A.", ".lora_B.")]
                module = model.get_submodule(key.removeprefix("base_model.model.").split(".lora_A.")[0])
                module.weight += scale * b @ a
    return model


@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_saved_adapters_reproduce_the_trained_model_on_the_original_base(make_cfg, tiny_model_dir, tmp_path, init):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = probe(tiny_model_dir)
    half = trained_in_memory(make_cfg(run="half", **SETS, **{"adapter.init": init, "train.max_steps": 2}))
    full = trained_in_memory(make_cfg(run="full", **SETS, **{"adapter.init": init, "train.max_steps": 4}))
    want = {"checkpoint-2": logits(half, ids), "checkpoint-4": logits(full, ids)}
    run = tmp_path / "full"
    plain = logits(AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), ids)
    assert (want["checkpoint-4"] - plain).abs().max() > 1e-3  # it trained

    for name in want:
        torch.testing.assert_close(logits(applied_by_hand(tiny_model_dir, run / name), ids), want[name],
                                   atol=1e-4, rtol=1e-4)
        config = json.loads((run / name / "adapter_config.json").read_text())
        assert config["init_lora_weights"] is True and config["r"] == 8  # a plain LoRA of rank 2r

    # Both checkpoints as named adapters on one original base, as loralab eval and serve load them.
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(run / "checkpoint-2"),
                                      adapter_name="checkpoint-2")
    model.load_adapter(str(run / "checkpoint-4"), adapter_name="checkpoint-4")
    model.eval()
    for name in want:
        model.set_adapter(name)
        torch.testing.assert_close(logits(model, ids), want[name], atol=1e-4, rtol=1e-4)
    with model.disable_adapter():
        torch.testing.assert_close(logits(model, ids), plain, atol=0, rtol=0)  # the base itself is untouched

    merged = export(run / "checkpoint-4", tmp_path / "merged", merge=True)
    torch.testing.assert_close(logits(AutoModelForCausalLM.from_pretrained(merged).eval(), ids), want["checkpoint-4"],
                               atol=1e-4, rtol=1e-4)


def test_pissa_with_dora_keeps_its_magnitudes(make_cfg, tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = probe(tiny_model_dir)
    model = trained_in_memory(make_cfg(**SETS, **{"adapter.init": "pissa", "adapter.method": "dora",
                                                  "train.max_steps": 2}))
    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                       str(tmp_path / "run" / "checkpoint-2")).eval()
    torch.testing.assert_close(logits(loaded, ids), logits(model, ids), atol=1e-4, rtol=1e-4)


def test_pissa_resume_matches_an_uninterrupted_run(make_cfg, tmp_path):
    cfg = make_cfg(**SETS, **{"adapter.init": "pissa", "train.max_steps": 4})
    run = train(cfg)
    uninterrupted = load_file(run / "checkpoint-4" / "adapter_model.safetensors")
    _forget_after_checkpoint_2(run)  # resume reads only checkpoint-2 and the run files
    train(cfg, resume=True)
    resumed = load_file(run / "checkpoint-4" / "adapter_model.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    assert max((resumed[k] - uninterrupted[k]).abs().max().item() for k in resumed) <= 1e-6

    # A checkpoint an older loralab wrote (unconverted: A, B for W_res, init "pissa") resumes too.
    ck2 = run / "checkpoint-2"
    converted, config = load_file(ck2 / "adapter_model.safetensors"), json.loads((ck2 / "adapter_config.json").read_text())
    save_file(split_plain_lora(converted)[0], ck2 / "adapter_model.safetensors", metadata={"format": "pt"})
    config.update(r=config["r"] // 2, lora_alpha=config["lora_alpha"] / 2, init_lora_weights="pissa")
    (ck2 / "adapter_config.json").write_text(json.dumps(config))
    _forget_after_checkpoint_2(run)
    train(cfg, resume=True)
    resumed = load_file(run / "checkpoint-4" / "adapter_model.safetensors")
    assert max((resumed[k] - uninterrupted[k]).abs().max().item() for k in resumed) <= 1e-6

    # A checkpoint whose A0, B0 are not what the base decomposes into cannot be continued exactly.
    key = next(k for k in converted if ".lora_A." in k)
    converted[key][-1] += 1.0  # the last row belongs to A0
    save_file(converted, ck2 / "adapter_model.safetensors", metadata={"format": "pt"})
    config.update(r=config["r"] * 2, lora_alpha=config["lora_alpha"] * 2, init_lora_weights=True)
    (ck2 / "adapter_config.json").write_text(json.dumps(config))
    _forget_after_checkpoint_2(run)
    with pytest.raises(LoralabError, match="re-derived from the base differs"):
        train(cfg, resume=True)


def _forget_after_checkpoint_2(run: Path) -> None:
    """The run as if killed right after checkpoint-2 was written."""
    shutil.rmtree(run / "checkpoint-4")
    (run / "summary.json").unlink()


def test_inits_that_cannot_be_saved_faithfully_are_refused(make_cfg, tmp_path):
    with pytest.raises(LoralabError, match="adapter.init: pissa with method qlora"):
        train(make_cfg(**{"adapter.init": "pissa", "adapter.method": "qlora", "model.device": "cpu"}))
    with pytest.raises(LoralabError, match="adapter.init: olora initialises a new adapter, but model.adapter"):
        train(make_cfg(**{"adapter.init": "olora", "model.adapter": str(tmp_path / "some-adapter")}))


def test_export_converts_an_adapter_saved_unconverted(tiny_model_dir, tmp_path):
    """Checkpoints from before the fix (plain save_pretrained of a PiSSA model) become usable on W."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    ids = probe(tiny_model_dir)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights="pissa"))
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))  # as if trained
    want = logits(model.eval(), ids)
    model.save_pretrained(tmp_path / "legacy")
    out = export(tmp_path / "legacy", tmp_path / "converted")
    assert json.loads((out / "adapter_config.json").read_text())["init_lora_weights"] is True
    torch.testing.assert_close(logits(applied_by_hand(tiny_model_dir, out), ids), want, atol=1e-4, rtol=1e-4)
    twice = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(out), adapter_name="x")
    twice.load_adapter(str(out), adapter_name="y")  # a second load no longer rewrites the base
    twice.set_adapter("y")
    torch.testing.assert_close(logits(twice.eval(), ids), want, atol=1e-4, rtol=1e-4)
