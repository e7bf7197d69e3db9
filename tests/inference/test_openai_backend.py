"""OpenAI-compatible HTTP backend: against our own `loralab serve`, and a flaky server for retries."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.inference.backends.openai_backend import OpenAIGenerator
from loralab.inference.backends.transformers_backend import TransformersGenerator
from loralab.inference.generate import GenRequest, SamplingParams
from loralab.serve.http import start_server


@pytest.fixture(scope="module")
def local(tiny_model_dir):
    gen = TransformersGenerator.from_config(ModelConfig(name=str(tiny_model_dir)), batch_size=8)
    with start_server(gen, model_name="tiny") as handle:
        yield gen, handle


def test_matches_the_in_process_generator(local):
    gen, handle = local
    reqs = [GenRequest(prompt="def add(a, b):"), GenRequest(messages=({"role": "user", "content": "hi"},)),
            GenRequest(prompt="import os\n")]
    params = SamplingParams(max_new_tokens=8, stop=("\n\n",))
    remote = OpenAIGenerator(handle.url, "tiny", concurrency=3)
    assert remote.generate(reqs, params) == gen.generate(reqs, params)


def test_n_samples_and_seed(local):
    _, handle = local
    remote = OpenAIGenerator(handle.url.removesuffix("/v1"), "tiny")  # a bare host gets /v1
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=6, seed=5)
    first = remote.generate([GenRequest(prompt="def f(x):")], params)
    assert len(first[0]) == 3 and first == remote.generate([GenRequest(prompt="def f(x):")], params)


def test_client_errors_stop_at_once_with_the_servers_message(local):
    _, handle = local
    remote = OpenAIGenerator(handle.url, "tiny", max_retries=3, backoff_s=5.0)
    with pytest.raises(LoralabError, match=r"HTTP 404: model 'ghost' is not served here"):
        remote.generate([GenRequest(prompt="x", adapter="ghost")], SamplingParams(max_new_tokens=2))


class Flaky(BaseHTTPRequestHandler):
    """Answers 503, then 429 with Retry-After, then a real completion; counts calls and keys."""

    calls: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Flaky.calls.append((self.path, self.headers.get("Authorization"), body))
        if len(Flaky.calls) == 1:
            return self._reply(503, {"error": {"message": "warming up"}})
        if len(Flaky.calls) == 2:
            return self._reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        texts = [f"answer {i}" for i in range(body["n"])]
        self._reply(200, {"choices": [{"index": i, "message": {"role": "assistant", "content": t}}
                                      for i, t in enumerate(texts)]})

    def _reply(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_retries_with_backoff_and_sends_the_api_key(monkeypatch):
    Flaky.calls = []
    monkeypatch.setenv("MY_KEY", "sk-test")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = OpenAIGenerator(f"http://127.0.0.1:{server.server_address[1]}/v1", "m", api_key_env="MY_KEY",
                                 backoff_s=0.01)
        out = remote.generate([GenRequest(messages=({"role": "user", "content": "q"},), adapter="k3")],
                              SamplingParams(n=2, max_new_tokens=5, stop=(" 1",)))
    finally:
        server.shutdown()
        server.server_close()
    assert out == [["answer 0", "answer"]]  # the stop string is cut client-side too
    assert len(Flaky.calls) == 3 and all(path == "/v1/chat/completions" for path, _, _ in Flaky.calls)
    path, auth, body = Flaky.calls[-1]
    assert auth == "Bearer sk-test" and body["model"] == "k3" and body["n"] == 2 and body["stop"] == [" 1"]


def test_unreachable_endpoint_is_one_clear_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", "m", max_retries=2, backoff_s=0.01, timeout_s=2)
    with pytest.raises(LoralabError, match=r"failed after 3 tries; last error URLError"):
        remote.generate([GenRequest(prompt="x")], SamplingParams(max_new_tokens=2))
    with pytest.raises(LoralabError, match="not an http"):
        OpenAIGenerator("localhost:8000", "m")
