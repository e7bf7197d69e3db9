"""Tokenised examples, the batch plan of a run, and the tensors each micro-batch becomes.

A `TokenizedExample` holds `input_ids` and already-shifted `targets`: `targets[j]` is the token that
position j must predict, or IGNORE. Shifting per example (not per batch) is what makes
packing safe: the last token of one example never learns to predict the first of the next.

Batching modes (all give the same loss; they differ only in how much work is wasted):
  pad             batch_size examples padded to the longest (the seeds' recipe), rows (B, L)
  length_grouped  like pad, but each batch is drawn from a sorted mega-batch of 50 batches, so
                  its members have similar lengths and little padding (HF's group_by_length)
  packed          batch_size examples concatenated into one row (1, sum L), position_ids restart
                  at every example and attention stays within it (transformers builds the
                  block-diagonal mask from the position_ids reset; flash-attn uses varlen): no pad
The plan is a pure function of (seed, epoch, lengths, global batch size), so a resumed run
replays exactly the batches an uninterrupted run would see, without saving any sampler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from loralab.errors import LoralabError

if TYPE_CHECKING:
    import torch

IGNORE = -100  # the ignore_index of cross-entropy
MEGABATCH = 50  # batches per sorted mega-batch in length_grouped mode (as HF's LengthGroupedSampler)


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: tuple[int, ...]  # prompt + response + EOS (cpt: text + EOS), at most max_seq_len
    targets: tuple[int, ...]  # targets[j]: the token position j predicts, or IGNORE

    @property
    def n_supervised(self) -> int:
        return sum(t != IGNORE for t in self.targets)


@dataclass
class TokenizeReport:
    """What tokenisation did to a split, so silent truncation is never silent."""

    rows: int = 0
    examples: int = 0
    no_supervised: list[str] = field(default_factory=list)  # ids dropped: the prompt filled max_seq_len
    eos_truncated: list[str] = field(default_factory=list)  # ids kept, but the response (and EOS) was cut
    chunked: int = 0  # cpt documents longer than max_seq_len, split into windows

    def as_dict(self) -> dict:
        return {"rows": self.rows, "examples": self.examples, "no_supervised": len(self.no_supervised),
                "eos_truncated": len(self.eos_truncated), "chunked": self.chunked,
                "no_supervised_ids": self.no_supervised[:20], "eos_truncated_ids": self.eos_truncated[:20]}

    def warnings(self, split: str, max_seq_len: int) -> list[str]:
        out = []
        if self.no_supervised:
            out.append(f"{split}: {len(self.no_supervised)} example(s) dropped: the prompt alone fills "
                       f"train.max_seq_len={max_seq_len}, nothing left to supervise (e.g. {self.no_supervised[0]})")
        if self.eos_truncated:
            out.append(f"{split}: {len(self.eos_truncated)} example(s) truncated at train.max_seq_len={max_seq_len}; "
                       f"their EOS is not supervised (e.g. {self.eos_truncated[0]}), so the model may not learn to stop")
        return out


# ----------------------------------------------------------------------------- tokenisation


def bos_prefix(tok) -> list[int]:
    """The special tokens the tokenizer puts before a text ([BOS] for Llama-3, [] for SmolLM2)."""
    with_special = tok("a").input_ids
    plain = tok("a", add_special_tokens=False).input_ids
    n = len(with_special) - len(plain)
    return list(with_special[:n]) if n > 0 and with_special[n:] == plain else []


def shifted_targets(ids: Sequence[int], first_supervised: int) -> tuple[int, ...]:
    """targets[j] = ids[j+1] where position j+1 is supervised (j+1 >= first_supervised), else IGNORE."""
    start = max(first_supervised, 1)
    return tuple(ids[j + 1] if j + 1 >= start else IGNORE for j in range(len(ids) - 1)) + (IGNORE,)


def masked_targets(ids: Sequence[int], supervised: Sequence[bool]) -> tuple[int, ...]:
    """targets[j] = ids[j+1] where position j+1 is supervised, else IGNORE (position 0 never is)."""
    return tuple(ids[j + 1] if supervised[j + 1] else IGNORE for j in range(len(ids) - 1)) + (IGNORE,)


def _texts(rows: list[dict], key: str, split: str) -> list[str]:
    out = []
    for i, row in enumerate(rows, start=1):
        value = row.get(key)
        if not isinstance(value, str):
            what = "missing" if value is None else f"not a string ({type(value).__name__})"
            raise LoralabError(f"{split}.jsonl line {i}: field '{key}' is {what}; the trainer needs "
                               "prompt and response (instruction) or text (cpt), as `loralab prepare` writes")
        out.append(value)
    return out


def tokenize_instruction(rows: list[dict], tok, max_seq_len: int, split: str = "train",
                         all_assistant: bool = True) -> tuple[list[TokenizedExample], TokenizeReport]:
    """prompt + response + EOS; the response and the EOS are supervised, and with `all_assistant`
    the earlier assistant turns a chat row's `assistant_spans` mark inside the prompt.

    Every piece (prompt text, earlier assistant turn, response) is tokenised apart, as at
    inference the prompt is tokenised alone and the model continues it; a prompt already
    starting with the BOS text gets no second BOS.
    """
    prompts, responses = _texts(rows, "prompt", split), _texts(rows, "response", split)
    pieces = [_prompt_pieces(row, text, split, i, all_assistant) for i, (row, text) in
              enumerate(zip(rows, prompts, strict=True), start=1)]
    flat = [text for row_pieces in pieces for text, _ in row_pieces]
    flat_ids = iter(tok(flat, add_special_tokens=False).input_ids if flat else [])
    r_ids = tok(responses, add_special_tokens=False).input_ids
    prefix, eos = bos_prefix(tok), tok.eos_token_id
    report, examples = TokenizeReport(rows=len(rows)), []
    for row, text, row_pieces, r in zip(rows, prompts, pieces, r_ids, strict=True):
        bos = [] if tok.bos_token and text.startswith(tok.bos_token) else prefix
        ids, mask = list(bos), [False] * len(bos)
        for _, trained in row_pieces:
            piece = next(flat_ids)
            ids += piece
            mask += [trained] * len(piece)
        ids, mask = ids + r + [eos], mask + [True] * (len(r) + 1)
        row_id = str(row.get("id", len(examples)))
        if not any(mask[1:max_seq_len]):
            report.no_supervised.append(row_id)
            continue
        if len(ids) > max_seq_len:
            report.eos_truncated.append(row_id)
            ids, mask = ids[:max_seq_len], mask[:max_seq_len]
        examples.append(TokenizedExample(tuple(ids), masked_targets(ids, mask)))
    report.examples = len(examples)
    return examples, report


def _prompt_pieces(row: dict, prompt: str, split: str, line: int, all_assistant: bool) -> list[tuple[str, bool]]:
    """(text, supervised) pieces of a prompt, cut at its `assistant_spans`; empty pieces left out."""
    spans = (row.get("assistant_spans") or []) if all_assistant else []
    if not _valid_spans(spans, len(prompt)):
        raise LoralabError(f"{split}.jsonl line {line}: 'assistant_spans' must be sorted, non-overlapping "
                           f"[start, end] pairs inside the prompt (length {len(prompt)}), got {spans!r:.80}")
    out, at = [], 0
    for start, end in spans:
        out += [(prompt[at:start], False), (prompt[start:end], True)]
        at = end
    out.append((prompt[at:], False))
    return [(text, trained) for text, trained in out if text]


def _valid_spans(spans, length: int) -> bool:
    if not isinstance(spans, list):
        return False
    at = 0
    for span in spans:
        if not (isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span)
                and at <= span[0] < span[1] <= length):
            return False
        at = span[1]
    return True


def tokenize_cpt(rows: list[dict], tok, max_seq_len: int, split: str = "train") -> tuple[list[TokenizedExample], TokenizeReport]:
    """Raw text + EOS, every token supervised; long documents are cut into max_seq_len windows."""
    texts = [r["text"] if isinstance(r.get("text"), str) else None for r in rows]
    if any(t is None for t in texts):  # rows without `text`: prompt + response is the document
        texts = [t if t is not None else p + c for t, p, c in
                 zip(texts, _texts(rows, "prompt", split), _texts(rows, "response", split), strict=True)]
    prefix, eos = bos_prefix(tok), tok.eos_token_id
    report, examples = TokenizeReport(rows=len(rows)), []
    for ids in tok(texts, add_special_tokens=False).input_ids:
        ids = prefix + ids + [eos]
        report.chunked += len(ids) > max_seq_len
        for start in range(0, len(ids), max_seq_len):
            window = ids[start:start + max_seq_len]
            if len(window) >= 2:  # a single token predicts nothing
                examples.append(TokenizedExample(tuple(window), shifted_targets(window, 1)))
    report.examples = len(examples)
    return examples, report


def tokenize(rows: list[dict], tok, objective: str, max_seq_len: int, split: str = "train",
             all_assistant: bool = True):
    if objective == "instruction":
        return tokenize_instruction(rows, tok, max_seq_len, split, all_assistant)
    return tokenize_cpt(rows, tok, max_seq_len, split)


# ----------------------------------------------------------------------------- the plan


def epoch_batches(lengths: tuple[int, ...], global_batch: int, seed: int, epoch: int, mode: str) -> list[list[int]]:
    """Example indices of every global batch of one epoch, in order."""
    order = np.random.default_rng([seed, epoch]).permutation(len(lengths))
    if mode == "length_grouped":
        size = global_batch * MEGABATCH
        order = np.concatenate([sorted(order[i:i + size], key=lambda k: -lengths[k])
                                for i in range(0, len(order), size)]) if len(order) else order
    return [order[i:i + global_batch].tolist() for i in range(0, len(order), global_batch)]


@dataclass(frozen=True)
class Plan:
    """Which examples every optimizer step uses; the same on every rank.

    A step is `grad_accum` micro-batches of `batch_size * world` examples (fewer at an
    epoch's end); a rank takes every world-th example of a micro-batch. Steps never cross
    an epoch boundary, so `epoch + fraction` is exact at every step.
    """

    lengths: tuple[int, ...]
    supervised: tuple[int, ...]
    batch_size: int
    grad_accum: int
    world: int
    seed: int
    mode: str

    @property
    def batches_per_epoch(self) -> int:
        n = len(self.lengths) // self.world * self.world  # ranks must each get an example
        return math.ceil(n / (self.batch_size * self.world))

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.batches_per_epoch / self.grad_accum)

    def total_steps(self, epochs: float, max_steps: int | None) -> int:
        return max_steps if max_steps else max(1, math.ceil(epochs * self.steps_per_epoch))

    def step(self, step: int) -> tuple[int, list[list[int]]]:
        """(epoch, micro-batches of global example indices) of optimizer step `step` (0-based)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        batches = _epoch_plan(self, epoch)
        return epoch, batches[within * self.grad_accum:(within + 1) * self.grad_accum]

    def epoch_at(self, step: int) -> float:
        """Epochs completed after `step` optimizer steps."""
        return round(step / self.steps_per_epoch, 4)

    def shard(self, micro: list[int], rank: int) -> list[int]:
        return micro[rank::self.world]


@lru_cache(maxsize=2)
def _epoch_plan(plan: Plan, epoch: int) -> list[list[int]]:
    usable = len(plan.lengths) // plan.world * plan.world
    batches = epoch_batches(plan.lengths, plan.batch_size * plan.world, plan.seed, epoch, plan.mode)
    # The last global batch must split evenly across ranks; trim it (world=1 keeps everything).
    flat = sum(len(b) for b in batches)
    if flat > usable:
        batches[-1] = batches[-1][:len(batches[-1]) - (flat - usable)]
    return [b for b in batches if b]


def make_plan(examples: list[TokenizedExample], batch_size: int, grad_accum: int, world: int, seed: int, mode: str) -> Plan:
    if len(examples) < world:
        raise LoralabError(f"the train split has {len(examples)} usable example(s), fewer than the {world} processes")
    return Plan(tuple(len(e.input_ids) for e in examples), tuple(e.n_supervised for e in examples),
                batch_size, grad_accum, world, seed, mode)


# ----------------------------------------------------------------------------- tensors


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T); B = 1 when packed
    position_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor | None  # (B, T) when padded; None when packed
    targets: torch.Tensor  # (B, K): the targets of the kept positions, IGNORE elsewhere
    keep: torch.Tensor  # (K,) positions whose logits are needed (any row supervised there)
    n_tokens: int  # real (non-pad) tokens
    n_examples: int

    def to(self, device) -> Batch:
        def move(t):
            return t.to(device, non_blocking=True) if t is not None else None

        return Batch(move(self.input_ids), move(self.position_ids), move(self.attention_mask),
                     move(self.targets), move(self.keep), self.n_tokens, self.n_examples)


