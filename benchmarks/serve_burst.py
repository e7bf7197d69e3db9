"""A burst of unseeded chat requests against `loralab serve` (#13): batched vs sequential vs before.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/serve_burst.py [--model smollm2-135m-instruct]
        [--n 16] [--max-tokens 32] [--rounds 3]

Clients that follow OpenAI's defaults send no `seed`; the server then draws one per request.
Before #13 the seed was part of the batch key, so such requests never shared a batch. This
script starts two `loralab serve` processes on 127.0.0.1 (one as now, one with the hidden
`--seed-in-batch-key`, the old batching) and, for `--rounds` rounds, interleaves
  A  --n unseeded chat requests at once (one thread each)           against the new server
  B  the same --n requests one after another                       against the new server
  C  the same --n requests at once                                 against the old-batching server
so load from other work on a shared machine falls on every mode alike; each mode's mean rows
per batch comes from the servers' /health counters. It reports the median
and the spread (min, max) of the per-round ratios B/A and C/A with the machine's state at start
and end (benchmarks/harness.py), writes benchmarks/results/serve_burst.json and ends with that
JSON on one line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from harness import emit, environment, spread

PROMPTS = ["Write a Python function that returns the n-th Fibonacci number.", "Reverse a linked list in Python.",
           "Write a function that checks whether a string is a palindrome.", "Parse a CSV line into fields.",
           "Compute the greatest common divisor of two integers.", "Flatten a nested list.",
           "Count the words in a text file.", "Merge two sorted lists into one sorted list."]


def start(model: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """`loralab serve` on a free loopback port; (process, base URL) once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "loralab", "serve", "--model", model, "--port", "0", "--quiet",
                             "--host", "127.0.0.1", *extra], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if " at " not in line:
        proc.kill()
        raise SystemExit(f"error: loralab serve did not start: {line!r}")
    return proc, line.split(" at ")[1].split()[0]


def ask(url: str, i: int, max_tokens: int) -> int:
    """One unseeded chat request (OpenAI's defaults: temperature 1, no seed); completion tokens."""
    body = {"messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}], "max_tokens": max_tokens}
    req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read())["usage"]["completion_tokens"]


def burst(url: str, n: int, max_tokens: int) -> tuple[float, int]:
    """(seconds, completion tokens) for n requests sent at once."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        tokens = sum(pool.map(lambda i: ask(url, i, max_tokens), range(n)))
    return time.perf_counter() - t0, tokens


def one_by_one(url: str, n: int, max_tokens: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    tokens = sum(ask(url, i, max_tokens) for i in range(n))
    return time.perf_counter() - t0, tokens


def batching(url: str) -> tuple[int, int]:
    """(generate calls, rows decoded) so far, from the server's /health."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=60) as resp:
        health = json.loads(resp.read())
    return health["batches"], health["rows"]


def timed(mode, url: str, n: int, max_tokens: int) -> tuple[float, int, float]:
    """(seconds, completion tokens, mean rows per batch) of one mode."""
    b0, r0 = batching(url)
    seconds, tokens = mode(url, n, max_tokens)
    b1, r1 = batching(url)
    return seconds, tokens, round((r1 - r0) / max(1, b1 - b0), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    env_start = environment()
    new, new_url = start(args.model, "--batch-size", str(args.n))
    old, old_url = start(args.model, "--batch-size", str(args.n), "--seed-in-batch-key")
    rounds = []
    try:
        for url in (new_url, old_url):
            ask(url, 0, 2)  # warm-up: first-call allocations are not part of any mode
        for r in range(args.rounds):
            a, a_tok, a_rows = timed(burst, new_url, args.n, args.max_tokens)
            b, b_tok, b_rows = timed(one_by_one, new_url, args.n, args.max_tokens)
            c, c_tok, c_rows = timed(burst, old_url, args.n, args.max_tokens)
            rounds.append({"concurrent_s": round(a, 3), "sequential_s": round(b, 3), "old_concurrent_s": round(c, 3),
                           "tokens": [a_tok, b_tok, c_tok], "rows_per_batch": [a_rows, b_rows, c_rows],
                           "loadavg_1m": round(os.getloadavg()[0], 2)})
            print(f"round {r + 1}: concurrent {a:.2f} s, sequential {b:.2f} s, old batching {c:.2f} s  (tokens "
                  f"{a_tok}/{b_tok}/{c_tok}, rows per batch {a_rows}/{b_rows}/{c_rows}, load {os.getloadavg()[0]:.2f})",
                  file=sys.stderr, flush=True)
    finally:
        for proc in (new, old):
            proc.terminate()
            proc.wait(timeout=30)
    emit("serve_burst", {"model": args.model, "requests": args.n, "max_tokens": args.max_tokens, "rounds": rounds,
                         "speedup_vs_sequential": spread([x["sequential_s"] / x["concurrent_s"] for x in rounds]),
                         "speedup_vs_old_batching": spread([x["old_concurrent_s"] / x["concurrent_s"] for x in rounds]),
                         "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "env_start": env_start,
                         "env": environment()})


if __name__ == "__main__":
    main()
