"""Transformers backend: one base model in memory, any number of LoRA adapters, batched decoding.

Requests are expanded to one row per (request, sample), sorted by prompt length (longest
first) and decoded by our own loop over the model's forward (decode.py): one prefill per
row, then one token per step for every live row over a KV cache written in place; a row
that ends frees its slot and the next waiting row joins (continuous batching), so up to
`batch_size` rows always decode together and nothing is re-encoded. Greedy tokens are those
`model.generate` picks. Rows of one batch may use different adapters: PEFT's
`adapter_names` routes each row through its own LoRA weights while the base matmuls stay
batched (`"__base__"` = no adapter). A stop string ends a row early and the text is cut at
its first occurrence. A batch of one adapter uses `set_adapter` (or `disable_adapter` for the
base) instead; DoRA adapters, which PEFT cannot mix per row, get batches of their own.
Sampling draws each row from its own seeded generator, so a sample depends on (seed,
prompt, sample index) and not on its batch-mates: a resumed or re-batched run draws the
same text.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from loralab.errors import LoralabError
from loralab.inference.backends.attention import use_decode_attention
from loralab.inference.backends.decode import DecodeBatch, Row
from loralab.inference.generate import (
    BASE,
    RESERVED,
    Arrival,
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
from loralab.inference.precision import cpu_generation_dtype
from loralab.models import load_adapter, load_model

PREFILL_ROWS = 8  # rows prefilled per forward: enough tokens for efficient matmuls, little padding


class TransformersGenerator:
    """Generator over a loaded (model, tokenizer); adapters are added by name."""

    streams = True
    joins = True  # `run` takes requests between decode steps (continuous batching)

    def __init__(self, model, tok, *, identity: str, batch_size: int = 8, router: Router | None = None,
                 default_adapter: str = BASE):
        self.model = model.eval()
        self.decode_attention = use_decode_attention(self.model)  # CPU: one-query steps skip SDPA's flash kernel
        self.tok = tok
        self.base_identity = identity
        self.batch_size = batch_size
        self.router = router
        self.default_adapter = default_adapter
        self.adapters: dict[str, str] = {}  # name -> content hash of its directory
        self.unmixable: set[str] = set()  # DoRA adapters: PEFT cannot mix them per row
        self.stats = {"new_tokens": 0, "seconds": 0.0, "batches": 0, "steps": 0, "prefix_tokens_reused": 0}
        self.precision: dict | None = None  # the fp32/bf16 measurement behind model.dtype auto on CPU

    @classmethod
    def from_config(cls, mcfg, adapters: dict[str, str | Path] | None = None, *, router: Router | None = None,
                    batch_size: int = 8) -> TransformersGenerator:
        """Load the base once; `mcfg.adapter` becomes adapter "default" and the default for requests."""
        model, tok = load_model(mcfg.model_copy(update={"adapter": None}))
        identity = model_identity(mcfg.name, mcfg.revision)
        precision = None
        if mcfg.dtype == "auto" and model.device.type == "cpu" and model.dtype == torch.float32:
            dtype, precision = cpu_generation_dtype(model)  # measured once per machine and model
            if dtype != torch.float32:
                model, identity = model.to(dtype), f"{identity}~{str(dtype).removeprefix('torch.')}"
        gen = cls(model, tok, identity=identity, batch_size=batch_size, router=router)
        gen.precision = precision
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
        got: list[list[list[str]]] = []
        self.run([Arrival(list(requests), params, got.append, on_text)])
        return got[0]

    def run(self, arrivals: list[Arrival], more: Callable[[], list[Arrival]] | None = None) -> None:
        """Decode every arrival's requests, calling each one's `done` as it completes.

        Rows (one per request and sample) are sorted by prompt length, longest first, so a
        row that joins later fits the columns the batch already has. `more()` is asked between
        decode steps for arrivals that join the running batch (continuous batching for
        `loralab serve`; not with DoRA adapters loaded, whose rows decode apart). Errors of
        the first arrivals (an unknown adapter, a bad request) raise before anything decodes.
        """
        rows = [row for a in arrivals for row in self._rows(a)]
        # DoRA adapters' rows are kept together: PEFT cannot mix them per row
        rows.sort(key=lambda r: (r.adapter if r.adapter in self.unmixable else "", -len(r.ids)))
        groups = self._groups(rows)
        for k, group in enumerate(groups):
            self.decode(group, more if k == len(groups) - 1 and not self.unmixable else None)
        if more is not None and not groups and not self.unmixable:
            self.decode([], more)

    def _rows(self, a: Arrival) -> list[Row]:
        """One row per (request, sample); each sampled row gets its own seeded generator."""
        a.params.check()
        names = route_adapters(a.requests, self.router, set(self.adapters), self.default_adapter)
        pending = _Pending(a, [[""] * a.params.n for _ in a.requests], len(a.requests) * a.params.n)
        rows = []
        for i, req in enumerate(a.requests):
            text, special = self.render(req)
            ids = self.tok(text, add_special_tokens=special)["input_ids"]
            for j in range(a.params.n):
                sampler = None
                if a.params.temperature > 0:
                    seed = stable_seed(req.sampling(a.params).seed, text, j)
                    sampler = torch.Generator(device=self.model.device).manual_seed(seed)
                rows.append(Row(ids=ids, params=a.params, adapter=names[i], sampler=sampler,
                                cancelled=req.is_cancelled, tag=(pending, i, j)))
        if not rows:
            a.done(pending.outs)
        return rows

    def _joining(self, more: Callable[[], list[Arrival]]) -> list[Row]:
        """Rows of the arrivals `more()` hands over; one that cannot decode fails alone."""
        rows = []
        for a in more():
            try:
                rows += self._rows(a)
            except LoralabError as e:
                if a.failed is None:
                    raise
                a.failed(e)
        return rows

    def _groups(self, rows: list[Row]) -> list[list[Row]]:
        """Rows that may share a decode batch: all of them, except that a DoRA adapter's rows
        (PEFT cannot mix DoRA per row) decode apart from every other adapter's."""
        groups: list[list[Row]] = []
        for row in rows:
            last = groups[-1][0].adapter if groups else None
            if last is not None and (row.adapter == last or not (row.adapter in self.unmixable or last in self.unmixable)):
                groups[-1].append(row)
            else:
                groups.append([row])
        return groups

    def decode(self, rows: list[Row], more: Callable[[], list[Arrival]] | None = None) -> None:
        """Decode `rows` with at most `batch_size` of them at a time; each ending row's text goes
        to its arrival (`tag`), and `more()` (if given) adds rows between steps.

        Continuous batching (decode.py): a row that ends (EOS, its own max_new_tokens, a stop
        string, a closed code block, its `cancelled()` check) frees its slot, and the next
        waiting row is prefilled into it, several at once when an eighth of the slots are free.
        """
        batch = DecodeBatch(self.model, self._adapter_state, pad_id=self.tok.pad_token_id)
        waiting = collections.deque(rows)
        refill_at = max(1, self.batch_size // 8)
        eos = self._eos_ids() | ({self.tok.pad_token_id} if self.tok.pad_token_id is not None else set())
        t0, steps, tokens = time.perf_counter(), 0, 0
        with torch.inference_mode():
            while True:
                if more is not None:
                    waiting.extend(self._joining(more))
                if not (waiting or batch.live):
                    break
                room = self.batch_size - len(batch.live)
                if waiting and room >= min(refill_at, len(waiting)):
                    joining = [waiting.popleft() for _ in range(min(room, len(waiting)))]
                    for _, same in itertools.groupby(sorted(joining, key=lambda r: r.adapter), lambda r: r.adapter):
                        same = list(same)  # one adapter: the rows can share a prompt prefix's keys and values
                        for k in range(0, len(same), PREFILL_ROWS):  # similar lengths: little padding
                            batch.add(same[k:k + PREFILL_ROWS])
                    new = [(r, r.out[-1]) for r in joining]
                else:
                    if not waiting and batch.free_slots() * 4 >= len(batch.slots):
                        batch.compact()  # the tail: a quarter of the slots are dead
                    elif batch.unused_columns() * 4 >= max(batch.width, 128):
                        batch.compact(drop_free=False)  # the long prompts have left
                    new = batch.step()
                steps += 1
                for row, token in new:
                    pending, i, j = row.tag
                    if pending.arrival.on_text is not None:
                        pending.arrival.on_text(i, j, self.tok.decode(row.out, skip_special_tokens=True))
                    if self._ends(row, token, eos):
                        batch.finish(row)
                        tokens += len(row.out)
                        pending.finish(i, j, self.text(row))
        self.stats["new_tokens"] += tokens
        self.stats["seconds"] += time.perf_counter() - t0
        self.stats["batches"] += 1
        self.stats["steps"] += steps
        self.stats["prefix_tokens_reused"] += batch.prefix_tokens_reused

    def _ends(self, row: Row, token: int, eos: set[int]) -> bool:
        """Whether `row` is done after `token`: EOS, its budget, a stop string, a closed block, cancelled."""
        if token in eos or len(row.out) >= row.params.max_new_tokens or (row.cancelled and row.cancelled()):
            return True
        return stops(self.tok, row.out, row.params)

    def text(self, row: Row) -> str:
        """A finished row's text: cut at its first stop string, or after its first code block."""
        text = cut_at_stop(self.tok.decode(row.out, skip_special_tokens=True), row.params.stop)
        return cut_after_code_block(text) if row.params.stop_after_code_block else text

    @contextlib.contextmanager
    def _adapter_state(self, names: list[str]):
        """The model's LoRA state for one forward over rows using `names` (B,): one adapter (or
        the base) for all of them, or PEFT's per-row `adapter_names`. Yields forward kwargs."""
        if not hasattr(self.model, "peft_config"):
            if any(a != BASE for a in names):
                raise LoralabError(f"adapters {sorted(set(names) - {BASE})} requested but none are loaded")
            yield {}
        elif len(set(names)) > 1:
            yield {"adapter_names": names}
        elif names[0] == BASE:
            with self.model.disable_adapter():
                yield {}
        else:
            if self.model.active_adapter != names[0]:
                self.model.set_adapter(names[0])
            yield {}

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        return {e for e in eos + [self.tok.eos_token_id] if e is not None}


@dataclass
class _Pending:
    """An arrival's texts so far and how many of its rows are still decoding."""

    arrival: Arrival
    outs: list[list[str]]
    left: int

    def finish(self, i: int, j: int, text: str) -> None:
        self.outs[i][j] = text
        self.left -= 1
        if self.left == 0:
            self.arrival.done(self.outs)


def stops(tok, out: list[int], params: SamplingParams) -> bool:
    """Whether the generated tokens `out` just met a stop string or closed a fenced code block.

    Called after every token, so it decodes only the last few: a stop string of c characters
    spans at most c tokens (each token is at least one character), and the whole text is
    decoded only when a fence character has just come.
    """
    if params.stop:
        tail = tok.decode(out[-(max(len(s) for s in params.stop) + 1):], skip_special_tokens=True)
        if any(s in tail for s in params.stop):
            return True
    if params.stop_after_code_block:
        tail = tok.decode(out[-4:], skip_special_tokens=True)
        if "`" in tail or "~" in tail:
            return code_block_end(tok.decode(out, skip_special_tokens=True)) is not None
    return False


