"""Spectrum of ΔW on the tiny model: LoRA via QR equals an explicit SVD, full fine-tunes have higher rank."""

from __future__ import annotations

import json

import pytest

from loralab.analysis.spectrum import (
    analyze_spectrum,
    effective_rank,
    lora_singular_values,
    rank_for_energy,
    resolve_run,
    run_spectrum,
)
from loralab.errors import LoralabError

R = 4


def _base(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype="float32")


def _adapter(tiny_model_dir, out, **lora_kwargs):
    """A PEFT adapter with random A and B (init_lora_weights=False), saved; returns PEFT's own ΔW per module."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    model = get_peft_model(_base(tiny_model_dir), LoraConfig(
        r=R, lora_alpha=8, init_lora_weights=False, target_modules=["q_proj", "v_proj", "up_proj"], **lora_kwargs))
    model.save_pretrained(out)
    deltas = {}
    for name, module in model.named_modules():
        if hasattr(module, "get_delta_weight") and "default" in getattr(module, "lora_A", {}):
            deltas[name.removeprefix("base_model.model.")] = module.get_delta_weight("default").detach()
    return model, deltas


def test_rank_arithmetic_by_hand():
    assert rank_for_energy([3.0, 1.0]) == 1          # 9 / 10 = 0.9 exactly
    assert rank_for_energy([2.0, 2.0, 1.0]) == 3     # 8 / 9 < 0.9
    assert rank_for_energy([0.0, 0.0]) == 0
    assert effective_rank([1.0] * 5) == pytest.approx(5.0)
    assert effective_rank([1.0, 0.0]) == pytest.approx(1.0)


def test_qr_core_gives_the_exact_singular_values():
    import torch

    torch.manual_seed(0)
    a, b = torch.randn(R, 50), torch.randn(70, R)
    want = torch.linalg.svdvals(2.5 * b.double() @ a.double())[:R]
    assert torch.allclose(lora_singular_values(a, b, 2.5), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kwargs", [{}, {"use_rslora": True},
                                    {"rank_pattern": {"v_proj": 2}, "alpha_pattern": {"up_proj": 3}}])
def test_lora_spectrum_equals_svd_of_peft_delta(tiny_model_dir, tmp_path, kwargs):
    import torch

    _, deltas = _adapter(tiny_model_dir, tmp_path / "lora", **kwargs)
    run = run_spectrum(tmp_path / "lora", tiny_model_dir)
    assert run.kind == "lora" and {m.name for m in run.matrices} == set(deltas) and len(deltas) == 6
    for m in run.matrices:
        full = torch.linalg.svdvals(deltas[m.name].double())                   # every singular value
        r = len(m.singular_values)
        assert r == (2 if m.name.endswith("v_proj") and kwargs.get("rank_pattern") else R)
        assert torch.allclose(torch.tensor(m.singular_values, dtype=torch.float64), full[:r], rtol=1e-5, atol=1e-6)
        assert full[r:].max() < 1e-5 * full[0]                                 # the change has rank <= r
        metrics = m.metrics()
        assert 1 <= metrics["rank_90"] <= r and metrics["rel_change"] > 0


def test_dora_spectrum_equals_merged_minus_base(tiny_model_dir, tmp_path):
    import torch

    model, _ = _adapter(tiny_model_dir, tmp_path / "dora", use_dora=True)
    merged = model.merge_and_unload().state_dict()
    base = _base(tiny_model_dir).state_dict()
    run = run_spectrum(tmp_path / "dora", tiny_model_dir)
    assert run.kind == "dora"
    for m in run.matrices:
        want = torch.linalg.svdvals((merged[m.name + ".weight"] - base[m.name + ".weight"]).double())
        assert torch.allclose(torch.tensor(m.singular_values, dtype=torch.float64), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(LoralabError, match="DoRA adapter's weight change depends on the base weights; pass --base"):
        run_spectrum(tmp_path / "dora", None)


def _full_finetune(tiny_model_dir, out, noise=1e-2):
    """A stand-in full fine-tune: every block matrix moved by dense random noise (full rank)."""
    import torch

    model = _base(tiny_model_dir)
    torch.manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".layers." in name and p.ndim == 2:
                p.add_(noise * torch.randn_like(p))
    model.save_pretrained(out)
    return out


def test_full_finetune_has_higher_rank_than_lora_and_all_files_are_written(tiny_model_dir, tmp_path):
    _adapter(tiny_model_dir, tmp_path / "runs" / "lora" / "checkpoint-10")
    (tmp_path / "runs" / "lora" / "checkpoint-2").mkdir()  # an older checkpoint: the run dir resolves to step 10
    _full_finetune(tiny_model_dir, tmp_path / "full")
    res = analyze_spectrum([tmp_path / "runs" / "lora", tmp_path / "full"], tmp_path / "out", base=str(tiny_model_dir))
    lora, full = (r.summary() for r in res.runs)
    assert lora["label"] == "lora/checkpoint-10" and full["kind"] == "full"
    assert full["n_matrices"] == 14 and lora["n_matrices"] == 6  # 7 matrices x 2 layers; embeddings left out
    assert lora["rank_90_max"] <= R < full["rank_90_median"]
    for name in ("spectrum.json", "spectrum.csv", "spectrum.md", "spectrum.png", "singular_values.npz", "meta.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    data = json.loads((tmp_path / "out" / "spectrum.json").read_text())
    assert [r["kind"] for r in data["runs"]] == ["lora", "full"]
    assert len((tmp_path / "out" / "spectrum.csv").read_text().splitlines()) == 1 + 6 + 14
    md = (tmp_path / "out" / "spectrum.md").read_text()
    assert "| q_proj |" in md and "| model.layers.1.mlp.down_proj | 64x128 | — |" in md


def test_merged_lora_seen_as_a_full_model_keeps_its_low_rank(tiny_model_dir, tmp_path):
    model, _ = _adapter(tiny_model_dir, tmp_path / "lora")
    model.merge_and_unload().save_pretrained(tmp_path / "merged")
    run = run_spectrum(tmp_path / "merged", tiny_model_dir)
    assert run.kind == "full" and len(run.matrices) == 6  # unchanged matrices are skipped
    for m in run.matrices:
        s = m.singular_values
        assert m.metrics()["rank_90"] <= R and s[R] < 1e-3 * s[0]  # beyond r only float32 rounding


def test_bad_inputs_are_one_clear_error(tiny_model_dir, tmp_path):
    _full_finetune(tiny_model_dir, tmp_path / "full")
    with pytest.raises(LoralabError, match="full fine-tune's weight change needs the base model"):
        run_spectrum(tmp_path / "full", None)
    with pytest.raises(LoralabError, match="no such run or checkpoint directory"):
        resolve_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoralabError, match="neither a PEFT adapter"):
        resolve_run(tmp_path / "empty")


def test_analyze_spectrum_command(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from loralab.cli import app

    _adapter(tiny_model_dir, tmp_path / "lora")
    _full_finetune(tiny_model_dir, tmp_path / "full")
    res = CliRunner().invoke(app, ["analyze", "spectrum", str(tmp_path / "lora"), str(tmp_path / "full"),
                                   "--base", str(tiny_model_dir), "--out", str(tmp_path / "out"),
                                   "--label", "LoRA r=4", "--label", "full FT"])
    assert res.exit_code == 0, res.output
    assert "| LoRA r=4 | lora | 6 | 4 |" in res.output and "| full FT | full | 14 |" in res.output
    assert (tmp_path / "out" / "spectrum.png").exists()
    bad = CliRunner().invoke(app, ["analyze", "spectrum", str(tmp_path / "lora"), "--out", str(tmp_path / "o2"),
                                   "--label", "a", "--label", "b"])
    assert bad.exit_code != 0 and "--label given 2 times for 1 runs" in str(bad.exception)
