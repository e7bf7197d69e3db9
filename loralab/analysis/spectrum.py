"""Spectrum of the weight change: how many directions does fine-tuning actually use?

For every adapted matrix, ΔW is
  * LoRA:  s · B A, with s = alpha / r (alpha / sqrt(r) with rsLoRA, Kalajdzievski 2023) and
    per-module r / alpha from the adapter's rank_pattern / alpha_pattern;
  * DoRA:  m ⊙ (W0 + sBA) / ‖W0 + sBA‖_row − W0 (Liu et al. 2024), which needs the base W0;
  * full:  W_ft − W_base.
We report its singular values σ_1 ≥ σ_2 ≥ ..., the rank needed to explain 90% of the
"variance" (energy Σσ², the squared Frobenius norm), the effective rank exp(H(σ/Σσ)) (Roy &
Vetterli 2007), the stable rank Σσ² / σ_1², and ‖ΔW‖_F relative to ‖W0‖_F. "LoRA Learns Less
and Forgets Less" (Biderman et al. 2024, fig. 7) finds full fine-tuning changes weights with a
rank 10-100x higher than typical LoRA ranks; this is the tool to check that on your own runs.

Memory stays bounded on CPU: tensors are read one at a time with safetensors' `safe_open`
(memory-mapped), so at most a base matrix, its fine-tuned copy and their difference are
resident. A plain LoRA ΔW is never formed: with B = Q_B R_B and Aᵀ = Q_A R_A (thin QR),
ΔW = s Q_B (R_B R_Aᵀ) Q_Aᵀ, so ΔW's nonzero singular values are exactly those of the r x r
core s R_B R_Aᵀ; cost O((m + n) r²) instead of O(m n min(m, n)). Dense ΔW (full, DoRA) get
their σ from the eigenvalues of the float64 Gram matrix, ~3x faster than an SVD.

This module reads weight files only (no model code); `analyze_spectrum` writes spectrum.json,
spectrum.csv, spectrum.md, singular_values.npz and spectrum.png.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loralab.errors import LoralabError

if TYPE_CHECKING:
    import torch

ENERGY = 0.9  # fraction of Σσ² the reported rank must explain
LORA_PREFIX = "base_model.model."  # PEFT's key prefix in adapter_model.safetensors


@dataclass
class MatrixSpectrum:
    name: str                   # module name, e.g. model.layers.0.self_attn.q_proj
    rows: int
    cols: int
    singular_values: list[float]  # descending; LoRA: only the r (possibly) nonzero ones
    base_norm: float | None = None  # ‖W0‖_F when the base was given

    def metrics(self) -> dict:
        s = self.singular_values
        energy = sum(v * v for v in s)
        fro = math.sqrt(energy)
        return {"name": self.name, "rows": self.rows, "cols": self.cols, "rank_90": rank_for_energy(s),
                "effective_rank": effective_rank(s), "stable_rank": energy / s[0] ** 2 if s and s[0] > 0 else 0.0,
                "max_rank": min(self.rows, self.cols), "fro_norm": fro, "sigma_max": s[0] if s else 0.0,
                "rel_change": fro / self.base_norm if self.base_norm else None}


@dataclass
class RunSpectrum:
    label: str
    path: Path
    kind: str                   # lora, dora or full
    matrices: list[MatrixSpectrum] = field(default_factory=list)

    def summary(self) -> dict:
        ms = [m.metrics() for m in self.matrices]
        rel = [m["rel_change"] for m in ms if m["rel_change"] is not None]
        return {"label": self.label, "kind": self.kind, "n_matrices": len(ms),
                "rank_90_median": _median([m["rank_90"] for m in ms]),
                "rank_90_mean": _mean([m["rank_90"] for m in ms]),
                "rank_90_max": max((m["rank_90"] for m in ms), default=0),
                "rank_90_fraction_median": _median([m["rank_90"] / m["max_rank"] for m in ms]),
                "effective_rank_median": _median([m["effective_rank"] for m in ms]),
                "stable_rank_median": _median([m["stable_rank"] for m in ms]),
                "rel_change_mean": _mean(rel) if rel else None}


# ----------------------------------------------------------------------------- spectra of σ


def rank_for_energy(s: list[float], frac: float = ENERGY) -> int:
    """Smallest k with σ_1² + ... + σ_k² ≥ frac · Σσ² (0 for a zero matrix)."""
    total = sum(v * v for v in s)
    if total == 0:
        return 0
    acc = 0.0
    for k, v in enumerate(s, start=1):
        acc += v * v
        if acc >= frac * total * (1 - 1e-12):  # tolerance: rounding must not push k past an exact tie
            return k
    return len(s)


def effective_rank(s: list[float]) -> float:
    """exp of the entropy of σ / Σσ (Roy & Vetterli 2007): r for r equal σ, ~1 for one dominant σ."""
    total = sum(s)
    if total == 0:
        return 0.0
    return math.exp(-sum(p * math.log(p) for p in (v / total for v in s) if p > 0))


def lora_singular_values(A: torch.Tensor, B: torch.Tensor, scale: float) -> torch.Tensor:
    """Singular values of scale · B A (B: (m, r), A: (r, n)) from the r x r core of two QRs, exact."""
    import torch

    _, r_b = torch.linalg.qr(B.double())      # B = Q_B R_B,  R_B: (r, r)
    _, r_a = torch.linalg.qr(A.double().T)    # Aᵀ = Q_A R_A, R_A: (r, r)
    return torch.linalg.svdvals(scale * r_b @ r_a.T)  # (r,) descending


def dense_singular_values(delta: torch.Tensor) -> torch.Tensor:
    """σ of a dense (m, n) matrix as sqrt of the eigenvalues of its float64 Gram matrix (smaller side).

    About 3x faster than an SVD on CPU. Squaring costs precision only in the tail: each σ_i
    is exact to about sqrt(eps64)·σ_1 ≈ 1e-8·σ_1, far below anything an energy rank or a
    σ_i/σ_1 plot resolves.
    """
    import torch

    d = delta.double()
    gram = d.T @ d if d.shape[0] >= d.shape[1] else d @ d.T  # (k, k), k = min(m, n)
    return torch.linalg.eigvalsh(gram).clamp(min=0).sqrt().flip(0)  # (k,) descending


# ----------------------------------------------------------------------------- weight files


class TensorStore:
    """Tensors of a safetensors directory (one file or shards), read one at a time."""

    def __init__(self, directory: Path):
        from safetensors import safe_open

        self.directory = directory
        self.files: dict[str, Path] = {}
        for path in sorted(directory.glob("*.safetensors")):
            with safe_open(str(path), "pt") as f:
                self.files.update(dict.fromkeys(f.keys(), path))
        if not self.files:
            raise LoralabError(f"{directory}: no .safetensors weights found")

    def __contains__(self, key: str) -> bool:
        return key in self.files

    def get(self, key: str) -> torch.Tensor:
        from safetensors import safe_open

        with safe_open(str(self.files[key]), "pt") as f:
            return f.get_tensor(key)

    def shape(self, key: str) -> list[int]:
        from safetensors import safe_open

        with safe_open(str(self.files[key]), "pt") as f:
            return list(f.get_slice(key).get_shape())


def resolve_run(path: str | Path) -> tuple[str, Path]:
    """(kind, directory) of a LoRA/DoRA adapter dir, a full model dir, or a run's last checkpoint-N."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise LoralabError(f"{p}: no such run or checkpoint directory")
    if (p / "adapter_config.json").exists():
        from loralab.io import read_json

        return ("dora" if read_json(p / "adapter_config.json").get("use_dora") else "lora"), p
    if (p / "config.json").exists() and any(p.glob("*.safetensors")):
        return "full", p
    steps = sorted((c for c in p.glob("checkpoint-*") if c.name.rpartition("-")[2].isdigit()),
                   key=lambda c: int(c.name.rpartition("-")[2]))
    if steps:
        return resolve_run(steps[-1])  # a run directory: its latest checkpoint
    raise LoralabError(f"{p}: neither a PEFT adapter (adapter_config.json), a safetensors model "
                       "(config.json + *.safetensors), nor a run directory with checkpoint-N subdirectories")


