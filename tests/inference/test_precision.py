"""model.dtype auto for generation on CPU: fp32 or bf16 by a cached measurement, never by a name."""

import json
from collections import Counter

import torch

import loralab.inference.precision as precision
from loralab.config import ModelConfig
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import GenRequest, SamplingParams


def test_measurement_times_both_dtypes_and_picks_by_margin():
    verdict = precision.measure(Counter({(64, 32): 2, (128, 64): 1}))
    assert verdict["float32_s"] > 0 and verdict["bfloat16_s"] > 0
    faster = verdict["bfloat16_s"] * precision.MARGIN < verdict["float32_s"]
    assert verdict["pick"] == ("bfloat16" if faster else "float32")


def test_verdict_is_cached_per_machine_and_model(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LORALAB_CACHE", str(tmp_path))
    monkeypatch.setattr(precision, "MIN_PARAMS", 0)  # the tiny model counts as big enough
    calls = []
    monkeypatch.setattr(precision, "measure",
                        lambda shapes: calls.append(shapes) or {"float32_s": 2.0, "bfloat16_s": 1.0, "pick": "bfloat16"})
    gen = TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)))
    assert gen.model.dtype == torch.bfloat16 and gen.base_identity.endswith("~bfloat16")  # caches keep apart
    assert gen.generate([GenRequest(prompt="def f():")], SamplingParams(max_new_tokens=4))[0][0] is not None
    again = TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)))
    assert again.model.dtype == torch.bfloat16 and len(calls) == 1  # measured once
    (cached,) = (tmp_path / "dtype").iterdir()
    assert json.loads(cached.read_text())["pick"] == "bfloat16"
    fixed = TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir), dtype="float32"))
    assert fixed.model.dtype == torch.float32 and "~" not in fixed.base_identity and len(calls) == 1


def test_tiny_models_stay_fp32_unmeasured(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(precision, "measure", lambda shapes: 1 / 0)
    gen = TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)))
    assert gen.model.dtype == torch.float32 and gen.precision["pick"] == "float32"
