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

import time
from functools import lru_cache

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
