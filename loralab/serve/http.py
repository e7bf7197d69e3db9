"""`loralab serve`: an OpenAI-compatible HTTP API over one base model and any number of adapters.

    POST /v1/chat/completions   {model, messages, max_tokens, temperature, top_p, n, stop, seed, stream}
    POST /v1/completions        {model, prompt (string or list), ... same sampling fields}
    GET  /v1/models             the base, every adapter, and "router" when one is configured
    GET  /health

The request's `model` picks the adapter: the base model's name or "base" = no adapter, an
adapter's name = that adapter, "router" = the router picks one per prompt. K specialists are
served from one copy of the base: PEFT mixes adapters inside one batch.

Design: the stdlib's ThreadingHTTPServer (one thread per connection, no new dependency; the
traffic is a judge or a synthetic-data loop on the same machine, not the open internet)
parses and validates requests (a prompt that cannot fit the context is a 400 before it
reaches the model), then hands a Job to one generation worker thread through a bounded
queue (full -> 503 at once, so a burst cannot pile up unbounded memory). The worker takes
every job waiting (dynamic batching), groups them by sampling parameters except the seed
and runs each group as one batched `generate` call; the model is only ever touched by that
one thread. A client that hangs up cancels its job: its rows stop decoding.
Streaming uses server-sent events (`data: {...}\\n\\n` ... `data: [DONE]`), fed token by token
when the backend reports partial text. Every bad request gets a 4xx JSON error in OpenAI's
shape; nothing a client sends can stop the server.

Files: protocol.py (request parsing and response bodies, pure), worker.py (the batching
thread), this one (the HTTP handler, the server and `loralab serve`).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import queue
import secrets
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from loralab.errors import LoralabError
from loralab.inference.generate import GenRequest
from loralab.serve.protocol import (
    BadRequest,
    ServeOptions,
    check_api_key,
    check_context,
    check_prompt_size,
    chunk_body,
    completion_body,
    finish_reason,
    model_ids,
    parse_adapter,
    parse_body,
    parse_messages,
    parse_params,
    parse_prompts,
    usage,
    usage_chunk,
)
from loralab.serve.worker import Job, Worker

# ----------------------------------------------------------------------------- limits (defaults)
MAX_BODY_BYTES = 4 << 20     # a request body larger than this is refused with 413
READ_TIMEOUT_S = 30.0        # a client that stalls while sending its request is dropped


# ----------------------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S
    server: _Server

    def log_message(self, fmt: str, *args) -> None:
        if self.server.opts.log:
            self.server.opts.log(f"{self.address_string()} {fmt % args}")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the stdlib raises itself (garbage request line, huge headers) answer in JSON too."""
        if self.request_version == "HTTP/0.9":  # an unparsable request line: still send a status line
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        self._headers_sent = False
        self._error(code, message or self.responses.get(code, ("error",))[0], None, None)

    def do_GET(self) -> None:
        self._guard(self._get)

    def do_POST(self) -> None:
        self._guard(self._post)

    def do_PUT(self) -> None:
        self._guard(self._not_allowed)

    do_DELETE = do_PATCH = do_PUT

    def _guard(self, fn: Callable[[], None]) -> None:
        """Turn every failure into a JSON error reply; a vanished client is simply dropped."""
        self._headers_sent = False
        try:
            fn()
        except BadRequest as e:
            self._error(e.status, e.message, e.param, e.code)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a bug must cost one request, not the server
            self._error(500, f"internal error: {type(e).__name__}: {e}", None, "internal_error")

    def _not_allowed(self) -> None:
        raise BadRequest(405, f"method {self.command} is not allowed on {self.path}")

    def _get(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in ("/health", "/v1/health", ""):  # liveness stays open for probes
            check_api_key(self.headers.get("Authorization"), self.server.opts)
        if path in ("/v1/models", "/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "loralab"}
                    for m in model_ids(self.server.opts, self.server.adapters)]
            self._json(200, {"object": "list", "data": data})
        elif path in ("/health", "/v1/health", ""):
            self._json(200, {"status": "ok", "pending": self.server.worker.pending, **self.server.worker.stats})
        else:
            raise BadRequest(404, f"no route GET {self.path}")

    def _post(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            check_api_key(self.headers.get("Authorization"), self.server.opts)
        except BadRequest:
            self.close_connection = True  # its body stays unread
            raise
        kinds = {"/v1/chat/completions": "chat", "/chat/completions": "chat",
                 "/v1/completions": "text", "/completions": "text"}
        if path not in kinds:
            self.close_connection = True  # its body stays unread
            raise BadRequest(404, f"no route POST {self.path} (try /v1/chat/completions or /v1/completions)")
        body = parse_body(self._read_body())
        self._complete(kinds[path], body)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise BadRequest(411, "a Content-Length header is required")
        if not length.isdigit():
            self.close_connection = True
            raise BadRequest(400, f"bad Content-Length {length!r}")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be parsed as the next request
            raise BadRequest(413, f"request body of {length} bytes exceeds the limit of {MAX_BODY_BYTES}")
        return self.rfile.read(int(length))

    def _complete(self, kind: str, body: dict) -> None:
        opts = self.server.opts
        params = parse_params(body, opts)
        adapter = parse_adapter(body, opts, self.server.adapters)
        if kind == "chat":
            requests = [GenRequest(messages=parse_messages(body), adapter=adapter, seed=params.seed)]
        else:
            requests = [GenRequest(prompt=p, adapter=adapter, seed=params.seed) for p in parse_prompts(body)]
        if len(requests) * params.n > opts.max_batch * 4:
            raise BadRequest(400, f"{len(requests)} prompts x n={params.n} is more than {opts.max_batch * 4} completions")
        prompt_tokens = self.server.prompt_tokens(requests, params)
        job = Job(requests, params, streaming=bool(body.get("stream")), prompt_tokens=prompt_tokens,
                  deadline=time.monotonic() + opts.request_timeout_s)
        rid = ("chatcmpl-" if kind == "chat" else "cmpl-") + secrets.token_hex(12)
        model = body.get("model") or opts.model_name
        stream_options = body.get("stream_options")
        with_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        self.server.worker.submit(job)
        try:
            if job.streaming:
                self._stream(kind, rid, model, job, with_usage)
            else:
                self._wait(job)
                texts = [t for per_request in job.result for t in per_request]
                self._json(200, completion_body(kind, rid, model, texts, params, self.server.tok, prompt_tokens))
        finally:
            job.cancel()  # answered or abandoned: the worker skips it, or stops its rows if decoding
            self.server.worker.release()

    def _client_gone(self) -> bool:
        """Whether the client closed its end: readable with nothing to read (a pipelined next
        request would be readable with bytes, and is not a hang-up)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _wait(self, job: Job) -> None:
        while not job.done.wait(0.1):  # poll: a client that hangs up cancels its job (#13)
            if self._client_gone():
                job.cancel()
                raise ConnectionResetError("client closed the connection")
            if time.monotonic() > job.deadline:
                job.cancel()
                raise BadRequest(504, f"generation did not finish within {self.server.opts.request_timeout_s:g} s",
                                 code="timeout")
        if job.error is not None:
            status = 400 if isinstance(job.error, LoralabError) else 500
            raise BadRequest(status, f"generation failed: {job.error}")

    def _stream(self, kind: str, rid: str, model: str, job: Job, with_usage: bool) -> None:
        """SSE: a role chunk per choice, text deltas as they come, a finish chunk each, [DONE]."""
        self._start_stream()
        n_choices = len(job.requests) * job.params.n
        for c in range(n_choices):
            self._event(chunk_body(kind, rid, model, c, "", None))
        while not job.done.is_set():
            if time.monotonic() > job.deadline:
                job.cancel()
                self._event({"error": {"message": "generation timed out", "type": "timeout", "code": "timeout"}})
                return self._end_stream()
            try:
                c, delta = job.deltas.get(timeout=0.05)
                self._event(chunk_body(kind, rid, model, c, delta, None))
            except queue.Empty:
                if self._client_gone():
                    raise ConnectionResetError("client closed the connection") from None
        self._finish_stream(kind, rid, model, job, with_usage)

    def _finish_stream(self, kind: str, rid: str, model: str, job: Job, with_usage: bool) -> None:
        while not job.deltas.empty():
            c, delta = job.deltas.get_nowait()
            self._event(chunk_body(kind, rid, model, c, delta, None))
        if job.error is not None:
            self._event({"error": {"message": f"generation failed: {job.error}", "type": "server_error"}})
            return self._end_stream()
        texts = [t for per_request in job.result for t in per_request]
        for c, text in enumerate(texts):
            sent = job.sent.get(c, "")
            rest = text[len(sent):] if text.startswith(sent) else ""
            if rest:
                self._event(chunk_body(kind, rid, model, c, rest, None))
            self._event(chunk_body(kind, rid, model, c, None, finish_reason(text, job.params, self.server.tok)))
        if with_usage:  # OpenAI sends usage in a streamed reply only when asked (stream_options)
            self._event(usage_chunk(kind, rid, model, usage(job.prompt_tokens, texts, self.server.tok)))
        self._end_stream()

    # ------------------------------------------------------------------------- wire format

    def _json(self, status: int, obj: dict, extra_headers: dict | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self._headers_sent = True
        self.wfile.write(data)

    def _error(self, status: int, message: str, param: str | None, code: str | None) -> None:
        if self._headers_sent:  # mid-stream: the status line is gone, say it as an event
            self._event({"error": {"message": message, "type": "server_error"}})
            self._end_stream()
            return
        kind = "invalid_request_error" if status < 500 else "server_error"
        headers = {"Retry-After": "1"} if status == 503 else None
        self._json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, headers)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._headers_sent = True

    def _event(self, obj: dict | str) -> None:
        payload = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
        self._chunk(f"data: {payload}\n\n".encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True       # a hung client thread never blocks shutdown
    request_queue_size = 128    # listen backlog for bursts of connections

    def __init__(self, addr, worker: Worker, opts: ServeOptions, adapters: list[str], tok):
        super().__init__(addr, Handler)
        self.worker, self.opts, self.adapters, self.tok = worker, opts, adapters, tok
        # the handlers' own tokenizer, behind a lock: a fast tokenizer used from several
        # threads at once can fail ("Already borrowed"), and the worker uses the original
        self._tok = copy.deepcopy(tok) if tok is not None else None
        self._tok_lock = threading.Lock()

    def prompt_tokens(self, requests: list[GenRequest], params) -> int:
        """Tokens of every prompt (as the backend renders it); 400 when one cannot fit the
        context. The character count is checked first, so a huge prompt is never tokenised."""
        raw = [r.prompt if r.prompt is not None else "\n\n".join(m["content"] for m in r.messages) for r in requests]
        check_prompt_size(raw, self.opts)
        if self._tok is None:
            return 0
        with self._tok_lock:
            counts = [len(self._tok(text, add_special_tokens=special)["input_ids"])
                      for text, special in (self._render(r) for r in requests)]
        check_context(counts, params, self.opts)
        return sum(counts)

    def _render(self, req: GenRequest) -> tuple[str, bool]:
        """(text, add_special_tokens), as the transformers backend renders a request."""
        from loralab.models import has_chat_template

        if req.prompt is not None:
            return req.prompt, True
        if not has_chat_template(self._tok):
            return "\n\n".join(m["content"] for m in req.messages), True
        return self._tok.apply_chat_template(list(req.messages), tokenize=False, add_generation_prompt=True), False


# ----------------------------------------------------------------------------- entry points


@dataclass
class ServerHandle:
    url: str                    # OpenAI base URL, e.g. http://127.0.0.1:43121/v1
    server: _Server
    thread: threading.Thread

    def stop(self) -> None:
        """Stop accepting, finish the batch in flight, release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.server.worker.stop()
        self.server.worker.join(timeout=30)
        self.thread.join(timeout=5)

    def wait(self) -> None:
        self.thread.join()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(generator, *, model_name: str, host: str = "127.0.0.1", port: int = 0, **options) -> ServerHandle:
    """Serve `generator` over HTTP in background threads; port 0 picks a free port.

    `options` are ServeOptions fields (queue_size, max_batch, request_timeout_s, ...).
    """
    tok = generator.tok
    if options.get("context_tokens") is None and tok is not None and 0 < (tok.model_max_length or 0) < 10 ** 7:
        options["context_tokens"] = tok.model_max_length  # tokenizers without a limit say 1e30
    opts = ServeOptions(model_name=model_name, has_router=generator.router is not None, **options)
    warn_if_exposed(host, opts.api_key)
    adapters = list(generator.adapters)
    worker = Worker(generator, opts)
    worker.start()
    try:
        server = _Server((host, port), worker, opts, adapters, generator.tok)
    except OSError as e:
        worker.stop()
        raise LoralabError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror})") from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="loralab-http", daemon=True)
    thread.start()
    return ServerHandle(f"http://{host}:{server.server_address[1]}/v1", server, thread)


