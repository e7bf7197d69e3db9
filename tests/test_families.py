"""The seeds' model families end to end: prepare -> train (LoRA, DoRA) -> eval -> export --merge -> serve.

Each family is a tiny random model built from its transformers config class (no hub), with
SmolLM2's tokenizer (vocab sizes match). Qwen2 and Mistral keep the chat template (instruct
models); Llama-2 and phi-2 style bases have none, so every stage must take the raw-prompt path.
Every stage is the real CLI command.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loralab.cli import app
from loralab.io import read_json, read_jsonl

runner = CliRunner()
pytestmark = pytest.mark.slow  # ~1 min per family on a loaded 2-core machine

# family -> (config class name, has a chat template, extra config keys)
FAMILIES = {
    "qwen2": ("Qwen2Config", True, {"use_sliding_window": False}),
    "llama": ("LlamaConfig", False, {}),  # LLaMA-2 base: no chat template
    "phi": ("PhiConfig", False, {}),  # phi-2: dense / fc1 / fc2, no chat template
    "mistral": ("MistralConfig", True, {"sliding_window": None}),
}


def tiny_family_model(out: Path, family: str, tokenizer_dir: Path) -> Path:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cls_name, chat, extra = FAMILIES[family]
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if not chat:
        tok.chat_template = None
    cfg = getattr(transformers, cls_name)(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **extra)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def cli(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, f"loralab {' '.join(args)}\n{res.output}"
    return res.output


def train_run(model: Path, data: Path, out: Path, method: str) -> Path:
    sets = {"model.name": model, "data.prepared": data, "train.out_dir": out, "adapter.method": method,
            "train.max_steps": 2, "train.save_steps": 2, "train.batch_size": 2, "train.max_seq_len": 128,
            "train.eval_max_examples": 2, "train.learning_rate": 1e-3}
    (out.parent / f"{method}.yaml").write_text("{}\n")
    cli("train", str(out.parent / f"{method}.yaml"), *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")])
    return out


def raw_continuation(model: Path, index: int, style: str) -> str:
    """Greedy continuation of HumanEval problem `index` asked as a raw prompt in `style` (BOS + text, no chat)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from loralab.eval.sweep import task_request
    from loralab.eval.tasks import get_task

    task = get_task("humaneval")
    prompt = task_request(task, task.problems()[index], style).prompt
    tok, lm = AutoTokenizer.from_pretrained(model), AutoModelForCausalLM.from_pretrained(model)
    ids = tok(prompt, return_tensors="pt").input_ids
    out = lm.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def serve_answers(model: Path) -> tuple[dict, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "loralab", "serve", "--model", str(model), "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "serving" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.split(" at ")[1].split()[0]
        done = post_json(url + "/completions", {"prompt": "def add(a, b):", "max_tokens": 4})
        chat = post_json(url + "/chat/completions", {"messages": [{"role": "user", "content": "Write add."}],
                                                    "max_tokens": 4})
        return done, chat
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_prepare_train_eval_export_serve(family, tmp_path, embedded_dir):
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from loralab.train.lora import linear_names

    chat = FAMILIES[family][1]
    model = tiny_family_model(tmp_path / family, family, embedded_dir)

    # prepare: instruct families use their chat template; a base without one is refused it clearly
    data = tmp_path / "data"
    prep = ["prepare", "bundled:pytasks", "--out", str(data), "--max-rows", "24"]
    if chat:
        cli(*prep, "--template", "chat", "--model", str(model))
    else:
        res = runner.invoke(app, [*prep, "--template", "chat", "--model", str(model)])
        assert "has no chat template" in str(res.exception) and not data.exists()  # main() prints it as error:
        cli(*prep, "--model", str(model))  # auto: no chat template, so an alpaca-style plain-text prompt
    rows = read_jsonl(data / "train.jsonl")
    assert all(("<|im_start|>" in r["prompt"]) == chat for r in rows)

    # train: LoRA and DoRA on the family's default target modules (PEFT's table, present in the model)
    lora = train_run(model, data, tmp_path / "lora", "lora")
    dora = train_run(model, data, tmp_path / "dora", "dora")
    base_model = AutoModelForCausalLM.from_pretrained(model)
    assert base_model.config.model_type == family
    want = set(PEFT_DEFAULTS[family])
    assert want <= set(linear_names(base_model))
    if family == "phi":
        assert {"fc1", "fc2", "dense"} <= set(linear_names(base_model)) and {"fc1", "fc2"} <= want
    for run in (lora, dora):
        ckpt = run / "checkpoint-2"
        assert set(read_json(ckpt / "adapter_config.json")["target_modules"]) == want
        with safe_open(ckpt / "adapter_model.safetensors", "pt") as f:
            keys = list(f.keys())
        assert {m for m in want if any(f".{m}.lora_A" in k for k in keys)} == want
        assert any("lora_magnitude_vector" in k for k in keys) == (run is dora)
        assert read_json(ckpt / "loralab.json")["chat_template"] == chat

    # eval: raw prompts (plain text, completion stop strings) on a base without a template
    cli("eval", str(lora), "--task", "humaneval", "--limit", "2", "--set", "eval.max_new_tokens=6")
    summary = read_json(lora / "eval" / "summary.json")
    assert [s["name"] for s in summary["systems"]] == ["base", "checkpoint-2"]
    records = read_jsonl(lora / "eval" / "samples.jsonl")
    assert len(records) == 4
    if not chat:  # asked as the run was trained (#12): the Alpaca layout, as a raw prompt
        assert summary["prompt_template"] == "alpaca"
        base = [r["completion"] for r in records if r["system"] == "base"]
        assert [c for c in base if c] and all(raw_continuation(model, i, "alpaca").startswith(c)
                                              for i, c in enumerate(base))

    # export --merge (DoRA) -> a plain model of the same family that serves completions and chat
    merged = tmp_path / "merged"
    cli("export", str(dora / "checkpoint-2"), "--merge", "--out", str(merged))
    assert read_json(merged / "config.json")["model_type"] == family
    with safe_open(merged / "model.safetensors", "pt") as f:
        assert not any("lora" in k for k in f.keys())
    done, chat_reply = serve_answers(merged)
    assert len(done["choices"]) == 1 and isinstance(done["choices"][0]["text"], str)
    assert chat_reply["choices"][0]["message"]["role"] == "assistant"
