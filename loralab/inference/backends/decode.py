"""A batch of rows decoded one token per step, rows joining and leaving between steps.

`model.generate` keeps a finished row in the batch until the longest one ends, concatenates
every layer's keys and values at every step (an O(T) copy per token), and cannot take a new
prompt into a running batch. Here one decode step is one forward of the live rows' last
tokens over a KV cache whose buffers have room to grow (a step writes one column in place);
a finished row frees its slot, and a waiting prompt is prefilled and copied into that slot,
so the batch stays full while prompts wait (continuous batching, Yu et al. 2022, "Orca").
Rows that are left once nothing waits are compacted away when a quarter of the batch is
dead. The model is any transformers causal LM (or a PEFT model over one): only its forward
is called, with per-row position ids and a left-padding attention mask, so greedy tokens are
those `generate` picks for the same prompt.

Every row occupies one slot of the cache; all slots share the column count `width`. A row
whose prompt is shorter than `width` sits right-aligned, its leading columns masked out.

Prompts of one evaluation share their opening tokens (the chat template's system turn and the
instruction: 50 of the 155 tokens of an average HumanEval chat prompt for SmolLM2). Rows that
join together and share at least MIN_PREFIX leading tokens under one adapter get that prefix's
keys and values from one forward of the prefix alone, kept for later rows, and only their own
tokens are prefilled: the row then reads [prefix | padding | own tokens], the padding masked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from loralab.inference.generate import BASE, SamplingParams

CHUNK = 32  # columns a decoding cache grows by
MIN_PREFIX = 16  # shared leading tokens worth a forward of their own
KEPT_PREFIXES = 4  # prefixes' keys and values a batch keeps for rows that join later


class GrowingLayer(DynamicLayer):
    """One layer's keys and values (B, H, T, D), held in buffers with spare columns.

    `update` writes the new columns in place. A prefill cache hands attention the columns in
    use (a view) and doubles its buffers when full. A decoding cache (`whole`) hands attention
    its whole buffers, `CHUNK` columns at a time, with the spare columns masked out: a view
    of the first n columns is not contiguous across rows, and CPU attention then copies every
    layer's keys and values at every step (measured: most of a step's time at 300 columns);
    whole buffers are contiguous, for at most CHUNK - 1 masked columns of extra reading.
    `get_mask_sizes` tells the mask builder how wide the keys will be. The batch edits
    `buf_k`/`buf_v` directly to move rows between slots.
    """

    whole = False
    buf_k = buf_v = None
    n = 0  # columns in use

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self.is_initialized = True

    def capacity(self) -> int:
        return 0 if self.buf_k is None else self.buf_k.shape[-2]

    def capacity_for(self, columns: int) -> int:
        """The buffer width once `columns` columns are in use (a decoding cache grows by CHUNK)."""
        if columns <= self.capacity():
            return self.capacity()
        return -(-columns // CHUNK) * CHUNK

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        t = key_states.shape[-2]
        if self.buf_k is None:
            self.buf_k, self.buf_v = key_states.new_zeros(0), value_states.new_zeros(0)
            self.reserve(self.capacity_for(t) if self.whole else t + 64, like=key_states)
        elif self.n + t > self.capacity():
            self.reserve(self.capacity_for(self.n + t) if self.whole else 2 * (self.n + t))
        self.buf_k[:, :, self.n:self.n + t] = key_states
        self.buf_v[:, :, self.n:self.n + t] = value_states
        self.n += t
        self.keys, self.values = self.buf_k[:, :, :self.n], self.buf_v[:, :, :self.n]
        return (self.buf_k, self.buf_v) if self.whole else (self.keys, self.values)

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        if self.whole:
            return self.capacity_for(self.n + query_length), 0
        return self.n + query_length, 0

    def reserve(self, columns: int, like: torch.Tensor | None = None) -> None:
        """Buffers of `columns` columns holding the current ones (a copy)."""
        like = like if like is not None else self.buf_k
        b, h, _, d = like.shape
        k, v = like.new_zeros(b, h, columns, d), like.new_zeros(b, h, columns, d)
        if self.n:
            k[:, :, :self.n], v[:, :, :self.n] = self.buf_k[:, :, :self.n], self.buf_v[:, :, :self.n]
        self.buf_k, self.buf_v = k, v

    def start_from(self, keys: torch.Tensor, values: torch.Tensor, rows: int, columns: int) -> None:
        """Begin with a prefix's keys and values (1, H, p, D), repeated for `rows` rows, in
        buffers of `columns` columns."""
        self.lazy_initialization(keys, values)
        self.reserve(columns, like=keys.expand(rows, -1, -1, -1))
        p = keys.shape[-2]
        self.buf_k[:, :, :p], self.buf_v[:, :, :p] = keys, values
        self.set(self.buf_k, self.buf_v, p)

    def set(self, buf_k: torch.Tensor, buf_v: torch.Tensor, n: int) -> None:
        self.buf_k, self.buf_v, self.n = buf_k, buf_v, n
        self.keys, self.values = buf_k[:, :, :n], buf_v[:, :, :n]

    def get_seq_length(self) -> int:
        return self.n if self.is_initialized else 0


def growing_cache(model) -> DynamicCache:
    """A DynamicCache whose layers write in place. Every layer attends to the whole context:
    models with sliding-window layers decode as if their window were unlimited."""
    cache = DynamicCache()
    cache.layers = [GrowingLayer() for _ in range(model.config.get_text_config(decoder=True).num_hidden_layers)]
    return cache


@dataclass(eq=False)  # rows are compared by identity (slots.index)
class Row:
    """One sequence being decoded: its prompt, its tokens so far and how it picks the next."""

    ids: list[int]                              # prompt token ids
    params: SamplingParams                      # this row's own: max_new_tokens, temperature, stops
    adapter: str = BASE                         # PEFT adapter name, "__base__" = none
    sampler: torch.Generator | None = None      # seeded generator (sampled rows)
    cancelled: Callable[[], bool] | None = None  # true once nobody waits for this row
    tag: Any = None                             # the caller's handle
    out: list[int] = field(default_factory=list)
    done: bool = False


def pick_tokens(logits: torch.Tensor, rows: list[Row], at: list[int] | None = None) -> torch.Tensor:
    """Next token of each row from logits (B, V) in the model's dtype, row k of `rows` at
    `logits[at[k]]` (default: row k): argmax for greedy rows, a draw from the row's own seeded
    generator for sampled ones.

    Greedy rows take the argmax of the logits as they are: a bf16 value converts to float32
    exactly, so the pick is the one the float32 copy would give, without copying (B, V) floats
    at every step. Sampled rows are converted to float32 first.

    Temperature + nucleus sampling (Holtzman et al. 2020), batched over rows that share both
    settings. One generator per row: HF's sampler draws the whole batch from one global RNG,
    so a row's sample would change with its batch-mates and a resumed evaluation would not
    reproduce the uninterrupted one.
    """
    at = list(range(len(rows))) if at is None else at
    tokens = logits.argmax(-1)[at]  # (len(rows),)
    groups: dict[tuple[float, float], list[int]] = {}
    for k, r in enumerate(rows):
        if r.params.temperature > 0:
            groups.setdefault((r.params.temperature, r.params.top_p), []).append(k)
    for (temperature, top_p), ks in groups.items():
        probs = torch.softmax(logits[[at[k] for k in ks]].float() / temperature, dim=-1)  # (b, V)
        if top_p < 1:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            outside = sorted_p.cumsum(-1) - sorted_p > top_p  # mass before a token already covers top_p
            sorted_p[outside] = 0
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        draws = [torch.multinomial(probs[j], 1, generator=rows[k].sampler) for j, k in enumerate(ks)]
        tokens[ks] = torch.cat(draws)
    return tokens


class DecodeBatch:
    """Slots of rows over one KV cache: `add` prefills rows into free slots, `step` decodes one
    token for every live row, `finish` frees a row's slot.

    `adapters` (a context manager factory over the slots' adapter names) puts the model in the
    right LoRA state for a forward and yields extra forward kwargs.
    """

    def __init__(self, model, adapters: Callable[[list[str]], Any] | None = None, pad_id: int = 0):
        self.model, self.pad_id = model, pad_id
        self.adapters = adapters or (lambda names: contextlib.nullcontext({}))
        self.device = next(model.parameters()).device
        self.slots: list[Row | None] = []       # (B,) row per cache slot, None = free
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None   # (B, capacity) 1 where a slot's column is real
        self.positions: torch.Tensor | None = None  # (B,) position id of each slot's next token
        self.width = 0                          # cache columns in use
        self.prefixes: dict[tuple[str, tuple[int, ...]], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self.prefix_tokens_reused = 0           # prompt tokens not prefilled thanks to a shared prefix

    @property
    def live(self) -> list[Row]:
        return [r for r in self.slots if r is not None]

    def free_slots(self) -> int:
        return sum(r is None for r in self.slots)

    # ------------------------------------------------------------------ joining

    def add(self, rows: list[Row]) -> list[int]:
        """Prefill `rows` (one forward, left padded among themselves, after their shared prefix's
        keys and values when they have one), put them into free slots (new slots when none are
        free) and pick each one's first token. Returns the tokens."""
        p, prefix = self._prefix(rows)
        ids, mask = self._left_pad([r.ids[p:] for r in rows])  # (k, w - p)
        mask = torch.cat([mask.new_ones(len(rows), p), mask], dim=1)  # (k, w)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, p:]
        cache = growing_cache(self.model)
        for layer, (k, v) in zip(self._layers_of_cache(cache), prefix or [], strict=False):
            layer.start_from(k, v, len(rows), mask.shape[1] + 64)
        with self.adapters([r.adapter for r in rows]) as extra:
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                                use_cache=True, logits_to_keep=1, **extra).logits[:, -1]  # (k, V)
        first = pick_tokens(logits, rows)
        self.prefix_tokens_reused += p * len(rows)
        if self.cache is None:
            for layer in self._layers_of_cache(cache):
                layer.whole = True  # from now on it is the decoding cache
            self.cache, self.mask, self.width = cache, self._room(mask), mask.shape[1]
            self.positions = mask.sum(-1)
            self.slots = list(rows)
        else:
            self._merge(rows, cache, mask)
        tokens = first.tolist()
        for r, t in zip(rows, tokens, strict=True):
            r.out.append(t)
        return tokens

    def _prefix(self, rows: list[Row]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]] | None]:
        """The longest kept prefix that every row starts with (each keeping a token of its own),
        else the rows' common prefix, computed and kept when there are several rows and it is at
        least MIN_PREFIX tokens; (0, None) when none applies or the rows' adapters differ.
        Returns its length and each layer's keys and values (1, H, p, D)."""
        adapter = rows[0].adapter
        if any(r.adapter != adapter for r in rows):
            return 0, None
        limit = min(len(r.ids) for r in rows) - 1
        kept = [(len(ids), kv) for (a, ids), kv in self.prefixes.items()
                if a == adapter and len(ids) <= limit and all(tuple(r.ids[:len(ids)]) == ids for r in rows)]
        if kept:
            return max(kept, key=lambda x: x[0])
        if len(rows) < 2:
            return 0, None
        p = 0
        while p < limit and all(r.ids[p] == rows[0].ids[p] for r in rows):
            p += 1
        if p < MIN_PREFIX:
            return 0, None
        cache = growing_cache(self.model)
        ids = torch.tensor([rows[0].ids[:p]], device=self.device)
        with self.adapters([adapter]) as extra:
            self.model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, use_cache=True,
                       logits_to_keep=1, **extra)
        kv = [(layer.keys.clone(), layer.values.clone()) for layer in self._layers_of_cache(cache)]
        if len(self.prefixes) >= KEPT_PREFIXES:
            del self.prefixes[next(iter(self.prefixes))]  # the oldest
        self.prefixes[adapter, tuple(rows[0].ids[:p])] = kv
        self.prefix_tokens_reused -= p  # computed once: the first row's prefix was prefilled
        return p, kv

    def _merge(self, rows: list[Row], cache: DynamicCache, mask: torch.Tensor) -> None:
        """Copy freshly prefilled rows (k, H, w, D) into free slots, right-aligned at `width`."""
        w = mask.shape[1]
        if w > self.width:
            self._shift(w - self.width)  # rare: a longer prompt than any live row's context
        free = [s for s, r in enumerate(self.slots) if r is None][:len(rows)]
        grow = len(rows) - len(free)
        if grow:
            self._grow_slots(grow)
            free += list(range(len(self.slots) - grow, len(self.slots)))
        index = torch.tensor(free, device=self.device)
        lo = self.width - w
        for mine, new in zip(self._layers_of_cache(self.cache), cache.layers, strict=True):
            mine.buf_k[index] = 0
            mine.buf_v[index] = 0
            mine.buf_k[index, :, lo:self.width] = new.buf_k[:, :, :w]
            mine.buf_v[index, :, lo:self.width] = new.buf_v[:, :, :w]
        self.mask[index] = 0
        self.mask[index, lo:self.width] = mask
        self.positions[index] = mask.sum(-1)
        for s, r in zip(free, rows, strict=True):
            self.slots[s] = r

    def _grow_slots(self, k: int) -> None:
        for layer in self._layers_of_cache(self.cache):
            pad = layer.buf_k.new_zeros(k, *layer.buf_k.shape[1:])
            layer.set(torch.cat([layer.buf_k, pad]), torch.cat([layer.buf_v, pad.clone()]), layer.n)
        self.mask = torch.cat([self.mask, self.mask.new_zeros(k, self.mask.shape[1])])
        self.positions = torch.cat([self.positions, self.positions.new_zeros(k)])
        self.slots += [None] * k

    def _shift(self, p: int) -> None:
        """Put `p` masked columns in front of every slot (the cache's context grows by p)."""
        for layer in self._layers_of_cache(self.cache):
            b, h, cap, d = layer.buf_k.shape
            k, v = layer.buf_k.new_zeros(b, h, cap + p, d), layer.buf_v.new_zeros(b, h, cap + p, d)
            k[:, :, p:p + layer.n], v[:, :, p:p + layer.n] = layer.keys, layer.values
            layer.set(k, v, layer.n + p)
        self.mask = torch.cat([self.mask.new_zeros(self.mask.shape[0], p), self.mask], dim=1)
        self.width += p

    # ------------------------------------------------------------------ decoding

    def step(self) -> list[tuple[Row, int]]:
        """One new token for every live row (its last token in, the next one out)."""
        live = [s for s, r in enumerate(self.slots) if r is not None]
        rows = [self.slots[s] for s in live]
        last = torch.tensor([[r.out[-1] if r is not None else self.pad_id] for r in self.slots], device=self.device)
        columns = self._layers_of_cache(self.cache)[0].capacity_for(self.width + 1)  # the keys attention reads
        if columns > self.mask.shape[1]:
            self.mask = torch.cat([self.mask, self.mask.new_zeros(self.mask.shape[0], columns)], dim=1)
        self.mask[:, self.width] = 1
        names = [r.adapter if r is not None else rows[0].adapter for r in self.slots]  # dead slots: any
        with self.adapters(names) as extra:
            logits = self.model(input_ids=last, attention_mask=self.mask[:, :columns],
                                position_ids=self.positions[:, None], cache=self.cache, use_cache=True,
                                **extra).logits[:, -1]  # (B, V)
        self.width += 1
        self.positions += 1
        picks = pick_tokens(logits, rows, at=live).tolist()
        for r, t in zip(rows, picks, strict=True):
            r.out.append(t)
        return list(zip(rows, picks, strict=True))

    def finish(self, row: Row) -> None:
        """Free `row`'s slot (a dead slot still rides along in `step` until `add` or `compact`)."""
        row.done = True
        self.slots[self.slots.index(row)] = None

    def unused_columns(self) -> int:
        """Leading columns no live row attends to (its prompt starts later)."""
        live = [s for s, r in enumerate(self.slots) if r is not None]
        if not live:
            return self.width
        return int(self.mask[live, :self.width].argmax(-1).min())

    def compact(self, drop_free: bool = True) -> None:
        """Drop the free slots (unless `drop_free` is False) and the leading columns no live row
        uses: later steps then compute and read less. Copies the cache."""
        keep = [s for s, r in enumerate(self.slots) if r is not None or not drop_free]
        if not any(self.slots[s] is not None for s in keep):
            self.slots, self.cache, self.width = [], None, 0
            return
        first = self.unused_columns()
        index = torch.tensor(keep, device=self.device)
        for layer in self._layers_of_cache(self.cache):
            layer.set(layer.buf_k[index, :, first:].contiguous(), layer.buf_v[index, :, first:].contiguous(),
                      layer.n - first)
        self.mask = self.mask[index, first:].contiguous()
        self.positions = self.positions[index]
        self.width -= first
        self.slots = [self.slots[s] for s in keep]

    # ------------------------------------------------------------------ helpers

    def _left_pad(self, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for b, x in enumerate(ids):
            input_ids[b, width - len(x):] = torch.tensor(x, dtype=torch.long)
            mask[b, width - len(x):] = 1
        return input_ids.to(self.device), mask.to(self.device)

    @staticmethod
    def _room(mask: torch.Tensor) -> torch.Tensor:
        """The mask with spare columns for the steps to come."""
        return torch.cat([mask, mask.new_zeros(mask.shape[0], 64)], dim=1)

    @staticmethod
    def _layers_of_cache(cache: DynamicCache) -> list[GrowingLayer]:
        return cache.layers
