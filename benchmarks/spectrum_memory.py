"""Spectrum of ΔW on the embedded model: streamed (ours) vs load-everything (baseline), and LoRA via QR vs dense SVD.

    .venv/bin/python benchmarks/spectrum_memory.py [--rank 16] [--workdir /tmp/spectrum-bench]

Setup (once, in --workdir): a LoRA adapter of rank --rank on every linear layer of
SmolLM2-135M-Instruct with random A and B, and a stand-in "full fine-tune" (every block matrix
plus dense noise at 1% of its scale) saved as a safetensors model. Each side runs in its own
child process so its peak RSS (VmHWM) is its own:
  full / ours:      analyze_spectrum(full run) — tensors streamed one at a time with safe_open,
                    σ from the float64 Gram matrix's eigenvalues;
  full / baseline:  both state dicts loaded whole, then torch.linalg.svdvals of each difference;
  lora / ours:      analyze_spectrum(adapter) — singular values from the r x r QR core;
  lora / baseline:  ΔW = s·B·A formed densely per module, then svdvals.
The singular values of both sides are compared (max relative difference of σ_1..σ_8).
The ours side also writes every output file (tables, npz, plot) and reads ‖W0‖ for rel_change. The last
line is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def setup(workdir: Path, rank: int) -> tuple[Path, Path, Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from loralab.models import DEFAULT_MODEL, embedded_dir

    base = embedded_dir(DEFAULT_MODEL)
    lora, full = workdir / f"lora-r{rank}", workdir / "full"
    torch.manual_seed(0)
    if not (lora / "adapter_model.safetensors").exists():
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, init_lora_weights=False,
                                         target_modules="all-linear")).save_pretrained(lora)
    if not (full / "model.safetensors").exists():
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if ".layers." in name and p.ndim == 2:
                    p.add_(0.01 * p.std() * torch.randn_like(p))
        model.save_pretrained(full)
    return base, lora, full


def child(side: str, kind: str, base: str, run: str, out: str) -> None:
    """One measured side; prints {seconds, peak_rss_mb, sigmas: {name: [σ_1..σ_8]}}."""
    import torch

    # One thread: on a shared, loaded CPU, OpenMP threads spinning against each other make
    # LAPACK timings swing 10x between runs; one thread per side keeps the comparison fair.
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if side == "ours":
        from loralab.analysis.spectrum import analyze_spectrum

        res = analyze_spectrum([run], out, base=base)
        sig = {m.name: m.singular_values[:8] for m in res.runs[0].matrices}
    elif kind == "full":
        sig = _baseline_full(Path(base), Path(run))
    else:
        sig = _baseline_lora(Path(run))
    secs = time.perf_counter() - t0
    print(json.dumps({"seconds": secs, "peak_rss_mb": _peak_rss_mb(), "sigmas": sig}))


def _peak_rss_mb() -> float:
    """VmHWM of this process: unlike ru_maxrss it is not inherited from the parent across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline_full(base: Path, run: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    w0, w1 = load_file(base / "model.safetensors"), load_file(run / "model.safetensors")  # everything resident
    out = {}
    for key, w in w1.items():
        if key.endswith(".weight") and w.ndim == 2 and ".layers." in key:
            out[key.removesuffix(".weight")] = torch.linalg.svdvals(w.double() - w0[key].double())[:8].tolist()
    return out


def _baseline_lora(adapter: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    cfg = json.loads((adapter / "adapter_config.json").read_text())
    t = load_file(adapter / "adapter_model.safetensors")
    out = {}
    for key, a in t.items():
        if ".lora_A." in key:
            b = t[key.replace("lora_A", "lora_B")]
            delta = (cfg["lora_alpha"] / a.shape[0]) * b.double() @ a.double()  # (m, n) formed densely
            out[key.removeprefix("base_model.model.").split(".lora_A")[0]] = torch.linalg.svdvals(delta)[:8].tolist()
    return out


def measure(side: str, kind: str, base: Path, run: Path, workdir: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", side, kind, str(base), str(run), str(workdir / f"out-{side}-{kind}")]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def max_rel_diff(a: dict, b: dict) -> float:
    assert set(a) == set(b), "the two sides saw different matrices"
    return max(abs(x - y) / max(abs(y), 1e-30) for k in a for x, y in zip(a[k], b[k], strict=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/spectrum-bench"))
    args = ap.parse_args()
    base, lora, full = setup(args.workdir, args.rank)
    figures = {"rank": args.rank}
    for kind, run in (("full", full), ("lora", lora)):
        ours, baseline = measure("ours", kind, base, run, args.workdir), measure("baseline", kind, base, run, args.workdir)
        print(f"{kind:4s}  ours {ours['seconds']:6.1f} s {ours['peak_rss_mb']:7.0f} MB   "
              f"baseline {baseline['seconds']:6.1f} s {baseline['peak_rss_mb']:7.0f} MB")
        figures.update({f"{kind}_ours_s": round(ours["seconds"], 2), f"{kind}_baseline_s": round(baseline["seconds"], 2),
                        f"{kind}_ours_peak_mb": round(ours["peak_rss_mb"]), f"{kind}_baseline_peak_mb": round(baseline["peak_rss_mb"]),
                        f"{kind}_max_rel_sigma_diff": max_rel_diff(ours["sigmas"], baseline["sigmas"])})
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:7])
    else:
        main()
