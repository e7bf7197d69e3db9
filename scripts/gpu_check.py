"""One JSON line on what this machine's GPU runs: the `gpu` tests, a bf16 LoRA step, a QLoRA step.

Works in a bare checkout with no hub access: the model is a tiny random Qwen2 built from its
config and the steps feed random token ids, so no tokenizer or download is needed.
Run it as `scripts/gpu_check.sh` (see docs/gpu-and-families.md). Without CUDA it prints
{"cuda": false, ...} and exits 0; `--cpu` runs the two steps on the CPU instead (fp32 LoRA,
QLoRA with bitsandbytes' CPU kernels), which checks the script itself. Exit 1 when a check failed.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = 4  # optimizer steps per check
BATCH, SEQ = 4, 64  # random token ids, (B, T)


def tiny_qwen2(out: Path) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(vocab_size=1024, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      use_sliding_window=False)
    torch.manual_seed(0)
    Qwen2ForCausalLM(cfg).save_pretrained(out)
    return out


def train_steps(model_dir: Path, method: str, device: str) -> dict:
    """STEPS optimizer steps of loralab's own attach/optimizer; losses, last grad norm, optimizer."""
    import torch
    from transformers import AutoModelForCausalLM

    from loralab.config import AdapterConfig
    from loralab.train.lora import attach, optimizer, quantization_config

    acfg = AdapterConfig(method=method, r=8, alpha=16)
    bf16 = device == "cuda"  # bf16 autocast on CUDA, as training does; fp32 on CPU
    kwargs = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if method == "qlora":
        kwargs.update(quantization_config=quantization_config(acfg, device), device_map={"": 0 if bf16 else "cpu"})
    model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    if method != "qlora":
        model.to(device)
    model = attach(model, acfg, gradient_checkpointing=method == "qlora")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = optimizer("auto", params, lr=1e-2, weight_decay=0.0, method=method, device=device)
    ids = torch.randint(0, model.config.vocab_size, (BATCH, SEQ), generator=torch.Generator().manual_seed(0))
    ids = ids.to(device)
    losses, norm = [], 0.0
    for _ in range(STEPS):
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(params, 1e9))
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
    # zero gradients or a flat loss on one repeated batch mean the adapter is not learning
    ok = all(math.isfinite(x) for x in losses) and norm > 0 and losses[-1] < losses[0]
    return {"ok": ok, "losses": losses, "grad_norm": round(norm, 4), "optimizer": type(opt).__name__}


def timed(name: str, fn, *args) -> dict:
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    try:
        result = fn(*args)
    except Exception as e:  # a check's failure is a figure to report, not a crash of the report
        result = {"ok": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["peak_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None
    return {name: result}


def gpu_tests() -> dict:
    """`pytest -m gpu`: counts from its summary line (its output goes to stderr, not to our JSON line)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-2000:])
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", tail)}
    # pytest exits 5 when nothing was collected/selected: not a failure of the GPU
    return {"pytest_gpu": {"ok": proc.returncode in (0, 5), "exit": proc.returncode, **counts,
                           "seconds": round(time.perf_counter() - start, 2)}}


def versions() -> dict:
    import torch

    out = {"torch": torch.__version__, "cuda_runtime": torch.version.cuda}
    for name in ("transformers", "peft", "bitsandbytes"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    return out


def main() -> int:
    import torch

    report = {"cuda": torch.cuda.is_available(), **versions()}
    if not report["cuda"] and "--cpu" not in sys.argv:
        report["note"] = "no CUDA device visible; nothing run (--cpu runs the two steps on the CPU)"
        print(json.dumps(report))
        return 0
    device = "cuda" if report["cuda"] else "cpu"
    report["device"] = torch.cuda.get_device_name(0) if report["cuda"] else "cpu"
    report["bf16_supported"] = torch.cuda.is_bf16_supported() if report["cuda"] else None
    checks = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = tiny_qwen2(Path(tmp) / "tiny-qwen2")
        checks.update(timed("bf16_lora" if report["cuda"] else "fp32_lora", train_steps, model_dir, "lora", device))
        checks.update(timed("qlora", train_steps, model_dir, "qlora", device))
    if report["cuda"] and "--no-pytest" not in sys.argv:
        checks.update(gpu_tests())
    report["checks"] = checks
    report["ok"] = all(c["ok"] for c in checks.values())
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
