"""`model.dtype: auto` for generation on a CPU: fp32 or bf16, whichever this machine runs faster.

Whether bf16 pays on a CPU depends on what the chip has (AMX tiles, AVX-512 BF16 dot
products, neither) and on which kernels this torch build dispatches to, so it is measured,
not guessed from a device name: the model's own linear layers, as one decode step of 16
rows calls them, timed in fp32 and in bf16 by turns (fastest pass of each). Tiny models
(test models) stay fp32 unmeasured: their steps are per-op overhead. The matmuls are most of a small model's decode
step; bf16 is picked only when it is clearly faster (`MARGIN`), since its greedy texts may
differ from fp32's. The verdict is cached per (CPU, torch version, layer shapes) under the
cache dir, so the measurement runs once per machine and model.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter

import torch

from loralab.io import write_json
from loralab.models import cache_dir

MARGIN = 1.15   # bf16 must be at least this much faster to be picked
ROWS = 16       # decode rows of the measured step (the evaluation batch size)
# below this many linear weights a decode step is per-op overhead, not matmuls: fp32, unmeasured
MIN_PARAMS = 20_000_000


def linear_shapes(model) -> Counter:
    """(out_features, in_features) -> how many linear layers of that shape (lm_head included)."""
    return Counter(tuple(m.weight.shape) for m in model.modules() if isinstance(m, torch.nn.Linear))


def step_seconds(shapes: Counter, dtypes: tuple[torch.dtype, ...], repeats: int = 7) -> list[float]:
    """Fastest seconds of one pass over all the linear layers with `ROWS` input rows, per dtype.

    The dtypes take turns (A B A B ...) and each keeps its fastest pass: a burst of load from
    other processes slows a pass or two of both, not all passes of one.
    """
    weights = {d: {s: torch.randn(*s, dtype=d) * 0.02 for s in shapes} for d in dtypes}
    xs = {d: {s: torch.randn(ROWS, s[1], dtype=d) for s in shapes} for d in dtypes}
    best = dict.fromkeys(dtypes, float("inf"))
    with torch.inference_mode():
        for rep in range(repeats + 1):
            for d in dtypes:
                t0 = time.perf_counter()
                for s, count in shapes.items():
                    for _ in range(count):
                        torch.nn.functional.linear(xs[d][s], weights[d][s])
                if rep:  # the first pass warms up the kernels
                    best[d] = min(best[d], time.perf_counter() - t0)
    return [best[d] for d in dtypes]


def measure(shapes: Counter) -> dict:
    """Seconds per decode step's matmuls in each dtype, and the pick."""
    fp32, bf16 = step_seconds(shapes, (torch.float32, torch.bfloat16))
    pick = "bfloat16" if bf16 * MARGIN < fp32 else "float32"
    return {"float32_s": round(fp32, 6), "bfloat16_s": round(bf16, 6), "pick": pick}


def cpu_name() -> str:
    """The CPU's model name and its flags that matter here (two chips of one name share them)."""
    from loralab.machine import cpu_flags, cpu_model

    return " ".join([cpu_model(), *sorted(f for f in cpu_flags() if f.startswith(("amx", "avx512_bf16", "avx512f")))])


def cpu_generation_dtype(model) -> tuple[torch.dtype, dict]:
    """The dtype generation should use for `model` on this CPU, and the measurement behind it."""
    shapes = linear_shapes(model)
    if sum(o * i * n for (o, i), n in shapes.items()) < MIN_PARAMS:
        return torch.float32, {"pick": "float32", "why": f"under {MIN_PARAMS} linear weights: not measured"}
    key = json.dumps([cpu_name(), torch.__version__, torch.get_num_threads(), sorted(shapes.items())])
    path = cache_dir() / "dtype" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    try:
        verdict = json.loads(path.read_text())
    except (OSError, ValueError):
        verdict = measure(shapes) | {"cpu": cpu_name(), "torch": torch.__version__,
                                     "threads": torch.get_num_threads()}
        write_json(path, verdict)
    return getattr(torch, verdict["pick"]), verdict
