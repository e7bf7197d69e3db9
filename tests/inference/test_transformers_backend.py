"""Transformers backend on the tiny model: batching, stops, seeded sampling, mixed-adapter batches, routing."""

import pytest
import torch

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import (
    GenRequest,
    SamplingParams,
    cut_at_stop,
    dir_identity,
    make_generator,
    stream_safe,
)

PROMPTS = ["def add(a, b):", "Write a function that reverses a string.", "x", "import os\nimport sys\n\ndef main():\n"]


def make_adapter(base_dir, out, seed, **lora):
    """A random LoRA adapter (B != 0, so it really changes the outputs) saved as a PEFT dir."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False, **lora)
    get_peft_model(model, cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"a": make_adapter(tiny_model_dir, root / "a", 1), "b": make_adapter(tiny_model_dir, root / "b", 2)}


@pytest.fixture(scope="module")
def gen(tiny_model_dir, adapters):
    return TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)), adapters, batch_size=4)


def one_by_one(gen, reqs, params):
    old, gen.batch_size = gen.batch_size, 1
    try:
        return [gen.generate([r], params)[0] for r in reqs]
    finally:
        gen.batch_size = old


def test_batched_equals_one_by_one_greedy(gen):
    reqs = [GenRequest(prompt=p) for p in PROMPTS]
    params = SamplingParams(max_new_tokens=12)
    batched = gen.generate(reqs, params)
    assert batched == one_by_one(gen, reqs, params)
    assert all(len(out) == 1 and out[0] for out in batched)
    assert gen.stats["new_tokens"] > 0 and gen.stats["batches"] >= 1


def test_chat_requests_use_the_chat_template(gen):
    text, special = gen.render(GenRequest(messages=({"role": "user", "content": "hi"},)))
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n") and not special
    out = gen.generate([GenRequest(messages=({"role": "user", "content": "hi"},))], SamplingParams(max_new_tokens=4))
    assert len(out) == 1 and isinstance(out[0][0], str)


def test_stop_sequences_cut_and_end_early(gen):
    req = GenRequest(prompt=PROMPTS[1])
    free = gen.generate([req], SamplingParams(max_new_tokens=24))[0][0]
    assert len(free) > 4
    stop = free[2:4]  # a string the model is known to produce
    cut = gen.generate([req], SamplingParams(max_new_tokens=24, stop=(stop,)))[0][0]
    assert cut == free[:free.index(stop)]
    before = gen.stats["new_tokens"]
    gen.generate([req], SamplingParams(max_new_tokens=24, stop=(stop,)))
    assert gen.stats["new_tokens"] - before < 24  # the stopping criterion ended decoding early


def test_sampling_n_is_seeded_and_independent_of_batching(gen):
    reqs = [GenRequest(prompt=p) for p in PROMPTS]
    params = SamplingParams(n=3, temperature=1.0, top_p=0.9, max_new_tokens=8, seed=7)
    first = gen.generate(reqs, params)
    assert [len(o) for o in first] == [3] * len(reqs)
    assert len(set(first[0])) > 1  # the n samples differ
    assert one_by_one(gen, reqs, params) == first  # same draws whatever the batch-mates
    other = gen.generate(reqs, SamplingParams(n=3, temperature=1.0, top_p=0.9, max_new_tokens=8, seed=8))
    assert other != first


def test_mixed_adapter_batch_equals_adapter_by_adapter(gen):
    names = ["a", "__base__", "b", "a", "b", "base"]
    reqs = [GenRequest(prompt=PROMPTS[i % len(PROMPTS)], adapter=n) for i, n in enumerate(names)]
    params = SamplingParams(max_new_tokens=10)
    mixed = gen.generate(reqs, params)
    for name in ("a", "b", "__base__"):
        idx = [i for i, n in enumerate(names) if n == name or (name == "__base__" and n == "base")]
        alone = gen.generate([reqs[i] for i in idx], params)
        assert alone == [mixed[i] for i in idx], name
    base = gen.generate([GenRequest(prompt=PROMPTS[0])], params)[0]
    assert mixed[0] != base and mixed[2] != base and mixed[0] != mixed[2]  # adapters really change outputs


def test_dora_adapters_get_batches_of_their_own(tiny_model_dir, adapters, tmp_path):
    dora = make_adapter(tiny_model_dir, tmp_path / "dora", 4, use_dora=True)
    g = TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)), {"a": adapters["a"], "d": dora},
                                          batch_size=8)
    assert g.unmixable == {"d"}
    reqs = [GenRequest(prompt=p, adapter=n) for p, n in zip(PROMPTS, ["d", "a", "__base__", "d"], strict=True)]
    params = SamplingParams(max_new_tokens=8)
    mixed = g.generate(reqs, params)  # PEFT would refuse adapter_names with DoRA in the batch
    assert mixed == one_by_one(g, reqs, params)
    assert mixed[0] != g.generate([GenRequest(prompt=PROMPTS[0])], params)[0]


def test_router_picks_adapters(gen):
    seen = []

    def route(prompts):
        seen.extend(prompts)
        return ["a" if "def" in p else "b" for p in prompts]

    gen.router = route
    try:
        params = SamplingParams(max_new_tokens=6)
        reqs = [GenRequest(prompt=PROMPTS[0], adapter="router"),
                GenRequest(messages=({"role": "user", "content": "x"},), adapter="router")]
        routed = gen.generate(reqs, params)
        direct = gen.generate([GenRequest(prompt=PROMPTS[0], adapter="a"),
                               GenRequest(messages=({"role": "user", "content": "x"},), adapter="b")], params)
        assert routed == direct and seen == [PROMPTS[0], "x"]
    finally:
        gen.router = None


def test_errors_name_the_problem(gen, adapters):
    with pytest.raises(LoralabError, match="unknown adapter 'zzz'"):
        gen.generate([GenRequest(prompt="x", adapter="zzz")], SamplingParams(max_new_tokens=2))
    with pytest.raises(LoralabError, match="no router"):
        gen.generate([GenRequest(prompt="x", adapter="router")], SamplingParams(max_new_tokens=2))
    with pytest.raises(LoralabError, match="exactly one of"):
        gen.generate([GenRequest(key="t1")], SamplingParams())
    with pytest.raises(LoralabError, match="top_p"):
        gen.generate([GenRequest(prompt="x")], SamplingParams(top_p=0))
    with pytest.raises(LoralabError, match="reserved"):
        gen.load_adapters({"router": adapters["a"]})


def test_identity_changes_with_adapter_content(gen, adapters, tiny_model_dir, tmp_path):
    assert gen.identity("a") != gen.identity("b") != gen.identity(None)
    assert gen.identity("__base__") == gen.identity(None) and "a=" in gen.name
    retrained = make_adapter(tiny_model_dir, tmp_path / "a", 3)  # same name, new weights
    assert dir_identity(retrained, full=True) != gen.adapters["a"]
    assert dir_identity(adapters["a"], full=True) == gen.adapters["a"]


def test_model_config_adapter_becomes_the_default(tiny_model_dir, adapters):
    g = make_generator(ModelConfig(name=str(tiny_model_dir), adapter=str(adapters["a"])), batch_size=2)
    params = SamplingParams(max_new_tokens=6)
    reqs = [GenRequest(prompt=PROMPTS[0])]
    assert g.generate(reqs, params) == g.generate([GenRequest(prompt=PROMPTS[0], adapter="default")], params)
    assert g.generate(reqs, params) != g.generate([GenRequest(prompt=PROMPTS[0], adapter="__base__")], params)


def test_stop_helpers():
    assert cut_at_stop("abc\ndef\n", ("\nd", "c")) == "ab"
    assert stream_safe("x = 1\n\nde", ("\n\ndef",)) == "x = 1"
    assert stream_safe("x = 1\n\ndef f", ("\n\ndef",)) == "x = 1"
    assert stream_safe("caf\ufffd", ()) == "caf"
    assert stream_safe("hello", ("xyz",)) == "hello"


def test_continuous_batching_equals_one_row_at_a_time(gen, monkeypatch):
    """Rows leave the batch as they end and waiting rows are prefilled into their slots:
    greedy texts and seeded samples are those of a batch of one."""
    import loralab.inference.backends.transformers_backend as tb

    joins = []
    real_add = tb.DecodeBatch.add
    monkeypatch.setattr(tb.DecodeBatch, "add", lambda self, rows: joins.append(len(rows)) or real_add(self, rows))
    reqs = [GenRequest(prompt=p) for p in PROMPTS]
    settings = (SamplingParams(max_new_tokens=12), SamplingParams(max_new_tokens=12, stop=("\n\n",)),
                SamplingParams(n=2, temperature=1.0, top_p=0.9, max_new_tokens=12, seed=3))
    monkeypatch.setattr(gen, "batch_size", 3)  # 4 or 8 rows through 3 slots: they must refill
    got = [gen.generate(reqs, p) for p in settings]
    assert len(joins) > len(settings) and min(joins) < 3  # rows joined a running batch
    monkeypatch.setattr(gen, "batch_size", 1)
    assert got == [gen.generate(reqs, p) for p in settings]


def test_greedy_tokens_are_those_of_model_generate(gen):
    params = SamplingParams(max_new_tokens=20)
    ours = gen.generate([GenRequest(prompt=p) for p in PROMPTS], params)
    for prompt, (text,) in zip(PROMPTS, ours, strict=True):
        enc = gen.tok(prompt, return_tensors="pt")
        with torch.inference_mode(), gen.model.disable_adapter():
            ids = gen.model.generate(**enc, max_new_tokens=20, do_sample=False, pad_token_id=gen.tok.pad_token_id)
        assert text == gen.tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def test_rows_keep_their_own_token_budget_and_join_a_running_batch(gen):
    """Per-request max_new_tokens (a server request's max_tokens); requests handed over by
    `more` between decode steps join the batch and finish before it does."""
    from loralab.inference.generate import Arrival

    done, order = {}, []
    finish = lambda key: lambda outs: (done.__setitem__(key, outs[0][0]), order.append(key))  # noqa: E731
    arrive = lambda key, m: Arrival([GenRequest(prompt=PROMPTS[1])], SamplingParams(max_new_tokens=m), finish(key))  # noqa: E731
    later = [arrive("late", 5)]
    gen.run([arrive("long", 30), arrive("short", 3)], more=lambda: [later.pop()] if later and done else [])
    assert order == ["short", "late", "long"]  # "late" joined after "short" ended, and ended first
    assert done["short"] and done["long"].startswith(done["short"]) and done["long"].startswith(done["late"])
    assert len(done["short"]) < len(done["late"]) < len(done["long"])


def test_a_shared_prompt_prefix_is_prefilled_once_and_changes_no_token(gen, monkeypatch):
    """Chat prompts share the template's system turn: rows that join together compute it once
    (per adapter) and prefill only their own tokens, and a later row reuses the kept prefix.
    Greedy texts are those of `model.generate` on each whole prompt, per adapter, and seeded
    samples those of a batch of one (which never reuses a prefix)."""
    import loralab.inference.backends.decode as decode

    shared = "You review Python code for a living. Read the request below carefully, then answer it."
    chats = [GenRequest(messages=({"role": "system", "content": shared}, {"role": "user", "content": p}), adapter=a)
             for p in PROMPTS for a in ("__base__", "a")]
    prefills = []
    real_forward = type(gen.model).forward
    monkeypatch.setattr(type(gen.model), "forward",
                        lambda self, *a, **k: prefills.append(k["input_ids"].shape) or real_forward(self, *a, **k))
    monkeypatch.setattr(gen, "batch_size", 3)  # 8 rows through 3 slots: later rows join one at a time
    before = gen.stats["prefix_tokens_reused"]
    params = SamplingParams(max_new_tokens=12)
    texts = gen.generate(chats, params)
    reused = gen.stats["prefix_tokens_reused"] - before
    a, b = (gen.tok(gen.render(r)[0])["input_ids"] for r in chats[:3:2])
    n_prefix = next(k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    assert n_prefix >= decode.MIN_PREFIX and reused >= 4 * n_prefix  # rows after the first of each adapter (5 here)
    assert any(shape[0] == 1 and shape[1] >= decode.MIN_PREFIX for shape in prefills)  # the prefix, alone
    for req, (text,) in zip(chats, texts, strict=True):
        enc = gen.tok(gen.render(req)[0], return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            if req.adapter == "a":
                gen.model.set_adapter("a")
                ids = gen.model.generate(**enc, max_new_tokens=12, do_sample=False, pad_token_id=gen.tok.pad_token_id)
            else:
                with gen.model.disable_adapter():
                    ids = gen.model.generate(**enc, max_new_tokens=12, do_sample=False, pad_token_id=gen.tok.pad_token_id)
        assert text == gen.tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True), req
    sampled = SamplingParams(n=2, temperature=1.0, top_p=0.9, max_new_tokens=12, seed=5)
    assert gen.generate(chats, sampled) == one_by_one(gen, chats, sampled)
