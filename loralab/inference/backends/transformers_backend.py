"""Transformers backend: one base model in memory, any number of LoRA adapters, batched decoding.

Requests are expanded to one row per (request, sample), sorted by prompt length so a batch
pads little, left-padded (a decoder continues from the last position), and decoded with
`model.generate`. Rows of one batch may use different adapters: PEFT's `adapter_names`
routes each row through its own LoRA weights while the base matmuls stay batched
(`"__base__"` = no adapter). A stop string ends a row early (a per-row StoppingCriteria) and
the text is cut at its first occurrence. A batch of one adapter uses `set_adapter` (or
`disable_adapter` for the base) instead; DoRA adapters, which PEFT cannot mix per row, get
batches of their own. Sampling draws each row from its own seeded
generator, so a sample depends on (seed, prompt, sample index) and not on its batch-mates:
a resumed or re-batched run draws the same text.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from loralab.errors import LoralabError
from loralab.inference.generate import (
    BASE,
    RESERVED,
    GenRequest,
    OnText,
    Router,
    SamplingParams,
    code_block_end,
    cut_after_code_block,
    cut_at_stop,
    dir_identity,
    model_identity,
    render_prompt,
    route_adapters,
    stable_seed,
)
from loralab.models import load_adapter, load_model

FIRST_SEGMENT = 64  # new tokens of the first decoding segment; each next one is twice as long


class TransformersGenerator:
    """Generator over a loaded (model, tokenizer); adapters are added by name."""

    streams = True

    def __init__(self, model, tok, *, identity: str, batch_size: int = 8, router: Router | None = None,
                 default_adapter: str = BASE):
        self.model = model.eval()
        self.tok = tok
        self.base_identity = identity
        self.batch_size = batch_size
        self.router = router
        self.default_adapter = default_adapter
        self.adapters: dict[str, str] = {}  # name -> content hash of its directory
        self.unmixable: set[str] = set()  # DoRA adapters: PEFT cannot mix them per row
        self.stats = {"new_tokens": 0, "seconds": 0.0, "batches": 0}

    @classmethod
    def from_config(cls, mcfg, adapters: dict[str, str | Path] | None = None, *, router: Router | None = None,
                    batch_size: int = 8) -> TransformersGenerator:
        """Load the base once; `mcfg.adapter` becomes adapter "default" and the default for requests."""
        model, tok = load_model(mcfg.model_copy(update={"adapter": None}))
        gen = cls(model, tok, identity=model_identity(mcfg.name, mcfg.revision), batch_size=batch_size, router=router)
        if mcfg.adapter:
            gen.load_adapters({"default": mcfg.adapter})
            gen.default_adapter = "default"
        gen.load_adapters(adapters or {})
        return gen

    @property
    def name(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.adapters.items()))
        return f"transformers:{self.base_identity}" + (f"+{{{extra}}}" if extra else "")

    def identity(self, adapter: str | None) -> str:
        """What a cache keys on for one request: the base plus only the adapter(s) it can use."""
        adapter = self.default_adapter if adapter is None else adapter
        if adapter in (BASE, "base"):
            return f"transformers:{self.base_identity}"
        if adapter == "router":
            return f"{self.name}+router={getattr(self.router, 'name', 'router')}"
        return f"transformers:{self.base_identity}+{adapter}={self.adapters.get(adapter, '?')}"

    def load_adapters(self, adapters: dict[str, str | Path]) -> None:
        """Add PEFT adapter directories under the given names (the base stays loaded once)."""
        for name, path in adapters.items():
            if name in RESERVED:
                raise LoralabError(f"adapter name {name!r} is reserved ({', '.join(sorted(RESERVED))}); pick another")
            self.model = load_adapter(self.model, path, name).eval()
            self.adapters[name] = dir_identity(path, full=True)
            if getattr(self.model.peft_config[name], "use_dora", False):
                self.unmixable.add(name)

    def render(self, req: GenRequest) -> tuple[str, bool]:
        """(text, add_special_tokens): raw prompts get the tokenizer's BOS; a chat template writes its own."""
        return render_prompt(self.tok, req)

    def generate(self, requests: list[GenRequest], params: SamplingParams, *,
                 on_text: OnText | None = None) -> list[list[str]]:
        """`params.n` completions per request; `on_text` sees each row's text after every token."""
        params.check()
        names = route_adapters(requests, self.router, set(self.adapters), self.default_adapter)
        rendered = [self.render(r) for r in requests]
        ids = [self.tok(text, add_special_tokens=special)["input_ids"] for text, special in rendered]
        rows = [(i, j) for i in range(len(requests)) for j in range(params.n)]
        # similar lengths share a batch (less padding); DoRA adapters' rows are kept together
        rows.sort(key=lambda ij: (names[ij[0]] if names[ij[0]] in self.unmixable else "", -len(ids[ij[0]])))
        out = [[""] * params.n for _ in requests]
        for chunk in self._chunks(rows, names):
            seeds = [stable_seed(requests[i].sampling(params).seed, rendered[i][0], j) for i, j in chunk]
            relay = (lambda b, text, chunk=chunk: on_text(*chunk[b], text)) if on_text else None
            cancelled = [requests[i].is_cancelled for i, _ in chunk]
            texts = self._generate_batch([ids[i] for i, _ in chunk], [names[i] for i, _ in chunk], seeds, params,
                                         relay, cancelled)
            for (i, j), text in zip(chunk, texts, strict=True):
                out[i][j] = text
        return out

    def _chunks(self, rows: list[tuple[int, int]], names: list[str]) -> list[list[tuple[int, int]]]:
        """Batches of at most batch_size rows; a DoRA adapter never shares a batch with another adapter."""
        chunks: list[list[tuple[int, int]]] = []
        for row in rows:
            last = chunks[-1] if chunks else None
            mixes = last is not None and names[last[0][0]] != names[row[0]] and (
                names[row[0]] in self.unmixable or names[last[0][0]] in self.unmixable)
            if last is None or len(last) == self.batch_size or mixes:
                chunks.append([row])
            else:
                last.append(row)
        return chunks

    def _generate_batch(self, ids: list[list[int]], adapters: list[str], seeds: list[int], params: SamplingParams,
                        on_text: Callable[[int, str], None] | None,
                        cancelled: list[Callable[[], bool]] | None = None) -> list[str]:
        """Decode a batch in growing segments (64, 128, 256, ... new tokens), dropping the rows
        that finished after each one.

        `model.generate` keeps computing a finished row until the batch's longest one ends, so
        one degenerate answer that runs to max_new_tokens makes the whole batch pay for it. Here
        the unfinished rows continue from their prompt plus what they generated so far (one
        prefill, which is cheap next to decoding) in a smaller batch. Greedy rows take the same
        tokens as one long call; sampled rows keep their own seeded generator across segments.
        A streamed batch (`on_text`) decodes in one segment, so its text only ever grows.
        A row whose `cancelled()` turns true stops at the next token (its text is cut short)
        and leaves the batch at the next segment boundary.
        """
        cancelled = cancelled or [lambda: False] * len(ids)
        samplers = ([torch.Generator(device=self.model.device).manual_seed(s) for s in seeds]
                    if params.temperature > 0 else None)
        out: list[list[int]] = [[] for _ in ids]
        active = list(range(len(ids)))
        segment = params.max_new_tokens if on_text is not None else min(params.max_new_tokens, FIRST_SEGMENT)
        while active:
            budget = min(segment, params.max_new_tokens - len(out[active[0]]))
            new = self._decode([ids[i] + out[i] for i in active], [adapters[i] for i in active],
                               [samplers[i] for i in active] if samplers else None, params, budget, on_text,
                               [cancelled[i] for i in active])
            for i, row in zip(active, new, strict=True):
                out[i] += row
            active = [i for i, row in zip(active, new, strict=True)
                      if len(row) == budget and len(out[i]) < params.max_new_tokens and not cancelled[i]()
                      and not self._done(out[i], params)]
            segment *= 2
        texts = [cut_at_stop(self.tok.decode(row, skip_special_tokens=True), params.stop) for row in out]
        return [cut_after_code_block(t) for t in texts] if params.stop_after_code_block else texts

    def _done(self, row: list[int], params: SamplingParams) -> bool:
        """Whether a row that used its whole segment already met a stop string or closed its block."""
        text = self.tok.decode(row, skip_special_tokens=True)
        if params.stop and cut_at_stop(text, params.stop) != text:
            return True
        return params.stop_after_code_block and code_block_end(text) is not None

    def _decode(self, ids: list[list[int]], adapters: list[str], samplers: list | None, params: SamplingParams,
                max_new: int, on_text: Callable[[int, str], None] | None,
                cancelled: list[Callable[[], bool]]) -> list[list[int]]:
        """One `model.generate` call; each row's new tokens up to and including its EOS."""
        input_ids, attention_mask = self._left_pad(ids)  # (B, T)
        width = input_ids.shape[1]
        kwargs = dict(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new,
                      pad_token_id=self.tok.pad_token_id, do_sample=False, temperature=None, top_p=None, top_k=None)
        criteria = [StopCancelled(cancelled)]
        if params.stop:
            criteria.append(StopOnStrings(self.tok, params.stop, width))
        if params.stop_after_code_block:
            criteria.append(StopAfterCodeBlock(self.tok, width))
        kwargs["stopping_criteria"] = StoppingCriteriaList(criteria)
        if samplers is not None:
            kwargs["logits_processor"] = LogitsProcessorList(
                [SeededSampler(samplers, params.temperature, params.top_p)])
        if on_text is not None:
            kwargs["streamer"] = RowStreamer(self.tok, on_text)
        t0 = time.perf_counter()
        with torch.inference_mode(), self._use_adapters(adapters, kwargs):
            gen = self.model.generate(**kwargs)
        eos = self._eos_ids() | ({self.tok.pad_token_id} if self.tok.pad_token_id is not None else set())
        new = [self._real(row, eos) for row in gen[:, width:].tolist()]  # (B, <= max_new), padding dropped
        self._count(new, time.perf_counter() - t0)
        return new

    def _use_adapters(self, adapters: list[str], kwargs: dict):
        """One adapter (or the base) for the whole batch, or PEFT's per-row `adapter_names`."""
        if not hasattr(self.model, "peft_config"):
            if any(a != BASE for a in adapters):
                raise LoralabError(f"adapters {sorted(set(adapters) - {BASE})} requested but none are loaded")
            return contextlib.nullcontext()
        if len(set(adapters)) > 1:
            kwargs["adapter_names"] = adapters  # (B,) one adapter name per row
            return contextlib.nullcontext()
        if adapters[0] == BASE:
            return self.model.disable_adapter()
        self.model.set_adapter(adapters[0])
        return contextlib.nullcontext()

    def _left_pad(self, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self.tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for b, x in enumerate(ids):
            input_ids[b, width - len(x):] = torch.tensor(x, dtype=torch.long)
            mask[b, width - len(x):] = 1
        return input_ids.to(self.model.device), mask.to(self.model.device)

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        return {e for e in eos + [self.tok.eos_token_id] if e is not None}

    @staticmethod
    def _real(row: list[int], eos: set[int]) -> list[int]:
        """Generated tokens up to and including the first EOS (the rest is padding)."""
        for k, t in enumerate(row):
            if t in eos:
                return row[:k + 1]
        return row

    def _count(self, new: list[list[int]], seconds: float) -> None:
        self.stats["new_tokens"] += sum(len(r) for r in new)
        self.stats["seconds"] += seconds
        self.stats["batches"] += 1


class StopCancelled(StoppingCriteria):
    """Per-row stop for rows nobody waits for any more (the server's client hung up): the
    row pads from here on, and once every row is done `generate` returns."""

    def __init__(self, cancelled: list[Callable[[], bool]]):
        self.cancelled = cancelled  # (B,) one check per row

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        return torch.tensor([c() for c in self.cancelled], dtype=torch.bool, device=input_ids.device)


class StopOnStrings(StoppingCriteria):
    """Per-row stop: True for rows whose generated text contains a stop string.

    Decodes only the last few generated tokens of each row (a stop string of c characters
    spans at most c tokens, each token being at least one character), so the check costs
    O(B * c) per step, not O(B * T).
    """

    def __init__(self, tok, stop: tuple[str, ...], prompt_width: int):
        self.tok, self.stop, self.prompt_width = tok, stop, prompt_width
        self.window = max(len(s) for s in stop) + 1

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        start = max(self.prompt_width, input_ids.shape[1] - self.window)
        tails = self.tok.batch_decode(input_ids[:, start:], skip_special_tokens=True)  # B strings
        hit = [any(s in t for s in self.stop) for t in tails]
        return torch.tensor(hit, dtype=torch.bool, device=input_ids.device)


class StopAfterCodeBlock(StoppingCriteria):
    """Per-row stop once the generated text holds one complete fenced block.

    Only rows whose last few tokens contain a backtick or tilde are decoded in full, so most
    steps cost a short tail decode per row.
    """

    def __init__(self, tok, prompt_width: int):
        self.tok, self.prompt_width = tok, prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        start = max(self.prompt_width, input_ids.shape[1] - 4)
        tails = self.tok.batch_decode(input_ids[:, start:], skip_special_tokens=True)  # B strings
        hit = [False] * len(tails)
        for b, tail in enumerate(tails):
            if "`" in tail or "~" in tail:
                text = self.tok.decode(input_ids[b, self.prompt_width:], skip_special_tokens=True)
                hit[b] = code_block_end(text) is not None
        return torch.tensor(hit, dtype=torch.bool, device=input_ids.device)


class SeededSampler(LogitsProcessor):
    """Temperature + nucleus sampling (Holtzman et al. 2020) with one torch.Generator per row.

    Leaves only the drawn token finite, so generate's greedy step picks it. HF's own sampler
    draws the whole batch from one global RNG: a row's sample would then change with its
    batch-mates, and a resumed evaluation would not reproduce the uninterrupted one.
    """

    def __init__(self, generators: list[torch.Generator], temperature: float, top_p: float):
        self.temperature, self.top_p = temperature, top_p
        self.generators = generators  # one per row, seeded by the caller, kept across segments

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)  # (B, V)
        if self.top_p < 1:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            outside = sorted_p.cumsum(-1) - sorted_p > self.top_p  # mass before a token already covers top_p
            sorted_p[outside] = 0
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        picks = torch.cat([torch.multinomial(probs[b], 1, generator=g) for b, g in enumerate(self.generators)])
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(scores.shape[0]), picks] = 0
        return out


class RowStreamer(BaseStreamer):
    """Calls `on_text(row, text_so_far)` for every row after each new token (for SSE streaming)."""

    def __init__(self, tok, on_text: Callable[[int, str], None]):
        self.tok, self.on_text = tok, on_text
        self.rows: list[list[int]] | None = None

    def put(self, value: torch.Tensor) -> None:
        if self.rows is None:  # the first call carries the prompts (B, T)
            self.rows = [[] for _ in range(value.shape[0])]
            return
        for b, t in enumerate(value.reshape(-1).tolist()):  # (B,) one new token per row
            self.rows[b].append(t)
            self.on_text(b, self.tok.decode(self.rows[b], skip_special_tokens=True))

    def end(self) -> None:
        pass
