"""Every backend, and the cache around one, provides the whole Generator protocol (#14):
callers read these members instead of probing with getattr/hasattr/inspect."""

import pytest

from loralab.config import ModelConfig
from loralab.inference.backends.openai_backend import OpenAIGenerator
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.cache import CachedGenerator
from loralab.inference.generate import Generator, GenRequest, SamplingParams

MEMBERS = ("name", "tok", "adapters", "router", "streams", "identity", "generate")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)), batch_size=2)


def test_members_match_the_protocol():
    declared = set(Generator.__annotations__) | {n for n in vars(Generator) if not n.startswith("_")}
    assert set(MEMBERS) <= declared


@pytest.mark.parametrize("make", [
    lambda tiny, tmp: tiny,
    lambda tiny, tmp: CachedGenerator(tiny, tmp / "c.jsonl"),
    lambda tiny, tmp: OpenAIGenerator("http://127.0.0.1:9/v1", "m"),
])
def test_every_generator_has_every_member(tiny, tmp_path, make):
    gen = make(tiny, tmp_path)
    for member in MEMBERS:
        assert hasattr(gen, member), member
    assert isinstance(gen.identity(None), str) and isinstance(gen.streams, bool)


def test_on_text_reports_every_sample_of_the_cache_and_of_the_backend(tiny, tmp_path):
    gen = CachedGenerator(tiny, tmp_path / "c.jsonl")
    reqs = [GenRequest(prompt="def f(x):", key="a"), GenRequest(prompt="def g(y):", key="b")]
    params = SamplingParams(max_new_tokens=4)
    last = {}
    out = gen.generate(reqs, params, on_text=lambda i, j, text: last.__setitem__((i, j), text))
    assert last == {(0, 0): out[0][0], (1, 0): out[1][0]}  # streamed text ends as the answer
    last.clear()
    assert gen.generate(reqs, params, on_text=lambda i, j, text: last.__setitem__((i, j), text)) == out
    assert last == {(0, 0): out[0][0], (1, 0): out[1][0]} and gen.calls == 2  # hits, reported once
