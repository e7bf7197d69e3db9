"""Where a LoRA training step's time goes on this CPU, and how far eager PyTorch is from the MFU target.

    .venv/bin/python benchmarks/train_step_profile.py [--tokens 1500] [--batches 2,8] [--pairs 3] [--compile]

The model, adapter, data and FLOP count are train_throughput.py's (SmolLM2-135M-Instruct, LoRA r=8
on q/v, CodeAlpaca examples, packed rows, logits only where supervised), in the precision
loralab trains in here (`train.precision: auto`), at all threads. Three measurements:

  matmuls   Every GEMM one epoch of real steps issues (aten mm/addmm/bmm, shapes, strides and
            dtypes, recorded below autograd by a dispatch mode) is replayed alone, on tensors of
            the same layout. Epochs of whole steps (forward, backward, clipping, fused AdamW) and
            replays alternate (`--pairs`). `mfu` is the step's; `matmul_ceiling_mfu` is what a
            step whose non-matmul work took no time would reach (its GEMMs at the speed they run);
            `matmul_share` is replay time over step time. Per batch size of `--batches` (examples
            per step; train_throughput.py uses 2).
  attention Each layer's attention over the packed examples, forward and backward on the real
            example lengths, with PyTorch's flash kernel in the compute dtype against the same
            kernel on fp32 copies (what loralab's segment attention runs for bf16/fp16 on CPU);
            alternating; the outputs must agree within 2e-2.
  compile   (--compile) torch.compile (inductor) of the loss on one batch of fixed shape: the
            first call's seconds (compilation, into an empty inductor cache), then compiled and
            eager steps alternating.

Peak = train_throughput.matmul_peak in the same precision, measured in this process after each
timed section. The last line is one JSON object, also written to
benchmarks/results/train_step_profile.json.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

from harness import check_outputs, emit, environment, spread
from train_throughput import MODEL, build_rows, matmul_peak, take_tokens, train_flops

GEMMS = ("mm", "addmm", "bmm", "baddbmm")


def build_model(model_dir: str, precision: str):
    """The model as loralab's trainer builds it on CPU: frozen base in the compute dtype, LoRA, segment attention."""
    import torch

    from loralab.config import AdapterConfig, ModelConfig
    from loralab.models import load_model
    from loralab.train.attention import use_segment_attention
    from loralab.train.lora import attach

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[precision]
    torch.manual_seed(42)
    model, _ = load_model(ModelConfig(name=model_dir, device="cpu", dtype="float32"), device="cpu", dtype=dtype)
    use_segment_attention(model)
    model = attach(model, AdapterConfig(r=8, alpha=16, dropout=0.05), gradient_checkpointing=False)
    return model.train()


class Stepper:
    """One optimizer step per batch, as loralab's loop takes it (loss per supervised token, clip 1.0, fused AdamW)."""

    def __init__(self, model, precision: str):
        import torch

        self.model, self.precision = model, precision
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=2e-4, fused=True)

    def loss(self, batch):
        import torch

        from loralab.train.sft import loss_sum

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            return loss_sum(self.model, batch)

    def step(self, batch, loss_fn=None) -> float:
        import torch

        loss = (loss_fn or self.loss)(batch)
        (loss / batch.targets.numel()).backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss.item()


