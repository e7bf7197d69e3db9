"""Training throughput: the seeds' recipe against loralab's defaults, measured in one run.

    .venv/bin/python benchmarks/train_throughput.py [--tokens 12000] [--threads 1,N] [--pairs 3] [--batch 2]

Both train the embedded SmolLM2-135M-Instruct with the same LoRA (r=8, alpha=16, dropout
0.05, PEFT's default q_proj/v_proj), optimizer and schedule on the same CodeAlpaca-2k
examples (chat-templated prompt + response + EOS), one epoch over a fixed budget of real tokens:

  baseline  HF Trainer + PEFT + DataCollatorForLanguageModeling(mlm=False): batch 2 padded to its
            longest member, loss on every non-pad token, fp32 on CPU (the seeds' recipe, the
            Trainer's default; `--baseline-precision`)
  loralab   `loralab.train.sft.train` with its defaults: packed, padding-free batches with
            attention kept within examples, logits only where a label is supervised, and
            `train.precision: auto` (on CPU, bf16 autocast where a probe measures it faster)

Each phase runs in its own spawned process, so each peak memory (peak RSS, or CUDA max
allocated) is that phase's alone. At each thread count of `--threads` the two phases run
interleaved (baseline, loralab, baseline, ... `--pairs` pairs; benchmarks/harness.py); the
ratio at a thread count is the median of the pairwise tokens/s ratios (with min and max), and
`ratio` is the smallest of those medians, so one good thread count cannot hide a bad one. Afterwards both adapters are scored with one function on the
same held-out examples (loss per response token, EOS included), since the two objectives'
training losses are not comparable. MFU = the model FLOPs loralab needs per second (forward,
plus the backward LoRA needs: input gradients through the frozen weights, LoRA weight gradients;
logits only at supervised positions) over the matmul FLOP/s peak in the precision it trained in,
measured by each run's own process right after its run at its thread count (so load hits the
run and its peak alike); the median over runs, and `mfu` = the smallest over thread counts. Held-out losses
can differ beyond `--loss-tolerance` only if one recipe trained worse: the script then fails.
The last line is one JSON object, also written to benchmarks/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from harness import check_outputs, emit, environment, interleave, spread

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "instruct" / "code_alpaca_2k.json"
MODEL = "smollm2-135m-instruct"
LORA = {"r": 8, "alpha": 16, "dropout": 0.05}
HPARAMS = {"learning_rate": 2e-4, "warmup_ratio": 0.03, "scheduler": "cosine", "max_grad_norm": 1.0, "seed": 42}


# ----------------------------------------------------------------------------- data


def build_rows(tok, n_eval: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """CodeAlpaca rows as `loralab prepare` writes them (chat-templated prompt), shuffled; (pool, held-out)."""
    import random

    from loralab.models import chat_prompt

    raw = json.loads(DATA.read_text(encoding="utf-8"))
    random.Random(seed).shuffle(raw)
    rows = []
    for i, r in enumerate(raw):
        user = r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "")
        rows.append({"id": str(i), "prompt": chat_prompt(tok, user), "response": r["output"]})
    return rows[n_eval:], rows[:n_eval]


def take_tokens(rows: list[dict], tok, budget: int) -> tuple[list[dict], list]:
    """The first rows whose tokenised length (prompt + response + EOS) adds up to `budget`."""
    from loralab.train.batching import tokenize_instruction

    examples, _ = tokenize_instruction(rows[: budget // 20], tok, max_seq_len=1024)
    total = 0
    for n, ex in enumerate(examples, start=1):
        total += len(ex.input_ids)
        if total >= budget:
            return rows[:n], examples[:n]
    raise SystemExit(f"the data holds fewer than {budget} tokens")


# ----------------------------------------------------------------------------- phases (child processes)


def peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_baseline(model_dir: str, examples_ids: list[list[int]], precision: str, batch: int, out: str) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from loralab.models import load_tokenizer

    tok = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                                             task_type="CAUSAL_LM"))
    steps = math.ceil(len(examples_ids) / batch)
    args = TrainingArguments(
        output_dir=out, per_device_train_batch_size=batch, num_train_epochs=1, learning_rate=HPARAMS["learning_rate"],
        lr_scheduler_type=HPARAMS["scheduler"], warmup_steps=math.ceil(HPARAMS["warmup_ratio"] * steps),
        max_grad_norm=HPARAMS["max_grad_norm"], weight_decay=0.0, logging_steps=5, save_strategy="no",
        report_to=[], seed=HPARAMS["seed"], bf16=precision == "bf16", use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"input_ids": examples_ids}),
                      data_collator=DataCollatorForLanguageModeling(tok, mlm=False))
    result = trainer.train()
    model.save_pretrained(Path(out) / "adapter")
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"seconds": result.metrics["train_runtime"], "peak_mb": peak_mb(), "final_train_loss": losses[-1] if losses else result.training_loss,
            "adapter": str(Path(out) / "adapter"), "steps": trainer.state.global_step, "precision": precision}


def run_loralab(model_dir: str, data_dir: str, precision: str, batch: int, out: str) -> dict:
    from loralab.config import load_config
    from loralab.io import read_json
    from loralab.train.sft import train

    sets = [f"model.name={model_dir}", f"data.prepared={data_dir}", f"train.out_dir={out}", f"train.precision={precision}",
            f"train.batch_size={batch}", "train.epochs=1", "train.save_steps=100000", "train.logging_steps=5",
            f"adapter.r={LORA['r']}", f"adapter.alpha={LORA['alpha']}", f"adapter.dropout={LORA['dropout']}"]
    sets += [f"train.{k}={v}" for k, v in HPARAMS.items()]
    run = train(load_config(None, sets))
    s = read_json(run / "summary.json")
    # Training time alone: the Trainer baseline saves nothing during training and evaluates nothing.
    seconds = s["train_runtime"] - s["eval_seconds"] - s["checkpoint_seconds"]
    return {"seconds": seconds, "peak_mb": peak_mb(), "final_train_loss": s["final_loss"],
            "adapter": str(run / f"checkpoint-{s['steps']}"), "steps": s["steps"],
            "precision": read_json(run / "meta.json")["precision"]}


def _child(fn_name: str, kwargs: dict, queue) -> None:
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    threads = kwargs.pop("threads")
    torch.set_num_threads(threads)
    result = globals()[fn_name](**kwargs)
    if torch.get_num_threads() != threads:  # something in the phase changed the pool: its rate is not at `threads`
        raise SystemExit(f"error: the {fn_name} phase ran at {torch.get_num_threads()} threads, not {threads}")
    # The peak its MFU is measured against: this process, this thread count, the precision it
    # trained in, seconds after its run, so a burst of load on a shared machine hits both.
    queue.put(result | {"threads": threads, "matmul_peak": matmul_peak(result["precision"], pick_device_name())})


def pick_device_name() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def in_child(fn_name: str, **kwargs) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn_name, kwargs, queue))
    proc.start()
    while True:  # a child that dies (out of memory, an exception) must not leave the parent waiting forever
        try:
            result = queue.get(timeout=5)
            break
        except Exception:
            if not proc.is_alive():
                raise SystemExit(f"error: the {fn_name} phase died (exit code {proc.exitcode}); see its traceback above") from None
    proc.join()
    return result


# ----------------------------------------------------------------------------- FLOPs and MFU


def matmul_peak(precision: str, device: str) -> float:
    """Best FLOP/s of dense matmuls in `precision`: the model's own GEMM shapes and a large square one.

    Each shape is timed in 3 windows of 0.05-0.1 s and the best window counts: a peak is what the
    hardware can do, so a window that load interrupted should not lower it.
    """
    import torch
    import torch.nn.functional as F

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    best = 0.0
    for m, k, n in ((512, 576, 1536), (1024, 1536, 576), (1024, 576, 576), (2048, 2048, 2048)):
        x, w = torch.randn(m, k, dtype=dtype, device=device), torch.randn(n, k, dtype=dtype, device=device)
        for _ in range(3):
            F.linear(x, w)
        def run(x=x, w=w):
            F.linear(x, w)

        reps = 1
        while _timed(run, reps, device) < 0.05 and reps < 4096:  # a window of ~0.05-0.1 s
            reps *= 2
        best = max(best, 2 * m * k * n * reps / min(_timed(run, reps, device) for _ in range(3)))
    return best


def _timed(fn, reps: int, device: str) -> float:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def train_flops(cfg, examples, supervised_logits: bool) -> float:
    """Matmul FLOPs one LoRA training pass over `examples` needs (forward + LoRA's backward).

    Frozen linears: forward 2*params per token, backward only the input gradient (the same
    again), except layer 0's q/k/v whose input gradient would only reach the frozen
    embedding. LoRA (q, v): forward, input gradient and weight gradient, 3 x 2*params.
    Causal attention: QK^T and PV, 2*2*h*hd per (query, key<=query) pair; backward twice that.
    lm_head: 2*d*V per position whose logits are computed, forward + input gradient.
    """
    d, L, ff, V = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size, cfg.vocab_size
    hd = getattr(cfg, "head_dim", None) or d // cfg.num_attention_heads
    q_out, kv_out = cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd
    linear = d * q_out + 2 * d * kv_out + q_out * d + 3 * d * ff
    qkv = d * q_out + 2 * d * kv_out
    lora = LORA["r"] * (d + q_out) + LORA["r"] * (d + kv_out)
    tokens = sum(len(e.input_ids) for e in examples)
    logits = sum(e.n_supervised for e in examples) if supervised_logits else tokens
    pairs = sum(n * (n + 1) // 2 for n in (len(e.input_ids) for e in examples))
    body = tokens * (2 * linear * L + 2 * linear * L - 2 * qkv)
    return body + tokens * L * 3 * 2 * lora + 3 * 4 * q_out * pairs * L + 2 * 2 * d * V * logits


# ----------------------------------------------------------------------------- held-out loss


def heldout_loss(model_dir: str, adapter: str, examples, device: str) -> float:
    """Loss per supervised token (response + EOS) of base + adapter on `examples`, fp32."""
    import torch

    from loralab.config import ModelConfig
    from loralab.models import load_adapter, load_model, load_tokenizer
    from loralab.train.batching import collate
    from loralab.train.sft import loss_sum

    model, _ = load_model(ModelConfig(name=model_dir, device=device, dtype="float32"))
    model = load_adapter(model, adapter).eval()
    pad = load_tokenizer(model_dir).pad_token_id
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(examples), 8):
            total += loss_sum(model, collate(examples[i:i + 8], "packed", pad).to(device)).item()
    return total / sum(e.n_supervised for e in examples)


# ----------------------------------------------------------------------------- main


def thread_counts(spec: str) -> list[int]:
    """"1,N" -> [1, os.cpu_count()]; duplicates dropped, order kept."""
    counts = [os.cpu_count() or 1 if part.strip().upper() == "N" else int(part) for part in spec.split(",")]
    if any(t < 1 for t in counts):
        raise SystemExit(f"error: --threads takes counts >= 1 (or N), got {spec!r}")
    return list(dict.fromkeys(counts))


def at_threads(threads: int, pairs: int, model_dir: str, data_dir: Path, examples, precision: dict, batch: int,
               tmp: Path) -> tuple[dict, list, list]:
    """Interleaved (baseline, loralab) training runs at one thread count; (summary, baseline runs, loralab runs)."""
    tokens = sum(len(e.input_ids) for e in examples)
    ids = [list(e.input_ids) for e in examples]
    count = iter(range(10**6))

    def baseline() -> dict:
        r = in_child("run_baseline", threads=threads, model_dir=model_dir, examples_ids=ids,
                     precision=precision["baseline"], batch=batch, out=str(tmp / f"baseline-{threads}t-{next(count)}"))
        return r | {"rate": tokens / r["seconds"]}

    def ours() -> dict:
        r = in_child("run_loralab", threads=threads, model_dir=model_dir, data_dir=str(data_dir),
                     precision=precision["loralab"], batch=batch, out=str(tmp / f"loralab-{threads}t-{next(count)}"))
        return r | {"rate": tokens / r["seconds"]}

    runs = interleave(baseline, ours, pairs)
    summary = runs.summary()
    print(f"{threads} thread(s): baseline {summary['baseline']['median']:.1f} tok/s, loralab "
          f"{summary['loralab']['median']:.1f} tok/s, ratio {summary['ratio']}", file=sys.stderr)
    return summary, runs.a, runs.b


def mfu_of(runs: list[dict], flops: float) -> float:
    """Median over runs of (FLOPs / run seconds) / the matmul peak that run's own process measured."""
    return round(sorted(flops / r["seconds"] / r["matmul_peak"] for r in runs)[len(runs) // 2], 3)


def one(runs: list[dict], key: str):
    """The value of `key` all runs share (a phase's resolved precision); fails if they disagree."""
    values = {r[key] for r in runs}
    if len(values) != 1:
        raise SystemExit(f"error: the runs disagree on {key}: {sorted(values)}")
    return values.pop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=12000, help="Real tokens each phase trains on.")
    parser.add_argument("--precision", default="auto",
                        help="loralab's train.precision: auto (its default: measured per machine on CPU), fp32, bf16.")
    parser.add_argument("--baseline-precision", default="auto",
                        help="The seeds' recipe's precision: auto = fp32 on CPU (the Trainer's default), bf16 on CUDA.")
    parser.add_argument("--batch", type=int, default=2, help="Examples per optimizer step, both phases.")
    parser.add_argument("--eval", type=int, default=64, help="Held-out examples for the final loss.")
    parser.add_argument("--threads", default="1,N", help="Torch thread counts to measure at; N = all cores.")
    parser.add_argument("--pairs", type=int, default=3, help="Interleaved (baseline, loralab) pairs per thread count.")
    parser.add_argument("--loss-tolerance", type=float, default=0.05,
                        help="Largest held-out loss difference (nats per token) accepted between the two adapters.")
    args = parser.parse_args()

    from transformers import AutoConfig

    from loralab.io import write_jsonl
    from loralab.models import load_tokenizer, pick_device, resolve
    from loralab.train.batching import tokenize_instruction

    if not DATA.exists():
        raise SystemExit(f"error: needs {DATA}")
    threads = thread_counts(args.threads)
    device = pick_device("auto")
    baseline_precision = args.baseline_precision if args.baseline_precision != "auto" else \
        "fp32" if device == "cpu" else "bf16"
    precision = {"baseline": baseline_precision, "loralab": args.precision}  # loralab resolves its own `auto`
    model_dir = resolve(MODEL)
    tok = load_tokenizer(model_dir)
    pool, held = build_rows(tok, args.eval)
    rows, examples = take_tokens(pool, tok, args.tokens)
    held_examples, _ = tokenize_instruction(held, tok, 1024)
    tokens = sum(len(e.input_ids) for e in examples)
    cfg = AutoConfig.from_pretrained(model_dir)
    env_start = environment()

    by_threads, mfu, base_mfu, last, used = {}, {}, {}, None, {}
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        write_jsonl(data_dir / "train.jsonl", rows)
        print(f"{len(examples)} examples, {tokens} real tokens, {device}, precision {precision}, threads {threads}, "
              f"load average {os.getloadavg()}", file=sys.stderr)
        for t in threads:
            summary, base_runs, our_runs = at_threads(t, args.pairs, model_dir, data_dir, examples, precision,
                                                      args.batch, Path(tmp))
            used = {"baseline": one(base_runs, "precision"), "loralab": one(our_runs, "precision")}
            peaks = lambda runs: spread([r["matmul_peak"] / 1e9 for r in runs], 1)  # noqa: E731
            by_threads[str(t)] = summary | {
                "precision": used, "matmul_peak_gflops": peaks(our_runs), "baseline_matmul_peak_gflops": peaks(base_runs),
                "baseline_peak_mb": round(max(r["peak_mb"] for r in base_runs), 1),
                "loralab_peak_mb": round(max(r["peak_mb"] for r in our_runs), 1)}
            mfu[str(t)] = mfu_of(our_runs, train_flops(cfg, examples, True))
            base_mfu[str(t)] = mfu_of(base_runs, train_flops(cfg, examples, False))
            last = base_runs[-1], our_runs[-1]
        base_loss = heldout_loss(model_dir, last[0]["adapter"], held_examples, device)
        ours_loss = heldout_loss(model_dir, last[1]["adapter"], held_examples, device)
    check_outputs([base_loss], [ours_loss], args.loss_tolerance, "held-out losses (nats per response token)")

    ratios = {t: s["ratio"]["median"] for t, s in by_threads.items()}
    emit("train_throughput", {
        "ratio": min(ratios.values()), "ratio_by_threads": ratios, "mfu": min(mfu.values()), "mfu_by_threads": mfu,
        "baseline_mfu_by_threads": base_mfu,
        "baseline_tokens_per_s": {t: s["baseline"]["median"] for t, s in by_threads.items()},
        "loralab_tokens_per_s": {t: s["loralab"]["median"] for t, s in by_threads.items()},
        "by_threads": by_threads,
        "baseline_final_loss": round(base_loss, 4), "loralab_final_loss": round(ours_loss, 4),
        "baseline_train_loss_all_tokens": round(last[0]["final_train_loss"], 4),
        "loralab_train_loss_response": round(last[1]["final_train_loss"], 4),
        "steps": [last[0]["steps"], last[1]["steps"]], "real_tokens": tokens, "examples": len(examples),
        "heldout_examples": len(held_examples), "precision": used["loralab"],
        "baseline_precision": used["baseline"], "device": device, "pairs": args.pairs,
        "loss_tolerance": args.loss_tolerance, "env_start": env_start, "env": environment(),
    })


if __name__ == "__main__":
    main()
