"""vLLM backend: a clear missing-extra error on CPU; real multi-LoRA generation where CUDA and vLLM exist."""

import importlib.util

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