def warn_if_exposed(host: str, api_key: str | None) -> None:
    """One stderr line when the server listens beyond this machine with no API key."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and api_key is None:
        print(f"warning: serving on {host} without an API key: anyone who can reach this port can use the model; "
              "set --api-key or LORALAB_API_KEY", file=sys.stderr, flush=True)


def load_router(path: str | Path):
    """A router directory written by `loralab route fit` (or a K-specialist study's runs/kK/router)."""
    from loralab.route.router import load_router as load

    return load(Path(path))


def serve(model: str, adapters: dict[str, str], *, router_dir: str | None = None, host: str = "127.0.0.1",
          port: int = 8000, backend: str = "transformers", device: str = "auto", batch_size: int = 16,
          log: Callable[[str], None] | None = None, **options) -> ServerHandle:
    """Load the base once with every adapter (and the router) and start serving; returns the handle."""
    from loralab.config import ModelConfig
    from loralab.inference.generate import make_generator

    router = load_router(router_dir) if router_dir else None
    if router is not None:  # a trained router names its adapters; --adapter NAME=DIR still wins
        adapters = {**router.adapters, **adapters}
    generator = make_generator(ModelConfig(name=model, device=device), backend=backend, adapters=adapters,
                               router=router, batch_size=batch_size)
    if backend == "transformers" and options.get("context_tokens") is None:  # the model's own limit
        options["context_tokens"] = getattr(generator.model.config, "max_position_embeddings", None)
    elif backend == "vllm" and options.get("context_tokens") is None:  # the engine's max_model_len
        options["context_tokens"] = generator.context_tokens
    return start_server(generator, model_name=model, host=host, port=port, max_batch=batch_size, log=log, **options)
