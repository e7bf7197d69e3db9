"""The precision `train.precision: auto` trains in on a CPU: measured on this machine, not guessed.

bf16 autocast pays only where the CPU multiplies bf16 natively (AMX tiles, or AVX-512-BF16
dot products that oneDNN uses) and the matmuls dominate; elsewhere oneDNN emulates bf16 and
it is slower than fp32 (an Intel Xeon with AVX-512-BF16 measured ~150 vs ~250 GFLOP/s). A
CPU's name or flags do not say which, so `auto` times the same matmul in both precisions at
the current thread count, once per process (~0.1 s idle, seconds on a loaded machine), and picks bf16 only when it is at
least `BF16_MARGIN` faster: the casts autocast adds and the element-wise work it does not
speed up eat part of a matmul gain (see docs/training.md, "Speed").
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loralab.config import RunConfig

BF16_MARGIN = 1.3  # bf16 matmul FLOP/s over fp32 needed before auto trains in bf16
# (tokens, in, out) of the probe: a LoRA step's token count times an MLP-sized projection.
SHAPE = (256, 1024, 1024)


def _flops_per_s(dtype, reps: int = 2) -> float:
    """Best of 3 windows of `reps` (M, K) x (K, N) products in `dtype`, after a warm-up."""
    import torch
    import torch.nn.functional as F

    m, k, n = SHAPE
    x, w = torch.randn(m, k).to(dtype), torch.randn(n, k).to(dtype)
    F.linear(x, w)  # oneDNN builds its kernel for the shape on the first call
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            F.linear(x, w)
        best = min(best, time.perf_counter() - t0)
    return 2 * m * k * n * reps / best


@lru_cache(maxsize=8)
def cpu_bf16_speedup(threads: int) -> float:
    """bf16 matmul FLOP/s over fp32 on this CPU at `threads` torch threads (cached per count)."""
    import torch

    return _flops_per_s(torch.bfloat16) / _flops_per_s(torch.float32)


def cpu_precision() -> str:
    """'bf16' where this CPU's bf16 matmuls beat fp32 by BF16_MARGIN at the current thread count, else 'fp32'."""
    import torch

    return "bf16" if cpu_bf16_speedup(torch.get_num_threads()) >= BF16_MARGIN else "fp32"


def world_size() -> int:
    """Processes of this training run (accelerate/torchrun set WORLD_SIZE; 1 when launched alone)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def reset_accelerate() -> None:
    """Forget accelerate's process-wide state, so the next Accelerator may take another precision.

    Only for a single process: with several, the state holds the process group."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def resolve_precision(cfg: RunConfig, device: str, *, world: int = 1) -> str:
    """'fp32' | 'bf16' | 'fp16'. auto follows model.dtype: bf16 on CUDA; on CPU, measured.

    On CPU, auto trains in bf16 autocast only where this CPU's bf16 matmuls measure at least
    1.3x its fp32 ones (loralab.train.precision): AVX-512-BF16/AMX CPUs gain, others lose (an
    Intel Xeon with AVX-512-BF16 but no AMX ran bf16 at ~150 GFLOP/s, fp32 at ~250). fp32
    stays where bf16 would change more than speed: QLoRA (its compute dtype is its own key),
    PiSSA/OLoRA (W_res rounded to bf16 would no longer equal W - s B0 A0), an explicit
    model.dtype, and several processes (each would measure, and might choose, apart).
    """
    from loralab.errors import LoralabError
    from loralab.models import pick_dtype

    if cfg.train.precision != "auto":
        if cfg.train.precision == "fp16" and device == "cpu":
            raise LoralabError("train.precision: fp16 needs a GPU; use fp32 or bf16 on CPU")
        return cfg.train.precision
    if device == "cpu" and cfg.model.dtype == "auto" and world == 1 and cfg.adapter.method != "qlora" \
            and cfg.adapter.init not in ("pissa", "olora"):
        return cpu_precision()
    dtype = str(pick_dtype(cfg.model.dtype, device)).removeprefix("torch.")
    return {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}[dtype]