def record_gemms(stepper: Stepper, batches) -> list[tuple]:
    """(op name, ((shape, stride, dtype) per tensor argument), scalars) of every GEMM one epoch issues."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    calls: list[tuple] = []

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.__name__.split(".")[0] in GEMMS:
                tensors = tuple((tuple(a.shape), tuple(a.stride()), a.dtype) for a in args if isinstance(a, torch.Tensor))
                calls.append((func, tensors, dict(kwargs or {})))
            return func(*args, **(kwargs or {}))

    with Recorder():
        for b in batches:
            stepper.step(b)
    return calls


def gemm_flops(calls: list[tuple]) -> float:
    """2*m*n*k summed over the recorded GEMMs (batched ones times their batch)."""
    total = 0.0
    for _, tensors, _ in calls:
        a, b = tensors[-2][0], tensors[-1][0]  # addmm/baddbmm: (bias, a, b)
        total += 2 * math.prod(a) * b[-1]
    return total


def replayer(calls: list[tuple]):
    """A function that runs the recorded GEMMs alone, on random tensors of the same shapes, strides and dtypes."""
    import torch

    pool: dict = {}

    def tensor(spec):
        if spec not in pool:
            shape, stride, dtype = spec
            # as much storage as the layout spans (stride 0: an expanded tensor, as autograd passes)
            span = 1 + sum((n - 1) * st for n, st in zip(shape, stride, strict=True)) if all(shape) else 0
            pool[spec] = (torch.randn(span) * 0.1).to(dtype).as_strided(shape, stride)
        return pool[spec]

    plan = [(func, [tensor(s) for s in tensors], kwargs) for func, tensors, kwargs in calls]

    def replay() -> None:
        for func, args, kwargs in plan:
            func(*args, **kwargs)

    return replay


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def profile_batch(stepper: Stepper, examples, size: int, pairs: int, precision: str, cfg) -> dict:
    """Step epochs against replays of their GEMMs, alternating, at `size` examples per step."""
    from loralab.train.batching import collate

    batches = [collate(examples[i:i + size], "packed", 0) for i in range(0, len(examples), size)]
    calls = record_gemms(stepper, batches)  # also the warm-up: every shape has been seen once
    replay = replayer(calls)
    replay()
    steps, replays, peaks = [], [], []
    for _ in range(pairs):
        steps.append(timed(lambda: [stepper.step(b) for b in batches]))
        replays.append(timed(replay))
        peaks.append(matmul_peak(precision, "cpu"))
    flops, gemm = train_flops(cfg, examples, True), gemm_flops(calls)
    peak = sorted(peaks)[len(peaks) // 2]
    tokens = sum(len(e.input_ids) for e in examples)
    step_s, replay_s = spread(steps), spread(replays)
    return {"examples_per_step": size, "steps": len(batches), "tokens": tokens,
            "step_epoch_s": step_s, "gemm_replay_s": replay_s,
            "gemm_calls": len(calls), "gemm_flops": gemm, "model_flops": flops,
            "tokens_per_s": round(tokens / step_s["median"], 1),
            "gemm_gflops_per_s": round(gemm / replay_s["median"] / 1e9, 1),
            "matmul_peak_gflops": spread([p / 1e9 for p in peaks], 1),
            "mfu": spread([flops / s / peak for s in steps]),
            "matmul_ceiling_mfu": spread([flops / r / peak for r in replays]),
            "matmul_share": spread([r / s for r, s in zip(replays, steps, strict=True)])}

def attention_ab(examples, size: int, pairs: int, cfg, precision: str) -> dict:
    """Per-example causal attention, forward + backward: the compute dtype's flash kernel vs fp32 copies."""
    import torch
    import torch.nn.functional as F

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[precision]
    h, hkv = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // h
    rows = [[len(e.input_ids) for e in examples[i:i + size]] for i in range(0, len(examples), size)]
    g = torch.Generator().manual_seed(0)
    data = [[(torch.randn(1, h, n, hd, generator=g).to(dtype), torch.randn(1, hkv, n, hd, generator=g).to(dtype),
              torch.randn(1, hkv, n, hd, generator=g).to(dtype), torch.randn(1, h, n, hd, generator=g).to(dtype))
             for n in row] for row in rows]

    def attend(q, k, v, fp32: bool):
        if fp32:
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True,
                                                  enable_gqa=True).to(q.dtype)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

    def epoch(fp32: bool) -> list:
        outs = []
        for row in data:
            for _ in range(cfg.num_hidden_layers):
                for q, k, v, grad in row:
                    q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
                    out = attend(q, k, v, fp32)
                    out.backward(grad)
            outs.append(out.detach().float().flatten()[:256].tolist())
        return outs

    check_outputs([x for o in epoch(False) for x in o], [x for o in epoch(True) for x in o], 2e-2,
                  "attention outputs, compute dtype vs fp32")
    native, fp32 = [], []
    for _ in range(pairs):
        native.append(timed(lambda: epoch(False)))
        fp32.append(timed(lambda: epoch(True)))
    return {"precision": precision, "segments": sum(len(r) for r in rows), "layers": cfg.num_hidden_layers,
            "native_s": spread(native), "fp32_s": spread(fp32),
            "speedup_fp32": spread([a / b for a, b in zip(native, fp32, strict=True)])}


