"""The OpenAI-compatible protocol, as pure functions: request bodies in (validated, each
bad field a 4xx `BadRequest` in OpenAI's error shape), response and stream-chunk bodies out.
No sockets, no threads: loralab/serve/http.py does the I/O, loralab/serve/worker.py the model.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from loralab.inference.generate import BASE, ROUTER, SamplingParams

MAX_N = 16                   # completions per request
MAX_STOP = 8                 # stop strings per request (OpenAI allows 4)


class BadRequest(Exception):
    """A client error: HTTP status, message, offending parameter."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


@dataclass
class ServeOptions:
    model_name: str                                 # what "model" names the base (plus "base")
    queue_size: int = 64                            # requests waiting or running beyond this get 503
    max_batch: int = 16                             # rows (requests x n) per generate call
    batch_wait_s: float = 0.02                      # keep a batch open while jobs come this close (at most 10x)
    request_timeout_s: float = 600.0                # a job not finished by then gets 504
    default_max_tokens: int = 256                   # when a request gives no max_tokens
    max_tokens_limit: int = 4096                    # larger max_tokens is a 400
    has_router: bool = False
    log: Callable[[str], None] | None = None        # access log sink (None: quiet)
    api_key: str | None = None                      # requests without "Authorization: Bearer KEY" get 401
    context_tokens: int | None = None               # the model's context; longer prompt + max_tokens get 400
    seed_in_batch_key: bool = False                 # the pre-#13 batching (seeds never share a batch), to measure


# ----------------------------------------------------------------------------- request parsing


def parse_body(raw: bytes) -> dict:
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest(400, "request body is not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise BadRequest(400, f"malformed JSON in request body: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(body, dict):
        raise BadRequest(400, f"request body must be a JSON object, got {type(body).__name__}")
    return body


def _number(body: dict, key: str, default, lo: float, hi: float, *, integer: bool = False):
    value = body.get(key)
    if value is None:
        return default
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        raise BadRequest(400, f"'{key}' must be {kind} in [{lo}, {hi}], got {json.dumps(value)}", param=key)
    return value


def parse_params(body: dict, opts: ServeOptions) -> SamplingParams:
    """OpenAI sampling fields -> SamplingParams; 400 naming the first bad field."""
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _number(body, key, opts.default_max_tokens, 1, opts.max_tokens_limit, integer=True)
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else stop
    if stop is not None and (not isinstance(stop, list) or len(stop) > MAX_STOP
                             or not all(isinstance(s, str) and s for s in stop)):
        raise BadRequest(400, f"'stop' must be a non-empty string or a list of at most {MAX_STOP} of them", param="stop")
    seed = body.get("seed")
    if seed is None:
        seed = secrets.randbits(31)  # as OpenAI: without a seed, repeated requests sample afresh
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise BadRequest(400, f"'seed' must be an integer, got {json.dumps(seed)}", param="seed")
    if not isinstance(body.get("stream", False), bool):
        raise BadRequest(400, "'stream' must be true or false", param="stream")
    return SamplingParams(n=_number(body, "n", 1, 1, MAX_N, integer=True),
                          temperature=float(_number(body, "temperature", 1.0, 0, 2)),
                          top_p=float(_number(body, "top_p", 1.0, 1e-6, 1)), max_new_tokens=max_tokens,
                          stop=tuple(stop or ()), seed=seed)


def parse_adapter(body: dict, opts: ServeOptions, adapters: list[str]) -> str:
    model = body.get("model")
    if model is None or model in (opts.model_name, "base", BASE):
        return BASE
    if not isinstance(model, str):
        raise BadRequest(400, f"'model' must be a string, got {json.dumps(model)}", param="model")
    if model in adapters or (model == ROUTER and opts.has_router):
        return model
    served = ", ".join(model_ids(opts, adapters))
    raise BadRequest(404, f"model {model!r} is not served here (served: {served})", param="model", code="model_not_found")


def parse_messages(body: dict) -> tuple[dict, ...]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise BadRequest(400, "'messages' must be a non-empty list of {role, content} objects", param="messages")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
            raise BadRequest(400, f"messages[{i}] needs a role of system, user, assistant or developer", param="messages")
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            raise BadRequest(400, f"messages[{i}].content must be a string or a list of text parts", param="messages")
        out.append({"role": "system" if m["role"] == "developer" else m["role"], "content": content})
    return tuple(out)


def parse_prompts(body: dict) -> list[str]:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise BadRequest(400, "'prompt' must be a string or a non-empty list of strings (token ids are not supported)",
                         param="prompt")
    return prompts


def model_ids(opts: ServeOptions, adapters: list[str]) -> list[str]:
    return [opts.model_name] + list(adapters) + ([ROUTER] if opts.has_router else [])


CHARS_PER_TOKEN_MAX = 8      # no tokenizer makes a token of more characters than this, in practice


def check_prompt_size(texts: list[str], opts: ServeOptions) -> None:
    """400 before tokenising when the characters alone cannot fit the context: a multi-MB
    prompt is refused in microseconds instead of being tokenised and prefilled (#13)."""
    if opts.context_tokens is None:
        return
    longest = max(len(t) for t in texts)
    if longest > CHARS_PER_TOKEN_MAX * opts.context_tokens:
        raise BadRequest(400, f"prompt of {longest} characters cannot fit this model's context of "
                              f"{opts.context_tokens} tokens", param="messages", code="context_length_exceeded")


def check_context(prompt_tokens: list[int], params: SamplingParams, opts: ServeOptions) -> None:
    """400 in OpenAI's words when the longest prompt plus max_tokens exceeds the context."""
    if opts.context_tokens is None:
        return
    longest = max(prompt_tokens)
    if longest + params.max_new_tokens > opts.context_tokens:
        raise BadRequest(400, f"This model's maximum context length is {opts.context_tokens} tokens. However, you "
                              f"requested {longest + params.max_new_tokens} tokens ({longest} in the prompt, "
                              f"{params.max_new_tokens} for the completion). Please reduce the prompt or max_tokens.",
                         param="messages", code="context_length_exceeded")


def check_api_key(header: str | None, opts: ServeOptions) -> None:
    """401 unless `Authorization: Bearer <api_key>` (constant-time compare) when a key is set."""
    if opts.api_key is None:
        return
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), opts.api_key.encode()):
        raise BadRequest(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                         code="invalid_api_key")