def resolve_base(base: str) -> Path:
    """A safetensors directory for an embedded alias, a local directory or a hub id."""
    from loralab.models import resolve

    src = resolve(base)
    if src.endswith(".gguf"):
        raise LoralabError(f"--base {base}: a .gguf file holds no safetensors; pass the embedded alias or a model directory")
    if Path(src).is_dir():
        return Path(src)
    from huggingface_hub import snapshot_download  # a hub id: fetch only weights and configs

    return Path(snapshot_download(src, allow_patterns=["*.safetensors", "*.json"]))


# ----------------------------------------------------------------------------- ΔW per matrix


def lora_spectra(adapter_dir: Path, base: TensorStore | None) -> Iterator[MatrixSpectrum]:
    """One MatrixSpectrum per LoRA (or DoRA) module of a PEFT adapter directory."""
    from loralab.io import read_json

    cfg = read_json(adapter_dir / "adapter_config.json")
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.exists():
        raise LoralabError(f"{adapter_dir}: no adapter_model.safetensors (only safetensors adapters are read)")
    store = TensorStore(adapter_dir)
    for key in sorted(store.files, key=_natural):
        m = re.fullmatch(r"(?P<mod>.+)\.lora_(?P<emb>embedding_)?A(?P<w>\.weight)?", key)
        if not m:
            continue
        a = store.get(key)                                               # (r, n)
        b = store.get(key.replace(f"lora_{m['emb'] or ''}A", f"lora_{m['emb'] or ''}B"))  # (m, r)
        module = m["mod"].removeprefix(LORA_PREFIX)
        scale = lora_scale(cfg, module, a.shape[0])
        w0 = _base_weight(base, module)
        mag_key = f"{m['mod']}.lora_magnitude_vector"
        if mag_key in store or mag_key + ".weight" in store:
            yield _dora_spectrum(module, a, b, scale, store.get(mag_key if mag_key in store else mag_key + ".weight"),
                                 w0, bool(cfg.get("fan_in_fan_out")), adapter_dir)
            continue
        s = lora_singular_values(a, b, scale)
        yield MatrixSpectrum(module, b.shape[0], a.shape[1], s.tolist(), _norm(w0))