def compile_ab(stepper: Stepper, examples, size: int, pairs: int) -> dict:
    """torch.compile of the loss on one fixed-shape batch: compile seconds, then compiled vs eager steps."""
    import torch

    from loralab.train.batching import collate

    batch = collate(examples[:size], "packed", 0)
    compiled = torch.compile(stepper.loss, dynamic=False)
    first = timed(lambda: stepper.step(batch, compiled))
    for _ in range(2):
        stepper.step(batch, compiled)
        stepper.step(batch)
    reps = 5
    eager, comp = [], []
    for _ in range(pairs):
        eager.append(timed(lambda: [stepper.step(batch) for _ in range(reps)]) / reps)
        comp.append(timed(lambda: [stepper.step(batch, compiled) for _ in range(reps)]) / reps)
    return {"tokens": batch.n_tokens,
            "first_call_s": round(first, 1), "eager_step_s": spread(eager), "compiled_step_s": spread(comp),
            "speedup_compiled": spread([a / b for a, b in zip(eager, comp, strict=True)])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1500, help="Real tokens in the epoch profiled.")
    parser.add_argument("--batches", default="2,8", help="Examples per step to profile at, comma-separated.")
    parser.add_argument("--pairs", type=int, default=3, help="Alternating (A, B) pairs per measurement.")
    parser.add_argument("--eval", type=int, default=16,
                        help="Rows held out first, as train_throughput.py's --eval (make bench: 16), so both take the same examples.")
    parser.add_argument("--compile", action="store_true", help="Also time torch.compile (minutes to compile).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batches.split(",")]
    if args.tokens < 1 or args.pairs < 1 or args.eval < 0 or any(s < 1 for s in sizes):
        raise SystemExit("error: --tokens, --pairs and every --batches size must be >= 1, --eval >= 0")

    if args.compile:  # a cold compile, as on a fresh machine: not what an earlier run left in inductor's cache
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    import torch
    from transformers import AutoConfig

    from loralab.models import load_tokenizer, resolve
    from loralab.train.precision import cpu_precision

    torch.set_num_threads(os.cpu_count() or 1)
    env_start = environment()
    model_dir = resolve(MODEL)
    tok = load_tokenizer(model_dir)
    pool, _ = build_rows(tok, args.eval)
    _, examples = take_tokens(pool, tok, args.tokens)
    cfg = AutoConfig.from_pretrained(model_dir)
    precision = cpu_precision()
    stepper = Stepper(build_model(model_dir, precision), precision)
    print(f"{len(examples)} examples, precision {precision}, {torch.get_num_threads()} threads", file=sys.stderr)

    by_batch = {}
    for size in sizes:
        by_batch[str(size)] = profile_batch(stepper, examples, size, args.pairs, precision, cfg)
        b = by_batch[str(size)]
        print(f"batch {size}: mfu {b['mfu']['median']}, ceiling {b['matmul_ceiling_mfu']['median']}, "
              f"matmul share {b['matmul_share']['median']}", file=sys.stderr)
    figures = {"precision": precision, "threads": torch.get_num_threads(), "by_batch": by_batch,
               "attention": attention_ab(examples, sizes[0], args.pairs, cfg, precision)}
    if args.compile:
        figures["compile"] = compile_ab(stepper, examples, sizes[0], args.pairs)
    emit("train_step_profile", figures | {"env_start": env_start, "env": environment()})


if __name__ == "__main__":
    main()
