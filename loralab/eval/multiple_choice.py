"""Multiple-choice scoring by log-likelihood: the forgetting suite (HellaSwag, ARC, WinoGrande, ...).

Every choice of every item is a (context, continuation) pair; its score is
log P(continuation | context) summed over the continuation's tokens. The prediction is the
argmax of the scores (acc) or of the scores divided by the choice's length in characters
(acc_norm, as lm-evaluation-harness normalises; Gao et al. 2021). WinoGrande uses partial
scoring: different contexts, the same continuation (see mc_tasks.py).

Tokenisation follows lm-evaluation-harness so numbers are comparable: trailing spaces of the
context move to the continuation, the context and context+continuation are encoded
separately (no special tokens), and the continuation's tokens are those of the joint encoding
after the context's length; the model reads context tokens + continuation tokens.

Batching: all pairs of all items are sorted longest first and cut into batches of
`batch_size`, padded on the right (so every real token keeps its position ids and causal
attention never sees a pad). Only the continuation positions are projected to the vocabulary
(`logits_to_keep` with a boolean mask), which skips most of the LM head's work and memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loralab.errors import LoralabError
from loralab.eval.mc_tasks import McItem, get_task, load_items

if TYPE_CHECKING:
    import torch

    from loralab.config import ModelConfig, RunConfig


@dataclass
class McResult:
    task: str
    metrics: dict                      # acc, acc_stderr, acc_norm, acc_norm_stderr, n
    records: list[dict] = field(default_factory=list)  # one per item: loglikelihoods, pred, acc, ...
    out_dir: Path | None = None

    def summary(self) -> str:
        parts = [f"{k} {100 * self.metrics[k]:.2f} ± {100 * self.metrics[k + '_stderr']:.2f}"
                 for k in ("acc", "acc_norm") if k in self.metrics]
        return f"{self.task}: {', '.join(parts)} (n={self.metrics['n']})"


# ----------------------------------------------------------------------------- tokenisation


def encode_pair(tok, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) the way lm-evaluation-harness splits them."""
    stripped = context.rstrip()
    if len(stripped) < len(context):  # "Answer: " + "B" tokenises as "Answer:" + " B"
        continuation = context[len(stripped):] + continuation
        context = stripped
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tok(context, add_special_tokens=False)["input_ids"] if context else []
    cont = whole[len(ctx):]
    if not ctx:  # an empty context still needs one token to predict the first continuation token from
        ctx = [tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id]
    if not cont:
        raise LoralabError(f"continuation {continuation!r} tokenises to nothing after context {context[-40:]!r}")
    return ctx, cont


# ----------------------------------------------------------------------------- scoring


def loglikelihoods(model, tok, pairs: list[tuple[str, str]], *, batch_size: int = 16,
                   max_length: int | None = None) -> list[float]:
    """log P(continuation | context) for each (context, continuation) pair, in input order."""
    encoded = [encode_pair(tok, c, x) for c, x in pairs]
    max_length = max_length or getattr(model.config, "max_position_embeddings", 2048)
    seqs = [_truncate(ctx, cont, max_length) for ctx, cont in encoded]
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0]))  # longest first: OOM shows at once
    out = [0.0] * len(seqs)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        for i, ll in zip(idx, _score_batch(model, [seqs[i] for i in idx], tok.pad_token_id or 0), strict=True):
            out[i] = ll
    return out