def collate(examples: list[TokenizedExample], mode: str, pad_id: int) -> Batch:
    return collate_packed(examples) if mode == "packed" else collate_padded(examples, pad_id)


def collate_packed(examples: list[TokenizedExample]) -> Batch:
    """One row of all examples back to back; position_ids restart at 0 for each."""
    import torch

    ids = torch.tensor([t for e in examples for t in e.input_ids])  # (T,)
    pos = torch.tensor([j for e in examples for j in range(len(e.input_ids))])
    targets = torch.tensor([t for e in examples for t in e.targets])
    keep = (targets != IGNORE).nonzero().squeeze(1)  # (K,)
    return Batch(ids[None], pos[None], None, targets[keep][None], keep, len(ids), len(examples))


def collate_padded(examples: list[TokenizedExample], pad_id: int) -> Batch:
    """Rows padded on the right to the longest member, as the seeds' collator does."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    targets = torch.full((len(examples), width), IGNORE)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n], mask[row, :n], targets[row, :n] = torch.tensor(e.input_ids), 1, torch.tensor(e.targets)
    keep = (targets != IGNORE).any(0).nonzero().squeeze(1)  # (K,) columns with any supervised row
    pos = torch.arange(width).expand(len(examples), -1)
    return Batch(ids, pos, mask, targets[:, keep], keep, int(mask.sum()), len(examples))