def lora_scale(cfg: dict, module: str, r: int) -> float:
    """alpha / r, or alpha / sqrt(r) with rsLoRA; alpha from alpha_pattern when a key matches."""
    alpha = cfg.get("lora_alpha", 8)
    for pattern, value in (cfg.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", module):  # PEFT's rule: the pattern matches a name suffix
            alpha = value
            break
    return alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r


def _dora_spectrum(module, a, b, scale, magnitude, w0, fan_in_fan_out, adapter_dir) -> MatrixSpectrum:
    """DoRA's ΔW = m ⊙ V / ‖V‖_row − W0 with V = W0 + sBA: a rescaled W0, so not low-rank; formed densely."""
    if w0 is None:
        raise LoralabError(f"{adapter_dir}: a DoRA adapter's weight change depends on the base weights; pass --base")
    w0 = (w0.T if fan_in_fan_out else w0).double()           # (m, n)
    v = w0 + scale * (b.double() @ a.double())               # (m, n)
    merged = magnitude.double()[:, None] * v / v.norm(dim=1, keepdim=True)
    s = dense_singular_values(merged - w0)
    return MatrixSpectrum(module, w0.shape[0], w0.shape[1], s.tolist(), _norm(w0))


def full_spectra(ft_dir: Path, base: TensorStore, include_embeddings: bool = False) -> Iterator[MatrixSpectrum]:
    """One MatrixSpectrum per 2-D weight that differs between a fine-tuned and the base model."""
    ft = TensorStore(ft_dir)
    for key in sorted(ft.files, key=_natural):
        if not key.endswith(".weight") or key not in base or len(ft.shape(key)) != 2:
            continue
        if not include_embeddings and re.search(r"embed|lm_head|wte|wpe", key):
            continue  # vocabulary matrices: huge, and LoRA rarely adapts them
        if ft.shape(key) != base.shape(key):
            raise LoralabError(f"{ft_dir}: {key} has shape {ft.shape(key)}, the base's is {base.shape(key)}; wrong --base?")
        w0 = base.get(key)
        delta = ft.get(key).double() - w0.double()           # (m, n)
        if not delta.any():
            continue  # a frozen matrix: nothing changed
        yield MatrixSpectrum(key.removesuffix(".weight"), *delta.shape, dense_singular_values(delta).tolist(), _norm(w0))


def _base_weight(base: TensorStore | None, module: str):
    key = f"{module}.weight"
    return base.get(key) if base is not None and key in base else None


def _norm(w) -> float | None:
    return float(w.double().norm()) if w is not None else None


def run_spectrum(path: str | Path, base_dir: Path | None, label: str | None = None,
                 include_embeddings: bool = False) -> RunSpectrum:
    """Every matrix's spectrum for one run (LoRA/DoRA adapter, full model, or run dir)."""
    kind, directory = resolve_run(path)
    base = TensorStore(base_dir) if base_dir else None
    if kind == "full":
        if base is None:
            raise LoralabError(f"{directory}: a full fine-tune's weight change needs the base model; pass --base")
        matrices = list(full_spectra(directory, base, include_embeddings))
    else:
        matrices = list(lora_spectra(directory, base))
    if not matrices:
        raise LoralabError(f"{directory}: no adapted or changed weight matrices found")
    return RunSpectrum(label or run_label(directory), directory, kind, matrices)


def run_label(directory: Path) -> str:
    return f"{directory.parent.name}/{directory.name}" if directory.name.startswith("checkpoint-") else directory.name


def _natural(key: str) -> list:
    """layers.2 before layers.10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _median(xs: list[float]) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


# ----------------------------------------------------------------------------- stage and outputs


@dataclass
class SpectrumResult:
    out_dir: Path
    runs: list[RunSpectrum]

    def describe(self) -> str:
        return summary_markdown(self.runs) + f"\nwrote {self.out_dir}/spectrum.{{json,csv,md,png}}"


def analyze_spectrum(runs: list[str | Path], out_dir: str | Path, base: str | None = None,
                     labels: list[str] | None = None, include_embeddings: bool = False) -> SpectrumResult:
    """Spectra of several runs against one base; writes the tables, the σ arrays and the plot."""
    import time

    from loralab.io import write_meta

    started = time.time()
    if labels and len(labels) != len(runs):
        raise LoralabError(f"--label given {len(labels)} times for {len(runs)} runs; give one per run or none")
    base_dir = resolve_base(base) if base else None
    spectra = [run_spectrum(r, base_dir, labels[i] if labels else None, include_embeddings) for i, r in enumerate(runs)]
    out = Path(out_dir)
    write_outputs(spectra, out)
    write_meta(out, stage="analyze-spectrum", started=started, inputs={
        "base": str(base_dir) if base_dir else None, "runs": [str(s.path) for s in spectra]})
    return SpectrumResult(out, spectra)


def write_outputs(spectra: list[RunSpectrum], out: Path) -> None:
    import numpy as np

    from loralab.io import atomic_path, write_json, write_text

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "spectrum.json", {"energy": ENERGY, "runs": [
        {"label": s.label, "path": str(s.path), "kind": s.kind, "summary": s.summary(),
         "matrices": [m.metrics() for m in s.matrices]} for s in spectra]})
    write_text(out / "spectrum.csv", spectrum_csv(spectra))
    write_text(out / "spectrum.md", spectrum_markdown(spectra))
    with atomic_path(out / "singular_values.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **{f"{s.label}::{m.name}": np.asarray(m.singular_values)
                                  for s in spectra for m in s.matrices})
    plot_spectra(spectra, out / "spectrum.png")


COLUMNS = ["run", "kind", "name", "rows", "cols", "rank_90", "max_rank", "effective_rank",
           "stable_rank", "fro_norm", "sigma_max", "rel_change"]


def spectrum_csv(spectra: list[RunSpectrum]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in spectra:
        for m in s.matrices:
            writer.writerow({"run": s.label, "kind": s.kind, **m.metrics()})
    return buf.getvalue()


def summary_markdown(spectra: list[RunSpectrum]) -> str:
    head = ("| run | kind | matrices | rank@90% median | mean | max | rank@90% / max rank | "
            "effective rank | stable rank | ‖ΔW‖/‖W‖ |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    rows = []
    for s in spectra:
        u = s.summary()
        rel = f"{u['rel_change_mean']:.4f}" if u["rel_change_mean"] is not None else "—"
        rows.append(f"| {s.label} | {s.kind} | {u['n_matrices']} | {u['rank_90_median']:g} | {u['rank_90_mean']:.1f} | "
                    f"{u['rank_90_max']} | {u['rank_90_fraction_median']:.3f} | {u['effective_rank_median']:.1f} | "
                    f"{u['stable_rank_median']:.2f} | {rel} |")
    return head + "\n".join(rows) + "\n"


def spectrum_markdown(spectra: list[RunSpectrum]) -> str:
    """Summary per run, median rank@90% per module type, and rank@90% per matrix side by side."""
    labels = [s.label for s in spectra]
    by_run = [{m.name: m.metrics() for m in s.matrices} for s in spectra]
    names = sorted({n for r in by_run for n in r}, key=_natural)
    types = sorted({n.rpartition(".")[2] for n in names})
    lines = [f"# Spectrum of the weight change\n\nrank@90%: singular directions needed for {ENERGY:.0%} of "
             "Σσ² (‖ΔW‖_F²).\n\n## Summary\n", summary_markdown(spectra),
             "\n## Median rank@90% by module type\n", "| module | " + " | ".join(labels) + " |",
             "|---|" + "---:|" * len(labels)]
    for t in types:
        cells = [_median([m["rank_90"] for n, m in r.items() if n.rpartition(".")[2] == t]) for r in by_run]
        lines.append(f"| {t} | " + " | ".join("—" if math.isnan(c) else f"{c:g}" for c in cells) + " |")
    lines += ["\n## rank@90% per matrix\n", "| matrix | shape | " + " | ".join(labels) + " |",
              "|---|---|" + "---:|" * len(labels)]
    for n in names:
        shape = next(f"{r[n]['rows']}x{r[n]['cols']}" for r in by_run if n in r)
        lines.append(f"| {n} | {shape} | " + " | ".join(str(r[n]["rank_90"]) if n in r else "—" for r in by_run) + " |")
    return "\n".join(lines) + "\n"


def plot_spectra(spectra: list[RunSpectrum], path: Path) -> Path:
    """Left: median σ_i/σ_1 over matrices (IQR shaded); right: median cumulative energy fraction."""
    import numpy as np
    from matplotlib.figure import Figure

    from loralab.analysis.plots import DPI, PALETTE
    from loralab.io import atomic_path

    fig = Figure(figsize=(10, 4), dpi=DPI)
    left, right = fig.subplots(1, 2)
    for i, s in enumerate(spectra):
        colour = PALETTE[i % len(PALETTE)]
        curves = [np.asarray(m.singular_values) for m in s.matrices if m.singular_values and m.singular_values[0] > 0]
        # a matrix's σ beyond its own length are exactly 0 (and its energy curve is complete: 1)
        norm = _padded_quantiles([c / c[0] for c in curves], fill=0.0)
        energy = _padded_quantiles([np.cumsum(c ** 2) / np.sum(c ** 2) for c in curves], fill=1.0)
        x = np.arange(1, len(norm[1]) + 1)
        left.plot(x, norm[1], color=colour, label=f"{s.label} ({s.kind})")
        left.fill_between(x, norm[0], norm[2], color=colour, alpha=0.2, linewidth=0)
        right.plot(np.arange(1, len(energy[1]) + 1), energy[1], color=colour, label=s.label)
    left.set(xscale="log", yscale="log", xlabel="index i", ylabel="σ_i / σ_1 (median over matrices)",
             title="Normalised singular values of ΔW")
    right.axhline(ENERGY, color="grey", linestyle="--", linewidth=1)
    right.set(xscale="log", ylim=(0, 1.02), xlabel="k", ylabel="Σ_{i≤k} σ_i² / Σ σ² (median)",
              title="Energy explained by the top k directions")
    left.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _padded_quantiles(curves: list, fill: float) -> tuple:
    """(25%, 50%, 75%) at each index over all curves, shorter ones padded with `fill`."""
    import numpy as np

    n = max((len(c) for c in curves), default=0)
    grid = np.full((len(curves), n), fill)  # (matrices, index)
    for row, c in zip(grid, curves, strict=True):
        row[:len(c)] = c
    q = np.quantile(grid, [0.25, 0.5, 0.75], axis=0) if len(curves) else np.zeros((3, 0))
    return q[0], q[1], q[2]