# ----------------------------------------------------------------------------- responses


def usage(prompt_tokens: int, texts: list[str], tok) -> dict:
    """OpenAI's usage block; completion tokens are counted by re-encoding (0 without a tokenizer)."""
    completion = sum(len(tok.encode(t, add_special_tokens=False)) for t in texts) if tok is not None else 0
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def completion_body(kind: str, rid: str, model: str, texts: list[str], params: SamplingParams, tok,
                    prompt_tokens: int = 0) -> dict:
    """The non-streaming reply: one choice per (prompt, sample), index = prompt * n + sample."""
    choices = []
    for c, text in enumerate(texts):
        finish = finish_reason(text, params, tok)
        if kind == "chat":
            choices.append({"index": c, "message": {"role": "assistant", "content": text}, "finish_reason": finish})
        else:
            choices.append({"index": c, "text": text, "finish_reason": finish, "logprobs": None})
    out = {"id": rid, "object": "chat.completion" if kind == "chat" else "text_completion",
           "created": int(time.time()), "model": model, "choices": choices}
    out["usage"] = usage(prompt_tokens, texts, tok)
    return out


def finish_reason(text: str, params: SamplingParams, tok) -> str:
    """"length" when the text used the whole token budget (known only with a tokenizer), else "stop"."""
    if tok is not None and len(tok.encode(text, add_special_tokens=False)) >= params.max_new_tokens:
        return "length"
    return "stop"


def usage_chunk(kind: str, rid: str, model: str, use: dict) -> dict:
    """The last chunk of a stream that asked for `stream_options.include_usage`: no choices."""
    return {"id": rid, "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
            "created": int(time.time()), "model": model, "choices": [], "usage": use}


def chunk_body(kind: str, rid: str, model: str, choice: int, delta: str | None, finish: str | None) -> dict:
    if kind == "chat":
        d = {} if delta is None else ({"role": "assistant", "content": ""} if delta == "" else {"content": delta})
        ch = {"index": choice, "delta": d, "finish_reason": finish}
    else:
        ch = {"index": choice, "text": delta or "", "finish_reason": finish, "logprobs": None}
    return {"id": rid, "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
            "created": int(time.time()), "model": model, "choices": [ch]}
