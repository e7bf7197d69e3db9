"""#13: the server batches like one. Unseeded requests share a batch, a seeded request's text
does not depend on its batch-mates, a client that hangs up stops its job, prompts past the
context get 400 at once, --api-key, and `usage` in every reply. Real HTTP on the tiny model."""

import json
import resource
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_serve import CHAT, post, post_json, sse_events

from loralab.config import ModelConfig
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.serve.http import start_server, warn_if_exposed


@pytest.fixture(scope="module")
def gen(tiny_model_dir):
    return TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)), batch_size=16)


class Recorder:
    """The real generator, recording every batch it is given; `hold` keeps the first one
    waiting until the test opens it, so what queues meanwhile is known."""

    def __init__(self, inner, hold: bool = False):
        self.inner, self.name, self.adapters, self.tok = inner, inner.name, inner.adapters, inner.tok
        self.router, self.streams, self.identity = None, True, inner.identity
        self.batches: list[list] = []
        self.outputs: list[list[list[str]]] = []
        self.entered, self.open = threading.Event(), threading.Event()
        if not hold:
            self.open.set()

    def generate(self, requests, params, on_text=None):
        self.batches.append(list(requests))
        self.entered.set()
        self.open.wait(30)
        out = self.inner.generate(requests, params, on_text=on_text)
        self.outputs.append(out)
        return out


def chat(seed=None, max_tokens=8, **extra):
    body = {"messages": CHAT, "max_tokens": max_tokens, "temperature": 1.0, **extra}
    return body if seed is None else {**body, "seed": seed}


def test_unseeded_requests_share_a_batch_and_a_seed_reproduces_alone_or_batched(gen):
    rec = Recorder(gen, hold=True)
    with start_server(rec, model_name="tiny", max_batch=16, context_tokens=1024) as handle:
        url = handle.url + "/chat/completions"
        with ThreadPoolExecutor(8) as pool:
            first = pool.submit(post_json, url, chat())
            assert rec.entered.wait(10)  # the worker holds the first job: the next ones queue up
            seeded = pool.submit(post_json, url, chat(seed=1234))
            rest = [pool.submit(post_json, url, chat()) for _ in range(6)]
            time.sleep(0.5)
            rec.open.set()
            replies = [f.result() for f in [first, seeded, *rest]]
        assert all(status == 200 for status, _ in replies)
        assert [len(b) for b in rec.batches] == [1, 7]  # 7 different seeds, one batch
        assert len({b.seed for b in rec.batches[1]}) == 7
        batched = replies[1][1]["choices"][0]["message"]["content"]
        status, alone = post_json(url, chat(seed=1234))
        assert status == 200 and len(rec.batches[-1]) == 1
        assert alone["choices"][0]["message"]["content"] == batched
        texts = [body["choices"][0]["message"]["content"] for _, body in replies]
        assert len(set(texts)) > 1  # unseeded requests still sample afresh


def test_old_batch_key_with_seeds_is_kept_behind_a_flag(gen):
    rec = Recorder(gen, hold=True)
    with start_server(rec, model_name="tiny", seed_in_batch_key=True, context_tokens=1024) as handle:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(post_json, handle.url + "/chat/completions", chat())]
            assert rec.entered.wait(10)
            futures += [pool.submit(post_json, handle.url + "/chat/completions", chat()) for _ in range(3)]
            time.sleep(0.5)
            rec.open.set()
            assert all(f.result()[0] == 200 for f in futures)
        assert [len(b) for b in rec.batches] == [1, 1, 1, 1]


def _send_and_hang_up(url: str, body: dict, *, read_events: int = 0) -> None:
    host, port = url.split("//")[1].split("/")[0].split(":")
    data = json.dumps(body).encode()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        got = b""
        while got.count(b"data: ") < read_events:
            got += s.recv(4096)
        time.sleep(0.3)  # the job is decoding now


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_hangs_up_stops_its_job(gen, stream):
    rec = Recorder(gen)
    with start_server(rec, model_name="tiny", context_tokens=None) as handle:
        long_body = {**chat(max_tokens=4096), "temperature": 0, "stream": stream}
        _send_and_hang_up(handle.url, long_body, read_events=2 if stream else 0)
        t0 = time.monotonic()
        status, body = post_json(handle.url + "/chat/completions", chat(max_tokens=8), timeout=60)
        waited = time.monotonic() - t0
        assert status == 200 and body["choices"]
        # the abandoned job was cut short: far fewer than its 4096 tokens were decoded
        cut = rec.outputs[0][0][0]
        assert len(gen.tok.encode(cut, add_special_tokens=False)) < 2000, len(cut)
        assert waited < 30, waited


