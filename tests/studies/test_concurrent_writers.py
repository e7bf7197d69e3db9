"""What the runs of a study share, written by several processes at once (runs as Ray tasks):
the lock file itself, the generation cache and the prepared-data directory. Plain forked
processes stand in for Ray workers; the point is that nothing one writer adds is lost."""

from __future__ import annotations

import json
import multiprocessing
import random
import time

from loralab.inference.cache import CachedGenerator
from loralab.inference.generate import GenRequest, SamplingParams
from loralab.io import file_lock, lock_path, read_json, write_json

FORK = multiprocessing.get_context("fork")  # the children need none of torch: forking is safe and fast


def _count_up(path: str, times: int) -> None:
    for _ in range(times):
        with file_lock(lock_path(path)):
            n = read_json(path)["n"]
            time.sleep(0.001)  # widen the window a missing lock would lose updates in
            write_json(path, {"n": n + 1})


def test_file_lock_makes_read_modify_write_lose_nothing(tmp_path):
    path = tmp_path / "counter.json"
    write_json(path, {"n": 0})
    procs = [FORK.Process(target=_count_up, args=(str(path), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    assert read_json(path) == {"n": 100}


class Labelled:
    """A stand-in backend: each completion names the process that made it, so the test can
    tell whose answer the cache kept and whether every process returned that same answer."""

    name, tok, adapters, router, streams = "labelled", None, {}, None, False

    def __init__(self, label: str):
        self.label = label

    def identity(self, adapter):
        return "labelled-model"

    def generate(self, requests, params):
        time.sleep(0.002)
        return [[f"{r.prompt} by {self.label}"] for r in requests]


def _generate(path: str, label: str, prompts: list[str], out: str) -> None:
    gen = CachedGenerator(Labelled(label), path, task="t", chunk=3)
    comps = gen.generate([GenRequest(prompt=p, key=p) for p in prompts], SamplingParams(max_new_tokens=4))
    with open(out, "w") as f:
        json.dump(dict(zip(prompts, comps, strict=True)), f)


def test_generation_cache_with_four_writers_keeps_every_key_once(tmp_path):
    path = tmp_path / "cache" / "generations.jsonl"
    shared = [f"shared {i}" for i in range(30)]  # every writer asks for these (a study's base system)
    procs, outs = [], []
    for w in range(4):
        prompts = shared + [f"own {w}.{i}" for i in range(10)]  # ... and these only it asks for (its adapter)
        random.Random(w).shuffle(prompts)
        outs.append(tmp_path / f"out{w}.json")
        procs.append(FORK.Process(target=_generate, args=(str(path), f"w{w}", prompts, str(outs[-1]))))
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    keys = [r["request"] for r in rows]
    assert len(keys) == len(set(keys)) == 30 + 40, "a line was lost or a key written twice"
    kept = {r["request"]: r["completions"] for r in rows}
    for out in outs:  # every writer returned what the file kept, even where another wrote first
        for prompt, comps in json.loads(out.read_text()).items():
            assert comps == kept[prompt]
    # and a later reader answers all of it from the file
    again = Labelled("late")
    gen = CachedGenerator(again, path, task="t")
    assert gen.generate([GenRequest(prompt=p, key=p) for p in shared], SamplingParams(max_new_tokens=4)) == \
        [kept[p] for p in shared] and gen.calls == 0


def test_a_cache_sees_what_another_process_appended_since_it_opened(tmp_path):
    path = tmp_path / "generations.jsonl"
    reqs = [GenRequest(prompt=f"p{i}", key=f"p{i}") for i in range(4)]
    params = SamplingParams(max_new_tokens=4)
    early = CachedGenerator(Labelled("early"), path, task="t")  # opened before anything was written
    p = FORK.Process(target=_generate, args=(str(path), "other", [r.prompt for r in reqs], str(tmp_path / "o.json")))
    p.start()
    p.join(60)
    assert early.generate(reqs, params) == [[f"p{i} by other"] for i in range(4)] and early.calls == 0
