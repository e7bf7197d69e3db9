"""Generation cache: resume without regenerating, key separation, torn last line after a crash."""

import json

import pytest

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.cache import CachedGenerator
from loralab.inference.generate import GenRequest, SamplingParams

GREEDY = SamplingParams(max_new_tokens=6)


class Counting:
    """Wraps the real generator and counts the requests it is asked for."""

    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.name, self.seen, self.fail_after = inner, inner.name, 0, fail_after
        self.tok, self.adapters, self.router, self.streams = inner.tok, inner.adapters, inner.router, False

    def identity(self, adapter):
        return self.inner.identity(adapter)

    def generate(self, requests, params):
        if self.fail_after is not None and self.seen >= self.fail_after:
            raise KeyboardInterrupt  # the evaluation is killed here
        self.seen += len(requests)
        return self.inner.generate(requests, params)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)), batch_size=4)


def reqs(n):
    return [GenRequest(prompt=f"def f{i}(x):", key=f"task/{i}") for i in range(n)]


def test_second_run_generates_nothing(tiny, tmp_path):
    path = tmp_path / "cache.jsonl"
    first = Counting(tiny)
    out1 = CachedGenerator(first, path, task="t").generate(reqs(5), GREEDY)
    assert first.seen == 5
    again = Counting(tiny)
    out2 = CachedGenerator(again, path, task="t").generate(reqs(5), GREEDY)
    assert again.seen == 0 and out2 == out1
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 5 and {r["request"] for r in rows} == {f"task/{i}" for i in range(5)}


def test_interrupted_run_resumes_where_it_stopped(tiny, tmp_path):
    path = tmp_path / "cache.jsonl"
    killed = Counting(tiny, fail_after=4)
    with pytest.raises(KeyboardInterrupt):
        CachedGenerator(killed, path, task="t", chunk=2).generate(reqs(7), GREEDY)
    assert len(path.read_text().splitlines()) == 4  # two chunks were saved before the kill
    resumed = Counting(tiny)
    out = CachedGenerator(resumed, path, task="t", chunk=2).generate(reqs(7), GREEDY)
    assert resumed.seen == 3
    assert out == tiny.generate(reqs(7), GREEDY)


def test_key_covers_task_params_adapter_and_prompt(tiny, tmp_path):
    cache = CachedGenerator(tiny, tmp_path / "c.jsonl", task="humaneval")
    r = GenRequest(prompt="x")
    keys = {cache.key(r, GREEDY), cache.key(GenRequest(prompt="y"), GREEDY),
            cache.key(r, SamplingParams(max_new_tokens=7)), cache.key(r, SamplingParams(max_new_tokens=6, n=2)),
            CachedGenerator(tiny, tmp_path / "c.jsonl", task="mbpp").key(r, GREEDY),
            cache.key(GenRequest(messages=({"role": "user", "content": "x"},)), GREEDY)}
    assert len(keys) == 6
    # greedy decoding does not depend on seed or top_p, so they must not split the cache
    assert cache.key(r, SamplingParams(max_new_tokens=6, seed=3, top_p=0.5)) == cache.key(r, GREEDY)
    assert cache.key(r, SamplingParams(temperature=1, seed=1)) != cache.key(r, SamplingParams(temperature=1, seed=2))


def test_torn_last_line_is_ignored_and_repaired(tiny, tmp_path):
    path = tmp_path / "cache.jsonl"
    CachedGenerator(tiny, path).generate(reqs(2), GREEDY)
    good = path.read_text()
    path.write_text(good + '{"key": "abc", "completi')  # killed mid-write
    counting = Counting(tiny)
    cache = CachedGenerator(counting, path)
    cache.generate(reqs(3), GREEDY)
    assert counting.seen == 1
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)  # the fragment was truncated, not glued


def test_corrupt_middle_line_is_one_clear_error(tiny, tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text('{"key": "a", "completions": ["x"]}\nnot json\n{"key": "b", "completions": ["y"]}\n')
    with pytest.raises(LoralabError, match=r"cache.jsonl:2: not a generation-cache line"):
        CachedGenerator(tiny, path)


class FixedIdentity:
    """A generator whose identity is fixed, so a cache key depends on the key function alone."""

    name, tok, adapters, router, streams = "fixed", None, {}, None, False

    def identity(self, adapter):
        base = "transformers:tiny@0123456789ab"
        return base if adapter in (None, "__base__") else f"{base}+{adapter}=feedfacecafe"

    def generate(self, requests, params, on_text=None):
        raise AssertionError("every request here must be a cache hit")


def test_cache_keys_are_those_written_before_the_relayering(tmp_path):
    """Keys computed by loralab/eval/backends/cache.py before #14 moved it: a resumed study
    still gets 100% cache hits. Changing the key function fails here first."""
    cache = CachedGenerator(FixedIdentity(), tmp_path / "c.jsonl", task="humaneval")
    completion = GenRequest(prompt="def add(a, b):", key="HumanEval/0")
    chat = GenRequest(messages=({"role": "user", "content": "Reverse a string."},), adapter="checkpoint-20", key="x")
    sampled = SamplingParams(n=4, temperature=0.8, seed=3, stop_after_code_block=True)
    assert cache.key(completion, SamplingParams(n=1, max_new_tokens=64, stop=("\ndef",))) == \
        "baa6a73087a60432877a9911f1b04cb7bfc56fad828a62ab31be8feb390243b3"
    assert cache.key(chat, sampled) == "420d7168aecbf9cec8c82cacf57b3e04f8c48921990a1261aca2d5d036a5fd43"
    # an old cache file with that line answers without calling the generator, and reports it
    (tmp_path / "c.jsonl").write_text(json.dumps({"key": cache.key(chat, sampled), "request": "x",
                                                   "completions": ["a", "b", "c", "d"]}) + "\n")
    seen = []
    again = CachedGenerator(FixedIdentity(), tmp_path / "c.jsonl", task="humaneval")
    assert again.generate([chat], sampled, on_text=lambda i, j, t: seen.append((i, j, t))) == [["a", "b", "c", "d"]]
    assert seen == [(0, 0, "a"), (0, 1, "b"), (0, 2, "c"), (0, 3, "d")]