def test_prompt_past_the_context_gets_400_fast_and_memory_stays_bounded(gen):
    with start_server(gen, model_name="tiny", context_tokens=1024) as handle:
        url = handle.url + "/chat/completions"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        huge = "x=1; " * 780_000  # 3.9 MB, under the 4 MiB body limit
        t0 = time.monotonic()
        status, err = post_json(url, {"messages": [{"role": "user", "content": huge}], "max_tokens": 4})
        assert status == 400 and err["error"]["code"] == "context_length_exceeded"
        assert time.monotonic() - t0 < 10
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # < 200 MiB more
        # short in characters, too long in tokens: the tokenizer's count decides
        status, err = post_json(handle.url + "/completions", {"prompt": " x" * 1100, "max_tokens": 4})
        assert status == 400 and "maximum context length is 1024 tokens" in err["error"]["message"]
        # the prompt fits, the prompt plus max_tokens does not
        status, err = post_json(handle.url + "/completions", {"prompt": " x" * 900, "max_tokens": 200})
        assert status == 400 and "900 in the prompt" in err["error"]["message"]
        assert post_json(handle.url + "/completions", {"prompt": " x" * 900, "max_tokens": 4})[0] == 200


def test_api_key_is_required_when_set(gen):
    with start_server(gen, model_name="tiny", api_key="s3cret") as handle:
        body = json.dumps(chat(max_tokens=2)).encode()
        url = handle.url + "/chat/completions"
        import urllib.request

        def ask(headers):
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        status, err = ask({})
        assert status == 401 and err["error"]["code"] == "invalid_api_key"
        assert ask({"Authorization": "Bearer wrong"})[0] == 401
        assert ask({"Authorization": "Bearer s3cret"})[0] == 200
        with urllib.request.urlopen(handle.url.removesuffix("/v1") + "/health", timeout=10) as resp:
            assert resp.status == 200  # liveness stays open


def test_warning_when_exposed_without_a_key(capsys):
    warn_if_exposed("127.0.0.1", None)
    warn_if_exposed("localhost", None)
    warn_if_exposed("0.0.0.0", "k")
    assert capsys.readouterr().err == ""
    warn_if_exposed("0.0.0.0", None)
    assert capsys.readouterr().err.startswith("warning: serving on 0.0.0.0 without an API key")


def test_usage_in_replies_and_streams(gen):
    with start_server(gen, model_name="tiny", context_tokens=1024) as handle:
        status, body = post_json(handle.url + "/completions",
                                 {"prompt": ["def f(x):", "import os"], "n": 2, "max_tokens": 5, "temperature": 0})
        use = body["usage"]
        want_prompt = sum(len(gen.tok("def f(x):")["input_ids"]) for _ in [0]) + len(gen.tok("import os")["input_ids"])
        assert status == 200 and use["prompt_tokens"] == want_prompt
        assert 0 < use["completion_tokens"] <= 4 * 5 and use["total_tokens"] == use["prompt_tokens"] + use["completion_tokens"]
        status, raw = post(handle.url + "/chat/completions",
                           {**chat(max_tokens=5), "stream": True, "stream_options": {"include_usage": True}})
        last = sse_events(raw)[-1]
        assert status == 200 and last["choices"] == [] and last["usage"]["prompt_tokens"] > 0


def test_cli_api_key_from_the_environment(tiny_model_dir):
    env = {**__import__("os").environ, "LORALAB_API_KEY": "k"}
    proc = subprocess.Popen([sys.executable, "-m", "loralab", "serve", "--model", str(tiny_model_dir), "--port", "0",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "serving" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.split(" at ")[1].split()[0]
        assert post_json(url + "/completions", {"prompt": "def f():", "max_tokens": 3})[0] == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_request_joins_a_running_batch_with_its_own_max_tokens(gen):
    """Continuous batching: a short request sent while a long one decodes joins its batch
    between decode steps and answers long before the long one ends."""
    with start_server(gen, model_name="tiny", context_tokens=2048) as handle:
        url = handle.url + "/chat/completions"
        worker = handle.server.worker
        with ThreadPoolExecutor(1) as pool:
            long = pool.submit(post_json, url, {**chat(max_tokens=1500), "temperature": 0})
            while worker.stats["batches"] == 0:  # the long job is decoding
                time.sleep(0.01)
            status, short = post_json(url, {**chat(max_tokens=5), "temperature": 0.7, "seed": 3})
            assert status == 200 and short["usage"]["completion_tokens"] <= 5
            assert not long.done()  # it answered while the long job still decoded
            assert long.result()[0] == 200
        assert worker.stats["batches"] == 1 and worker.stats["rows"] == 2  # one running batch
        status, alone = post_json(url, {**chat(max_tokens=5), "temperature": 0.7, "seed": 3})
        assert alone["choices"][0]["message"]["content"] == short["choices"][0]["message"]["content"]
