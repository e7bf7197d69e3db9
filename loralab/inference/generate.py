"""Generation backends behind one small interface.

A task turns problems into `GenRequest`s; a backend turns requests into completions.
Backends (loralab/inference/backends/): transformers (batched, left padding, several adapters in
one batch via PEFT `adapter_names`), vLLM (optional extra, LoRA request per prompt), and any
OpenAI-compatible HTTP endpoint. `CachedGenerator` wraps any of them so an interrupted
evaluation resumes without regenerating. `make_generator` builds one from plain arguments.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loralab.errors import LoralabError

if TYPE_CHECKING:
    from loralab.config import ModelConfig

BASE = "__base__"           # PEFT's adapter name for "no adapter" in mixed batches
ROUTER = "router"           # adapter name that asks the generator's router to pick one
RESERVED = {BASE, "base", ROUTER}

Router = Callable[[list[str]], list[str]]  # route(prompts) -> adapter name per prompt


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1                      # completions per request (n in pass@k)
    temperature: float = 0.0        # 0 = greedy
    top_p: float = 0.95
    max_new_tokens: int = 512
    stop: tuple[str, ...] = ()      # generation is cut at the first stop string
    seed: int = 0
    # chat answers: stop a row once it has written one complete fenced code block (the text
    # keeps the closing fence). Completion-style stop strings ("\ndef", "\n```") would cut a
    # chat answer at its opening fence; without any stop, a small model explains its code
    # for hundreds of tokens the evaluation then throws away.
    stop_after_code_block: bool = False

    def check(self) -> SamplingParams:
        """Raise one LoralabError naming the first bad field; return self."""
        if self.n < 1:
            raise LoralabError(f"sampling n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise LoralabError(f"sampling temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise LoralabError(f"sampling top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise LoralabError(f"sampling max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise LoralabError(f"sampling stop strings must be non-empty strings, got {list(self.stop)}")
        return self

    def identity(self) -> dict:
        """The fields that change the output; greedy ignores top_p and seed."""
        d = {"n": self.n, "temperature": self.temperature, "max_new_tokens": self.max_new_tokens,
             "stop": list(self.stop)}
        if self.stop_after_code_block:
            d["stop_after_code_block"] = True
        if self.temperature > 0:
            d.update(top_p=self.top_p, seed=self.seed)
        return d


@dataclass(frozen=True)
class GenRequest:
    """One prompt. Exactly one of `prompt` (raw text, e.g. HumanEval completion for base
    models) or `messages` (chat turns, rendered with the model's chat template) is set."""

    prompt: str | None = None
    messages: tuple[dict, ...] | None = None
    # adapter name; None = the generator's default (the base unless it was built with one
    # adapter), "__base__" = the base model, "router" = the generator's router picks one
    adapter: str | None = None
    key: str = ""                   # caller's id (e.g. task_id), used in caches and logs
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    # this request's sampling seed instead of params.seed: the server batches requests whose
    # seeds differ (each row draws from its own seeded generator, so batch-mates change nothing)
    seed: int | None = None
    # set by whoever waits for the answer once nobody does (a client hung up); a backend that
    # can stops decoding this request's rows, and its text is then meaningless
    cancelled: threading.Event | None = field(default=None, compare=False, hash=False)

    def sampling(self, params: SamplingParams) -> SamplingParams:
        """`params` with this request's own seed, when it has one."""
        return params if self.seed is None else replace(params, seed=self.seed)

    def is_cancelled(self) -> bool:
        return self.cancelled is not None and self.cancelled.is_set()

    def route_text(self) -> str:
        """What a router embeds: the prompt, or the last user turn of a chat."""
        if self.prompt is not None:
            return self.prompt
        users = [m.get("content", "") for m in self.messages or () if m.get("role") == "user"]
        return str(users[-1]) if users else ""


OnText = Callable[[int, int, str], None]  # (request index, sample index, text so far)


@dataclass
class Arrival:
    """Requests handed to a backend that decodes continuously (`joins`: the transformers one):
    its `run` takes them at the start or between decode steps, each with its own sampling, and
    calls `done(outs)` (`params.n` texts per request) once all of their samples have ended,
    or `failed(error)` when they cannot be decoded (an unknown adapter)."""

    requests: list[GenRequest]
    params: SamplingParams
    done: Callable[[list[list[str]]], None]
    on_text: OnText | None = None
    failed: Callable[[Exception], None] | None = None


class Generator(Protocol):
    """What every backend (and every wrapper of one, like the cache) provides; callers use
    these members and nothing else."""

    name: str                       # model (+adapters), for logs and meta.json
    tok: Any | None                 # its tokenizer (chat template, finish reasons); None over HTTP
    adapters: Mapping[str, str]     # the adapters it can use, by name (values: backend-specific)
    router: Router | None           # picks an adapter for requests with adapter="router"
    streams: bool                   # generate() reports growing text to on_text as it decodes

    def identity(self, adapter: str | None) -> str:
        """What a generation cache keys on for a request using `adapter` (None: the default)."""
        ...

    def generate(self, requests: list[GenRequest], params: SamplingParams,
                 on_text: OnText | None = None) -> list[list[str]]:
        """`params.n` completions for every request, in request order. `on_text` sees each
        sample's text as it grows when `streams`, else once when it is done."""
        ...


def report_done(outs: list[list[str]], on_text: OnText | None) -> list[list[str]]:
    """A non-streaming backend's on_text: every finished sample once."""
    if on_text is not None:
        for i, samples in enumerate(outs):
            for j, text in enumerate(samples):
                on_text(i, j, text)
    return outs


# ----------------------------------------------------------------------------- shared helpers


def render_prompt(tok, req: GenRequest) -> tuple[str, bool]:
    """(text, add_special_tokens) of a request, the same for every local backend: a raw prompt
    gets the tokenizer's BOS; a chat is the model's template (which writes its own special
    tokens), or, for a base without one, the turns' contents joined by blank lines plus BOS."""
    from loralab.models import has_chat_template

    check_request(req)
    if req.prompt is not None:
        return req.prompt, True
    if not has_chat_template(tok):
        return "\n\n".join(m["content"] for m in req.messages), True
    return tok.apply_chat_template(list(req.messages), tokenize=False, add_generation_prompt=True), False


def check_request(req: GenRequest, where: str = "request") -> None:
    if (req.prompt is None) == (req.messages is None):
        raise LoralabError(f"{where} {req.key!r}: set exactly one of `prompt` or `messages`")
    for i, m in enumerate(req.messages or ()):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise LoralabError(f"{where} {req.key!r}: messages[{i}] needs string fields 'role' and 'content'")


_OPENING_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n`]*$", re.M)


def code_block_end(text: str) -> int | None:
    """End of the first complete fenced block in `text` (just after its closing fence), or None."""
    opening = _OPENING_FENCE.search(text)
    if opening is None:
        return None
    closing = re.compile(rf"^[ \t]*{re.escape(opening.group(1))}[ \t]*$", re.M).search(text, opening.end() + 1)
    return closing.end() if closing else None


def cut_after_code_block(text: str) -> str:
    """`text` up to the end of its first complete fenced block (all of it when there is none)."""
    end = code_block_end(text)
    return text if end is None else text[:end]


def chat_params(params: SamplingParams) -> SamplingParams:
    """The sampling of a chat request of a code task: no completion stop strings, one block."""
    return replace(params, stop=(), stop_after_code_block=True)


def cut_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """`text` up to (not including) the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def stream_safe(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """The prefix of a partial generation that can be shown now and never needs retracting.

    Holds back a tail that could still grow into a stop string (`"\\n\\nde"` of stop
    `"\\n\\ndef"`) and a trailing replacement character (half of a multi-byte UTF-8 char).
    """
    text = cut_at_stop(text, stop)
    hold = 0
    for s in stop:
        for k in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:k]):
                hold = k
                break
    text = text[:len(text) - hold]
    return text.rstrip("\ufffd")


def route_adapters(requests: list[GenRequest], router: Router | None, known: set[str],
                   default: str = BASE) -> list[str]:
    """PEFT adapter name per request: None -> default, "base" -> __base__, "router" -> route()."""
    names = [default if r.adapter is None else BASE if r.adapter == "base" else r.adapter for r in requests]
    routed = [i for i, n in enumerate(names) if n == ROUTER]
    if routed:
        if router is None:
            raise LoralabError("a request asked for adapter 'router' but this generator has no router")
        picks = router([requests[i].route_text() for i in routed])
        for i, pick in zip(routed, picks, strict=True):
            names[i] = pick
    for n in names:
        if n != BASE and n not in known:
            have = ", ".join(sorted(known)) or "none loaded"
            raise LoralabError(f"unknown adapter {n!r} (loaded: {have})")
    return names


def _fingerprint_file(path: Path, h) -> None:
    """Size plus first and last MiB: cheap for multi-GB weights, changes when they do."""
    size = path.stat().st_size
    h.update(f"{path.name}:{size}".encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), 2)
            h.update(f.read())


def dir_identity(path: str | Path, *, full: bool = False) -> str:
    """A short hash of a model or adapter directory's config and weights.

    `full=True` hashes every byte (adapters: megabytes); otherwise large weight files are
    fingerprinted by size and their first and last MiB so a 15 GB base costs milliseconds.
    """
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".gguf"})
    for p in files:
        if full or p.suffix == ".json":
            h.update(p.name.encode())
            h.update(p.read_bytes())
        else:
            _fingerprint_file(p, h)
    return h.hexdigest()[:12]


def model_identity(name: str, revision: str | None = None) -> str:
    """`name@hash` for local models, `hub-id@revision` for hub ids (the hub pins content)."""
    from loralab.models import EMBEDDED, resolve

    src = Path(resolve(name)) if name in EMBEDDED or Path(name).expanduser().exists() else None
    if src is None:
        return f"{name}@{revision or 'main'}"
    if src.is_file():  # .gguf
        h = hashlib.sha256()
        _fingerprint_file(src, h)
        return f"{name}@{h.hexdigest()[:12]}"
    return f"{name}@{dir_identity(src)}"


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, identical across processes (unlike hash())."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# ----------------------------------------------------------------------------- factory


def make_generator(model: ModelConfig, *, backend: str = "transformers", adapters: dict[str, str] | None = None,
                   router: Router | None = None, endpoint: str | None = None, batch_size: int = 8,
                   cache: str | Path | None = None, task: str = "") -> Generator:
    """A generator for `model` with named `adapters`, optionally cached under `cache` (a JSONL file)."""
    if backend == "transformers":
        from loralab.inference.backends.transformers_backend import TransformersGenerator

        gen = TransformersGenerator.from_config(model, adapters, router=router, batch_size=batch_size)
    elif backend == "vllm":
        from loralab.inference.backends.vllm_backend import VLLMGenerator

        gen = VLLMGenerator.from_config(model, adapters, router=router)
    elif backend == "openai":
        from loralab.inference.backends.openai_backend import OpenAIGenerator

        if not endpoint:
            raise LoralabError("eval.endpoint: the openai backend needs the base URL of an OpenAI-compatible API")
        gen = OpenAIGenerator(endpoint, model.name)
    else:
        raise LoralabError(f"eval.backend: unknown backend {backend!r} (transformers, vllm, openai)")
    if cache is not None:
        from loralab.inference.cache import CachedGenerator

        gen = CachedGenerator(gen, cache, task=task)
    return gen
