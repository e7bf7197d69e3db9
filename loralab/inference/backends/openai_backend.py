"""Any OpenAI-compatible HTTP endpoint (OpenAI, vLLM's server, `loralab serve`, llama.cpp ...).

Plain stdlib HTTP (urllib), so the backend adds no dependency. Chat requests go to
/v1/chat/completions, raw prompts to /v1/completions. A request's adapter becomes the
`model` field (how vLLM and `loralab serve` pick a LoRA adapter). Transient failures (429,
5xx, refused or dropped connections, timeouts) are retried with exponential backoff and
jitter, honouring Retry-After; other 4xx errors stop at once with the server's message.
Requests run concurrently on a small thread pool.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from loralab.errors import LoralabError
from loralab.inference.generate import (
    BASE,
    GenRequest,
    OnText,
    SamplingParams,
    check_request,
    cut_after_code_block,
    cut_at_stop,
    report_done,
)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIGenerator:
    """Generator over HTTP. `base_url` like http://127.0.0.1:8000/v1 (a bare host gets /v1).
    The server holds the tokenizer and any adapters (an adapter name is sent as the model)."""

    tok = None
    adapters: dict[str, str] = {}
    router = None
    streams = False

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 300.0, max_retries: int = 5, backoff_s: float = 1.0, concurrency: int = 8):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LoralabError(f"eval.endpoint: {base_url!r} is not an http(s) URL like http://127.0.0.1:8000/v1")
        self.base_url = base_url.rstrip("/") + ("/v1" if parts.path in ("", "/") else "")
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.concurrency = concurrency
        self.name = f"openai:{self.base_url}|{model}"

    def identity(self, adapter: str | None) -> str:
        return f"openai:{self.base_url}|{self._model_for(adapter)}"

    def _model_for(self, adapter: str | None) -> str:
        return self.model if adapter in (None, BASE, "base") else adapter

    def generate(self, requests: list[GenRequest], params: SamplingParams,
                 on_text: OnText | None = None) -> list[list[str]]:
        params.check()
        for r in requests:
            check_request(r)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return report_done(list(pool.map(lambda r: self._complete(r, params), requests)), on_text)

    def _complete(self, req: GenRequest, params: SamplingParams) -> list[str]:
        """`params.n` texts; asks again for the rest when a server returns fewer choices than n."""
        texts: list[str] = []
        while len(texts) < params.n:
            texts += self._call(req, params, params.n - len(texts), req.sampling(params).seed + len(texts))
        cut = cut_after_code_block if params.stop_after_code_block else (lambda t: t)
        return [cut(cut_at_stop(t, params.stop)) for t in texts[:params.n]]

    def _call(self, req: GenRequest, params: SamplingParams, n: int, seed: int) -> list[str]:
        body = {"model": self._model_for(req.adapter), "max_tokens": params.max_new_tokens,
                "temperature": params.temperature, "n": n, "seed": seed}
        if params.temperature > 0:
            body["top_p"] = params.top_p
        if params.stop:
            body["stop"] = list(params.stop)
        chat = req.messages is not None
        body.update({"messages": list(req.messages)} if chat else {"prompt": req.prompt})
        reply = self._post("/chat/completions" if chat else "/completions", body)
        try:
            choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
            texts = [(c["message"]["content"] if chat else c["text"]) or "" for c in choices]
        except (KeyError, TypeError, AttributeError):
            raise LoralabError(f"{self.base_url}: reply without choices[].{'message.content' if chat else 'text'}: "
                               f"{json.dumps(reply)[:200]}") from None
        if not texts:
            raise LoralabError(f"{self.base_url}: reply with no choices: {json.dumps(reply)[:200]}")
        return texts

    def _post(self, path: str, body: dict) -> dict:
        """POST JSON with retries; the parsed reply, or one LoralabError naming the endpoint."""
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        last, retry_after = "", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self._delay(attempt, retry_after))
            try:
                request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}: {_error_message(e)}"
                if e.code not in RETRY_STATUS:
                    raise LoralabError(f"{self.base_url}{path}: {last}") from None
                retry_after = _seconds(e.headers.get("Retry-After"))
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as e:
                last, retry_after = f"{type(e).__name__}: {getattr(e, 'reason', e)}", None
        raise LoralabError(f"{self.base_url}{path}: failed after {self.max_retries + 1} tries; last error {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """The server's Retry-After when it gave one, else exponential backoff with jitter; capped at 60 s."""
        if retry_after is not None:
            return min(retry_after, 60.0)
        return min(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()), 60.0)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None


def _error_message(e: urllib.error.HTTPError) -> str:
    """The `error.message` of an OpenAI-style error body, else its first 200 bytes."""
    try:
        raw = e.read()
    except OSError:
        return e.reason or ""
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw[:200].decode("utf-8", "replace") or str(e.reason)
