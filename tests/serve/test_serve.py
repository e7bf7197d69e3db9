"""`loralab serve` over real HTTP on the tiny model: answers, adapters, streaming, bursts, bad input."""

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from loralab.config import ModelConfig
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import GenRequest, SamplingParams
from loralab.serve.http import start_server

CHAT = [{"role": "user", "content": "Write a function that adds two numbers."}]


def make_adapter(base_dir, out, seed):
    """A random LoRA adapter (B != 0, so it changes outputs) saved as a PEFT dir."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    get_peft_model(model, cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def gen(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    adapters = {"a": make_adapter(tiny_model_dir, root / "a", 1), "b": make_adapter(tiny_model_dir, root / "b", 2)}
    return TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)), adapters, batch_size=8)


@pytest.fixture(scope="module")
def server(gen):
    with start_server(gen, model_name="tiny", max_batch=8, queue_size=64) as handle:
        yield handle


def post(url, body, *, raw: bytes | None = None, timeout=60):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post_json(url, body, **kw):
    status, raw = post(url, body, **kw)
    return status, json.loads(raw)


def sse_events(raw: bytes) -> list:
    events = [line[len(b"data: "):].decode() for line in raw.split(b"\n\n") if line.startswith(b"data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_models_lists_base_and_adapters(server):
    with urllib.request.urlopen(server.url + "/models", timeout=10) as resp:
        ids = [m["id"] for m in json.loads(resp.read())["data"]]
    assert ids == ["tiny", "a", "b"]


def test_chat_completion_matches_the_generator(server, gen):
    status, body = post_json(server.url + "/chat/completions",
                             {"model": "tiny", "messages": CHAT, "max_tokens": 8, "temperature": 0})
    assert status == 200 and body["object"] == "chat.completion"
    want = gen.generate([GenRequest(messages=tuple(CHAT))], SamplingParams(max_new_tokens=8))[0][0]
    assert body["choices"][0]["message"] == {"role": "assistant", "content": want}
    assert body["choices"][0]["finish_reason"] in ("stop", "length") and body["usage"]["completion_tokens"] <= 8


def test_model_field_picks_the_adapter(server, gen):
    params = SamplingParams(max_new_tokens=8)
    for model, adapter in (("a", "a"), ("b", "b"), ("base", "__base__"), ("tiny", "__base__")):
        status, body = post_json(server.url + "/completions",
                                 {"model": model, "prompt": "def f(x):", "max_tokens": 8, "temperature": 0})
        want = gen.generate([GenRequest(prompt="def f(x):", adapter=adapter)], params)[0][0]
        assert status == 200 and body["choices"][0]["text"] == want, model


def test_completions_prompt_list_and_n_samples(server):
    body = {"model": "a", "prompt": ["def f(x):", "import os"], "n": 2, "max_tokens": 6, "temperature": 1.0, "seed": 3}
    status, first = post_json(server.url + "/completions", body)
    assert status == 200 and [c["index"] for c in first["choices"]] == [0, 1, 2, 3]
    _, again = post_json(server.url + "/completions", body)
    assert [c["text"] for c in again["choices"]] == [c["text"] for c in first["choices"]]  # seeded


def test_streaming_chat_and_completions(server):
    plain = post_json(server.url + "/chat/completions", {"model": "b", "messages": CHAT, "max_tokens": 12, "temperature": 0})[1]
    status, raw = post(server.url + "/chat/completions",
                       {"model": "b", "messages": CHAT, "max_tokens": 12, "temperature": 0, "stream": True})
    events = sse_events(raw)
    assert status == 200 and events[0]["object"] == "chat.completion.chunk"
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert text == plain["choices"][0]["message"]["content"]
    assert len(events) > 3 and events[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    # completions with a stop string: the streamed text never runs past it
    full = post_json(server.url + "/completions", {"prompt": "def f(x):", "max_tokens": 16, "temperature": 0})[1]
    whole = full["choices"][0]["text"]
    stop = whole[3:5]
    _, raw = post(server.url + "/completions",
                  {"prompt": "def f(x):", "max_tokens": 16, "temperature": 0, "stop": stop, "stream": True})
    assert "".join(e["choices"][0]["text"] for e in sse_events(raw)) == whole[:whole.index(stop)]


def test_burst_of_concurrent_mixed_requests(server, gen):
    models = ["a", "b", "tiny", "a", "b", "base"] * 3
    prompts = [f"def f{i}(x):" for i in range(len(models))]

    def ask(i):
        return post_json(server.url + "/completions",
                         {"model": models[i], "prompt": prompts[i], "max_tokens": 6, "temperature": 0})

    with ThreadPoolExecutor(len(models)) as pool:
        replies = list(pool.map(ask, range(len(models))))
    assert all(status == 200 for status, _ in replies)
    names = {"tiny": "__base__", "base": "__base__"}
    want = gen.generate([GenRequest(prompt=p, adapter=names.get(m, m)) for p, m in zip(prompts, models, strict=True)],
                        SamplingParams(max_new_tokens=6))
    assert [body["choices"][0]["text"] for _, body in replies] == [w[0] for w in want]


@pytest.mark.parametrize("body,status,needle", [
    (b"{not json", 400, "malformed JSON"),
    (b"\xff\xfe", 400, "UTF-8"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"model": "tiny"}).encode(), 400, "messages"),
    (json.dumps({"messages": []}).encode(), 400, "messages"),
    (json.dumps({"messages": [{"role": "wizard", "content": "x"}]}).encode(), 400, "role"),
    (json.dumps({"messages": [{"role": "user", "content": 3}]}).encode(), 400, "content"),
    (json.dumps({"model": "nope", "messages": CHAT}).encode(), 404, "not served"),
    (json.dumps({"model": "router", "messages": CHAT}).encode(), 404, "not served"),
    (json.dumps({"messages": CHAT, "temperature": "hot"}).encode(), 400, "temperature"),
    (json.dumps({"messages": CHAT, "n": 0}).encode(), 400, "'n'"),
    (json.dumps({"messages": CHAT, "max_tokens": True}).encode(), 400, "max_tokens"),
    (json.dumps({"messages": CHAT, "max_tokens": 10 ** 9}).encode(), 400, "max_tokens"),
    (json.dumps({"messages": CHAT, "stop": 5}).encode(), 400, "stop"),
    (json.dumps({"messages": CHAT, "seed": "x"}).encode(), 400, "seed"),
    (json.dumps({"messages": CHAT, "stream": "yes"}).encode(), 400, "stream"),
])
def test_bad_chat_requests_get_4xx_json(server, body, status, needle):
    got, raw = post(server.url + "/chat/completions", None, raw=body)
    err = json.loads(raw)["error"]
    assert got == status and needle in err["message"] and err["type"] == "invalid_request_error"


def test_bad_routes_and_raw_garbage_do_not_hurt_the_server(server):
    assert post(server.url + "/completions", {"prompt": [1, 2, 3]})[0] == 400
    assert post(server.url + "/nowhere", {})[0] == 404
    req = urllib.request.Request(server.url + "/models", data=b"{}", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 405
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    for blob in (b"\x00\x01garbage\r\n\r\n", b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"POST /v1/completions HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"GET / HTTP/1.1\r\n"):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.") and reply.split(b" ")[1][:1] in (b"2", b"4"), reply[:80]
    status, body = post_json(server.url + "/completions", {"prompt": "x", "max_tokens": 2})
    assert status == 200 and body["choices"]


class Gate:
    """The real generator behind a gate the test opens: makes 'busy' deterministic."""

    def __init__(self, inner):
        self.inner, self.name, self.adapters, self.tok = inner, inner.name, inner.adapters, inner.tok
        self.router, self.streams, self.identity = None, False, inner.identity
        self.open, self.entered = threading.Event(), threading.Event()

    def generate(self, requests, params):
        self.entered.set()
        self.open.wait(30)
        return self.inner.generate(requests, params)


def test_full_queue_gets_503_and_slow_jobs_504(gen):
    gate = Gate(gen)
    with start_server(gate, model_name="tiny", queue_size=2, request_timeout_s=2.0, batch_wait_s=0) as handle:
        body = {"prompt": "x", "max_tokens": 2}
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(post_json, handle.url + "/completions", body)
            assert gate.entered.wait(10)  # the worker is now busy with the first job
            second = pool.submit(post_json, handle.url + "/completions", body)
            time.sleep(0.3)  # the second job waits: both slots are taken
            status, err = post_json(handle.url + "/completions", body)
            assert status == 503 and "busy" in err["error"]["message"]
            assert first.result()[0] == 504 and second.result()[0] == 504  # gate still shut after 2 s
        gate.open.set()
        assert post_json(handle.url + "/completions", body)[0] == 200  # and the server carries on


def test_router_model(gen):
    gen.router = lambda prompts: ["b" for _ in prompts]
    try:
        with start_server(gen, model_name="tiny") as handle:
            with urllib.request.urlopen(handle.url + "/models", timeout=10) as resp:
                assert [m["id"] for m in json.loads(resp.read())["data"]][-1] == "router"
            routed = post_json(handle.url + "/completions", {"model": "router", "prompt": "def g():", "max_tokens": 6, "temperature": 0})
            direct = post_json(handle.url + "/completions", {"model": "b", "prompt": "def g():", "max_tokens": 6, "temperature": 0})
            assert routed[0] == 200 and routed[1]["choices"][0]["text"] == direct[1]["choices"][0]["text"]
    finally:
        gen.router = None


def test_cli_serve_starts_and_answers(tiny_model_dir):
    proc = subprocess.Popen([sys.executable, "-m", "loralab", "serve", "--model", str(tiny_model_dir), "--port", "0",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "serving" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.split(" at ")[1].split()[0]
        status, body = post_json(url + "/completions", {"prompt": "def f():", "max_tokens": 3})
        assert status == 200 and len(body["choices"]) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_real_model_answers_a_chat_request(embedded_dir):
    from loralab.serve.http import serve

    with serve("smollm2-135m-instruct", {}, port=0) as handle:
        status, body = post_json(handle.url + "/chat/completions", {
            "model": "smollm2-135m-instruct", "temperature": 0, "max_tokens": 24,
            "messages": [{"role": "user", "content": "What is the capital of France?"}]}, timeout=300)
    assert status == 200 and "Paris" in body["choices"][0]["message"]["content"]


def test_serve_with_a_router_file_loads_its_adapters(tiny_model_dir, tmp_path):
    """`loralab serve --router DIR` alone: the router names its adapters; "router" routes per prompt."""
    import numpy as np

    from loralab.route.router import Router, save_router
    from loralab.serve.http import serve

    a = make_adapter(tiny_model_dir, tmp_path / "a", 1)
    router = Router(np.zeros((1, 4), np.float32), "unused-for-k1", "", ["k1-c0"], [3], {"k1-c0": str(a)})
    save_router(router, tmp_path / "router")
    with serve(str(tiny_model_dir), {}, router_dir=str(tmp_path / "router"), port=0) as handle:
        with urllib.request.urlopen(handle.url + "/models", timeout=10) as resp:
            ids = [m["id"] for m in json.loads(resp.read())["data"]]
        assert ids[1:] == ["k1-c0", "router"]
        body = {"prompt": "def g():", "max_tokens": 6, "temperature": 0}
        routed = post_json(handle.url + "/completions", {**body, "model": "router"})
        direct = post_json(handle.url + "/completions", {**body, "model": "k1-c0"})
        assert routed[0] == direct[0] == 200
        assert routed[1]["choices"][0]["text"] == direct[1]["choices"][0]["text"]
