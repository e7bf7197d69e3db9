"""Spectrum of ΔW on the embedded model: streamed (ours) vs load-everything (baseline), and LoRA via QR vs dense SVD.

    .venv/bin/python benchmarks/spectrum_memory.py [--rank 16] [--kinds full,lora] [--pairs 3] [--workdir /tmp/spectrum-bench]

Setup (once, in --workdir): a LoRA adapter of rank --rank on every linear layer of
SmolLM2-135M-Instruct with random A and B, and a stand-in "full fine-tune" (every block matrix
plus dense noise at 1% of its scale) saved as a safetensors model. Each side runs in its own
child process so its peak RSS (VmHWM) is its own, and the two sides alternate (baseline, ours,
baseline, ... `--pairs` pairs per kind, benchmarks/harness.py):
  full / ours:      analyze_spectrum(full run) — tensors streamed one at a time with safe_open,
                    σ from the float64 Gram matrix's eigenvalues;
  full / baseline:  both state dicts loaded whole, then torch.linalg.svdvals of each difference;
  lora / ours:      analyze_spectrum(adapter) — singular values from the r x r QR core;
  lora / baseline:  ΔW = s·B·A formed densely per module, then svdvals.
The singular values of both sides must agree (σ_1..σ_8 of every matrix within `--tolerance`
of its σ_1), else the script fails. The ours side also writes every output file (tables, npz,
plot) and reads ‖W0‖ for rel_change. Per kind it reports the median speedup (baseline s / ours s)
and memory ratio (ours peak / baseline peak) of the pairs with their spread. The last line is
one JSON object, also written to benchmarks/results/spectrum_memory.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from harness import check_outputs, emit, environment, in_child, interleave, peak_rss_mb, spread


def setup(workdir: Path, rank: int, kinds: list[str]) -> tuple[Path, Path, Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from loralab.models import DEFAULT_MODEL, embedded_dir

    base = embedded_dir(DEFAULT_MODEL)
    lora, full = workdir / f"lora-r{rank}", workdir / "full"
    torch.manual_seed(0)
    if "lora" in kinds and not (lora / "adapter_model.safetensors").exists():
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, init_lora_weights=False,
                                         target_modules="all-linear")).save_pretrained(lora)
    if "full" in kinds and not (full / "model.safetensors").exists():
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
    print(json.dumps({"seconds": secs, "rate": 1 / secs, "peak_rss_mb": peak_rss_mb(), "sigmas": sig}))


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
    return in_child(__file__, "--child", side, kind, str(base), str(run), str(workdir / f"out-{side}-{kind}"))


def sigma_diffs(ours: dict, baseline: dict) -> list[float]:
    """(σ_ours - σ_baseline) / σ_1 for σ_1..σ_8 of every matrix: relative to the matrix's largest σ, so a
    σ near zero (rank < 8) does not turn float noise into a large relative difference."""
    if set(ours) != set(baseline):
        raise SystemExit(f"error: the two sides saw different matrices: {sorted(set(ours) ^ set(baseline))[:5]}")
    return [(x - y) / max(abs(baseline[k][0]), 1e-30) for k in baseline for x, y in zip(ours[k], baseline[k], strict=False)]


def compare(kind: str, base: Path, run: Path, args) -> dict:
    """Interleaved (baseline, ours) children for one kind of run; speed, memory and σ agreement."""
    runs = interleave(lambda: measure("baseline", kind, base, run, args.workdir),
                      lambda: measure("ours", kind, base, run, args.workdir), args.pairs)
    worst = 0.0
    for a, b in zip(runs.a, runs.b, strict=True):
        diffs = sigma_diffs(b["sigmas"], a["sigmas"])
        check_outputs([0.0] * len(diffs), diffs, args.tolerance, f"singular values, (ours - baseline) / σ_1 ({kind})")
        worst = max(worst, max(map(abs, diffs)))
    speed, memory = runs.summary("rate"), runs.summary("peak_rss_mb")
    fig = {"speedup": speed["ratio"], "memory_ratio": memory["ratio"],
           "baseline_s": spread([r["seconds"] for r in runs.a]), "ours_s": spread([r["seconds"] for r in runs.b]),
           "baseline_peak_mb": memory["baseline"], "ours_peak_mb": memory["loralab"],
           "max_sigma_diff_of_sigma1": worst, "matrices": len(runs.b[-1]["sigmas"])}
    print(f"{kind:4s}  ours {fig['ours_s']['median']:6.1f} s {fig['ours_peak_mb']['median']:7.0f} MB   baseline "
          f"{fig['baseline_s']['median']:6.1f} s {fig['baseline_peak_mb']['median']:7.0f} MB", file=sys.stderr)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--kinds", default="full,lora", help="which runs to analyse: full, lora or both")
    ap.add_argument("--pairs", type=int, default=3, help="interleaved (baseline, ours) pairs per kind")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest σ difference accepted, as a fraction of σ_1")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/spectrum-bench"))
    args = ap.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",")]
    if not set(kinds) <= {"full", "lora"}:
        raise SystemExit(f"error: --kinds takes full and/or lora, got {args.kinds!r}")
    env_start = environment()
    base, lora, full = setup(args.workdir, args.rank, kinds)
    by_kind = {kind: compare(kind, base, {"full": full, "lora": lora}[kind], args) for kind in kinds}
    figures = {f"{k}_{name}": v["median"] if isinstance(v, dict) else v
               for k, fig in by_kind.items() for name, v in fig.items() if name in ("speedup", "memory_ratio")}
    emit("spectrum_memory", {**figures, "by_kind": by_kind, "identical_sigmas": True, "rank": args.rank,
                             "tolerance": args.tolerance, "pairs": args.pairs, "threads_per_side": 1,
                             "env_start": env_start, "env": environment()})


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:7])
    else:
        main()