def _truncate(ctx: list[int], cont: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """(model input ids, continuation ids); the context is cut from the left past max_length.

    The input is context + continuation without its last token (that token is only a target),
    so the last len(cont) input positions predict the continuation.
    """
    if len(cont) > max_length:
        raise LoralabError(f"a continuation of {len(cont)} tokens exceeds the model's {max_length}-token window")
    return (ctx + cont)[-(max_length + 1):][:-1], cont


def _score_batch(model, rows: list[tuple[list[int], list[int]]], pad_id: int) -> list[float]:
    """Sum of continuation log-probs per row; rows right-padded to the batch's longest."""
    import torch

    device = next(model.parameters()).device
    width = max(len(ids) for ids, _ in rows)
    inputs = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
    attn = torch.zeros((len(rows), width), dtype=torch.long)            # (B, T)
    keep = torch.zeros((len(rows), width), dtype=torch.bool)            # (B, T): positions predicting the continuation
    for b, (ids, cont) in enumerate(rows):
        inputs[b, :len(ids)] = torch.tensor(ids)
        attn[b, :len(ids)] = 1
        keep[b, len(ids) - len(cont):len(ids)] = True
    logits = _continuation_logits(model, inputs.to(device), attn.to(device), keep.to(device))  # (sum len(cont), V)
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    targets = torch.tensor([t for _, cont in rows for t in cont], device=logprobs.device)
    token_lp = logprobs.gather(1, targets[:, None])[:, 0]  # (sum len(cont),) row-major like `keep`
    return [part.sum().item() for part in token_lp.split([len(cont) for _, cont in rows])]


def _continuation_logits(model, inputs: torch.Tensor, attn: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Logits at the `keep` positions only, row-major: (keep.sum(), vocab)."""
    import torch

    with torch.inference_mode():
        if _accepts_logits_to_keep(model):
            # transformers >= 5: a boolean (B, T) mask projects only those positions to the vocabulary
            logits = model(input_ids=inputs, attention_mask=attn, logits_to_keep=keep).logits
            if logits.ndim == 2 and logits.shape[0] == int(keep.sum()):
                return logits
        return model(input_ids=inputs, attention_mask=attn).logits[keep]


def _accepts_logits_to_keep(model) -> bool:
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


# ----------------------------------------------------------------------------- metrics


def score_items(items: list[McItem], lls: list[float]) -> list[dict]:
    """Per-item records from the flat list of choice log-likelihoods (items' choices in order)."""
    records, at = [], 0
    for item in items:
        k = len(item.continuations)
        ll = lls[at:at + k]
        at += k
        chars = [len(t) for t in item.choice_texts]
        normed = [v / max(c, 1) for v, c in zip(ll, chars, strict=True)]
        pred, pred_norm = _argmax(ll), _argmax(normed)
        records.append({"id": item.id, "gold": item.gold, "loglikelihoods": ll, "choice_chars": chars,
                        "pred": pred, "pred_norm": pred_norm,
                        "acc": float(pred == item.gold), "acc_norm": float(pred_norm == item.gold)})
    return records


def summarise(records: list[dict], metrics: tuple[str, ...] = ("acc", "acc_norm")) -> dict:
    """Mean of each metric and its standard error sd(ddof=1)/sqrt(n), as lm-evaluation-harness reports."""
    n = len(records)
    out: dict = {"n": n}
    for m in metrics:
        xs = [r[m] for r in records]
        mean = sum(xs) / n if n else float("nan")
        var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else float("nan")
        out[m], out[f"{m}_stderr"] = mean, math.sqrt(var / n) if n > 1 else float("nan")
    return out


def _argmax(xs: list[float]) -> int:
    return max(range(len(xs)), key=lambda i: xs[i])  # first index on ties, like numpy


# ----------------------------------------------------------------------------- stage


def score_mc(model, tok, task: str, items: list[McItem], batch_size: int = 16) -> McResult:
    """Score already-loaded items with an already-loaded model (no files written)."""
    pairs = [(c, x) for it in items for c, x in zip(it.contexts, it.continuations, strict=True)]
    records = score_items(items, loglikelihoods(model, tok, pairs, batch_size=batch_size))
    return McResult(task, summarise(records, get_task(task).metrics), records)


def evaluate_mc(model_cfg: ModelConfig, task: str, limit: int | None = None, batch_size: int = 16, *,
                source: str | None = None, split: str | None = None, out_dir: str | Path | None = None,
                model_and_tok=None) -> McResult:
    """Accuracy of a base model (+ its adapter, if model_cfg.adapter) on one multiple-choice task.

    With `out_dir`, writes samples.jsonl (one record per item), results.json and meta.json
    there; a finished directory with the same inputs is read back instead of recomputed.
    Pass `model_and_tok` (a (model, tokenizer) pair, or a function returning one, called only
    when something must be computed) to score several tasks with one loaded model.
    """
    from loralab.io import read_json, read_jsonl

    out = Path(out_dir) if out_dir else None
    inputs = _inputs(model_cfg, task, limit, source, split)
    if out and (out / "results.json").exists() and _same_inputs(out, inputs):
        return McResult(task, read_json(out / "results.json"), read_jsonl(out / "samples.jsonl"), out)
    started = time.time()
    items = load_items(task, source, limit, split)
    if model_and_tok is None:
        from loralab.models import load_model

        model_and_tok = load_model(model_cfg)
    model, tok = model_and_tok() if callable(model_and_tok) else model_and_tok
    model.eval()
    result = score_mc(model, tok, task, items, batch_size)
    if out:
        _write(result, out, inputs, started)
    return result


def _inputs(model_cfg: ModelConfig, task: str, limit, source, split) -> dict:
    """What the result depends on; batch size and device do not change which choice wins."""
    from loralab.io import sha256_file

    adapter = None
    if model_cfg.adapter:
        weights = Path(model_cfg.adapter) / "adapter_model.safetensors"
        adapter = sha256_file(weights) if weights.exists() else str(model_cfg.adapter)
    return {"model": model_cfg.name, "revision": model_cfg.revision, "dtype": model_cfg.dtype,
            "adapter": adapter, "task": task, "limit": limit, "source": source, "split": split}


def _same_inputs(out: Path, inputs: dict) -> bool:
    from loralab.io import read_json

    try:
        return read_json(out / "meta.json").get("inputs") == inputs
    except LoralabError:
        return False  # an unreadable meta.json means "not finished"


def _write(result: McResult, out: Path, inputs: dict, started: float) -> None:
    from loralab.io import write_json, write_jsonl, write_meta

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "samples.jsonl", result.records)
    write_json(out / "results.json", result.metrics)
    write_meta(out, stage="forgetting", inputs=inputs, started=started)  # written last: marks the run finished
    result.out_dir = out


# ----------------------------------------------------------------------------- base + every checkpoint


def evaluate_mc_run(target: str | Path, cfg: RunConfig, tasks: list[str], out_dir: str | Path,
                    systems: list | None = None) -> Path:
    """The forgetting suite for the base and every checkpoint of a run (or a model alone).

    `tasks` are names or ALIAS=TASK specs; cfg.eval.task_options[ALIAS] may set `source`
    (file, dataset dir or hub id), `split` and `limit` (default eval.limit). Writes SYSTEM/ALIAS/{samples.jsonl,results.json}
    per pair and summary.json with each system's metrics and `mean_primary`, the mean over tasks
    of each task's headline metric (acc_norm, or acc where the task has no acc_norm): the
    "source domain" score of the learn-versus-forget comparison, and lm_eval/SYSTEM/results_<date>.json
    in lm-evaluation-harness's layout. Finished pairs are not redone.
    """
    from loralab.eval.sweep import System, systems_of
    from loralab.io import write_json, write_meta

    started, out = time.time(), Path(out_dir)
    if systems is None:
        systems = systems_of(target) if Path(target).is_dir() else [System("base", 0, None)]
    models = _SharedBase(cfg.model)
    rows = []
    for system in systems:
        row = {"name": system.name, "step": system.step, "path": system.path, "tasks": {}}
        for spec in tasks:
            alias, _, task = spec.rpartition("=")
            alias = alias or task
            opts = cfg.eval.task_options.get(alias, {})
            res = evaluate_mc(models.config_of(system), task, opts.get("limit", cfg.eval.limit), cfg.eval.batch_size,
                              source=opts.get("source"), split=opts.get("split"), out_dir=out / system.name / alias,
                              model_and_tok=lambda s=system: models.load(s))
            row["tasks"][alias] = {**res.metrics, "primary": get_task(task).metrics[-1]}
        models.release(system)
        row["mean_primary"] = sum(m[m["primary"]] for m in row["tasks"].values()) / len(tasks)
        rows.append(row)
    summary = {"tasks": tasks, "limit": cfg.eval.limit, "systems": rows}
    write_json(out / "summary.json", summary)
    from loralab.eval.interop import write_lm_eval_results

    write_lm_eval_results(out, summary, cfg.model.name)  # the same numbers as lm-eval's results_<date>.json
    write_meta(out, stage="eval-mc", started=started, inputs={"target": str(target)})
    return out


def summary_rich_table(out_dir: str | Path):
    """summary.json as a rich table: a row per system, each task's headline metric in percent."""
    from rich.table import Table

    from loralab.io import read_json

    summary = read_json(Path(out_dir) / "summary.json")
    aliases = [spec.rpartition("=")[0] or spec for spec in summary["tasks"]]
    table = Table("system", *(f"{a} ({summary['systems'][0]['tasks'][a]['primary']})" for a in aliases), "mean")
    for row in summary["systems"]:
        cells = [f"{100 * row['tasks'][a][row['tasks'][a]['primary']]:.1f}" for a in aliases]
        table.add_row(row["name"], *cells, f"{100 * row['mean_primary']:.1f}")
    return table


class _SharedBase:
    """One base model for the base system and every LoRA checkpoint (an adapter is put on for its
    system and taken off after); a full fine-tuning checkpoint is a separate model, loaded alone."""

    def __init__(self, model_cfg: ModelConfig):
        self.model_cfg = model_cfg.model_copy(update={"adapter": None})
        self.base = self.tok = self.current = None

    def config_of(self, system) -> ModelConfig:
        if system.path is None:
            return self.model_cfg
        key = "name" if system.full else "adapter"
        return self.model_cfg.model_copy(update={key: system.path})

    def load(self, system):
        from loralab.models import load_adapter, load_model

        if self.current is not None:
            return self.current
        if system.full:
            self.current = load_model(self.config_of(system))
            return self.current
        if self.base is None:
            self.base, self.tok = load_model(self.model_cfg)
        model = load_adapter(self.base, system.path) if system.path else self.base
        self.current = (model.eval(), self.tok)
        return self.current

    def release(self, system) -> None:
        if self.current is not None and system.path and not system.full:
            self.base = self.current[0].unload()  # take the LoRA layers out again, weights untouched
        self.current = None


# ----------------------------------------------------------------------------- lm-evaluation-harness


def evaluate_mc_lmeval(model_cfg: ModelConfig, task: str, limit: int | None = None, batch_size: int = 16) -> dict:
    """The same task through lm-evaluation-harness (optional extra `lmeval`), for cross-checks.

    lm-eval reads the dataset from the hub itself; returns {acc, acc_stderr, acc_norm, ...}.
    """
    try:
        import lm_eval
    except ImportError:
        from loralab.errors import missing_extra

        raise missing_extra("lm-eval", "lmeval") from None
    from loralab.models import pick_device, resolve

    args = f"pretrained={resolve(model_cfg.name)},dtype={model_cfg.dtype if model_cfg.dtype != 'auto' else 'float32'}"
    if model_cfg.adapter:
        args += f",peft={model_cfg.adapter}"
    res = lm_eval.simple_evaluate(model="hf", model_args=args, tasks=[task], limit=limit,
                                  batch_size=batch_size, device=pick_device(model_cfg.device))
    raw = res["results"][task]
    # lm-eval keys metrics as "acc,none" / "acc_stderr,none" (metric, filter)
    out = {key.split(",")[0]: value for key, value in raw.items() if "," in key}
    out["n"] = res.get("n-samples", {}).get(task, {}).get("effective", limit)
    return out
