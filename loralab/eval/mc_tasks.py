"""Multiple-choice tasks for the forgetting suite: dataset rows -> (context, continuation) pairs.

Each task turns one dataset row into an `McItem`: one (context, continuation) pair per choice
and the gold index. The prompts follow lm-evaluation-harness's zero-shot task definitions
(so numbers are comparable with the Open LLM Leaderboard's, shots aside):

  hellaswag      "{activity}: {ctx_a} {Ctx_b}" cleaned, continuation " {ending}"
  arc_challenge  "Question: {question}\\nAnswer:",   continuation " {choice text}"   (and arc_easy)
  winogrande     partial scoring: context = sentence up to "_" with the option filled in,
                 continuation = " " + the rest of the sentence, the same for both options
  piqa           "Question: {goal}\\nAnswer:",       continuation " {sol}"
  boolq          "{passage}\\nQuestion: {question}?\\nAnswer:", continuation " no" / " yes"

Rows come from a local .jsonl/.json file, a local dataset directory, or a hub id (the
task's default `hub_id` when no source is given); row errors name the source and row number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loralab.errors import LoralabError


@dataclass(frozen=True)
class McItem:
    id: str
    contexts: list[str]       # one per choice (the same text except for WinoGrande)
    continuations: list[str]  # one per choice, with the leading " " delimiter
    choice_texts: list[str]   # lm-eval's choice strings; their lengths normalise acc_norm
    gold: int


@dataclass(frozen=True)
class McTask:
    name: str
    to_item: Callable[[dict, int], McItem]  # (row, 0-based row number) -> item
    hub_id: str
    hub_config: str | None
    split: str
    metrics: tuple[str, ...] = ("acc", "acc_norm")


class RowError(Exception):
    """A malformed row; `load_items` re-raises it as a LoralabError naming the source and row."""


def _get(row: dict, key: str):
    if key not in row:
        raise RowError(f"missing key '{key}'")
    return row[key]


def _item(row: dict, n: int, contexts: list[str], choices: list[str], gold: int, key: str = "id") -> McItem:
    if not 0 <= gold < len(choices):
        raise RowError(f"gold answer index {gold} is outside the {len(choices)} choices")
    return McItem(str(row.get(key, n)), contexts, [" " + c for c in choices], choices, gold)


# ----------------------------------------------------------------------------- HellaSwag


def clean_hellaswag(text: str) -> str:
    """The standard HellaSwag text cleaning (WikiHow '[title]' markers and bracketed tags)."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def hellaswag_item(row: dict, n: int) -> McItem:
    if "activity_label" in row and "ctx_a" in row:  # the hub layout (Rowan/hellaswag)
        ctx = f"{row['activity_label']}: {row['ctx_a']} {str(row.get('ctx_b', '')).capitalize()}"
    else:  # ../shared/data layout: {idx, ctx, label, endings}, ctx already joined
        ctx = _get(row, "ctx")
    label = _get(row, "label")
    if label in ("", None):
        raise RowError("'label' is empty (the hub's test split is unlabelled; use the validation split)")
    endings = [clean_hellaswag(e) for e in _get(row, "endings")]
    return _item(row, n, [clean_hellaswag(ctx)] * len(endings), endings, int(label),
                 key="idx" if "idx" in row else "ind")


# ----------------------------------------------------------------------------- ARC


def arc_item(row: dict, n: int) -> McItem:
    choices = _get(row, "choices")
    if isinstance(choices, dict):  # the hub stores {"text": [...], "label": [...]}
        choices = [{"label": lab, "text": t} for lab, t in zip(choices["label"], choices["text"], strict=True)]
    labels = [c["label"] for c in choices]
    key = _get(row, "answerKey")
    if key not in labels:
        raise RowError(f"answerKey {key!r} is not among the choice labels {labels}")
    texts = [c["text"] for c in choices]
    prompt = f"Question: {_get(row, 'question')}\nAnswer:"
    return _item(row, n, [prompt] * len(texts), texts, labels.index(key))


# ----------------------------------------------------------------------------- WinoGrande


def winogrande_item(row: dict, n: int) -> McItem:
    """Partial scoring (Trinh & Le 2018): score the shared suffix after each filled-in option."""
    sentence = _get(row, "sentence")
    if sentence.count("_") != 1:
        raise RowError(f"'sentence' must hold exactly one '_' blank, found {sentence.count('_')}")
    blank = sentence.index("_")
    contexts = [sentence[:blank] + _get(row, "option1"), sentence[:blank] + _get(row, "option2")]
    suffix = " " + sentence[blank + 1:].strip()
    answer = str(_get(row, "answer"))
    if answer not in ("1", "2"):
        raise RowError(f"'answer' must be 1 or 2, got {answer!r}")
    # lm-eval normalises by the choice strings, here the contexts; WinoGrande reports acc only
    return McItem(str(row.get("id", n)), contexts, [suffix, suffix], contexts, int(answer) - 1)


# ----------------------------------------------------------------------------- PIQA, BoolQ


def piqa_item(row: dict, n: int) -> McItem:
    sols = [_get(row, "sol1"), _get(row, "sol2")]
    prompt = f"Question: {_get(row, 'goal')}\nAnswer:"
    return _item(row, n, [prompt] * 2, sols, int(_get(row, "label")))


def boolq_item(row: dict, n: int) -> McItem:
    prompt = f"{_get(row, 'passage')}\nQuestion: {_get(row, 'question')}?\nAnswer:"
    answer = row["label"] if "label" in row else _get(row, "answer")  # super_glue: label 0/1; google/boolq: bool
    return _item(row, n, [prompt] * 2, ["no", "yes"], int(answer))


TASKS: dict[str, McTask] = {t.name: t for t in [
    McTask("hellaswag", hellaswag_item, "Rowan/hellaswag", None, "validation"),
    McTask("arc_challenge", arc_item, "allenai/ai2_arc", "ARC-Challenge", "test"),
    McTask("arc_easy", arc_item, "allenai/ai2_arc", "ARC-Easy", "test"),
    McTask("winogrande", winogrande_item, "allenai/winogrande", "winogrande_xl", "validation", ("acc",)),
    McTask("piqa", piqa_item, "ybisk/piqa", None, "validation"),
    McTask("boolq", boolq_item, "google/boolq", None, "validation", ("acc",)),
]}


def multiple_choice_specs(specs: list[str]) -> list[str]:
    """The eval.tasks entries ('arc_challenge' or 'ALIAS=TASK') that are multiple-choice tasks."""
    return [t for t in specs if t.split("=")[-1].strip() in TASKS]


def get_task(name: str) -> McTask:
    if name not in TASKS:
        raise LoralabError(f"unknown multiple-choice task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


# ----------------------------------------------------------------------------- loading


def load_items(task: str, source: str | None = None, limit: int | None = None,
               split: str | None = None) -> list[McItem]:
    """The first `limit` items of `task` from `source` (default: the task's hub id)."""
    spec = get_task(task)
    where = source or spec.hub_id
    rows = load_rows(spec, source, split or spec.split, limit)
    items = []
    for n, row in enumerate(rows):
        try:
            items.append(spec.to_item(row, n))
        except (RowError, TypeError, ValueError, KeyError) as e:
            raise LoralabError(f"{where}: row {n + 1}: not a {task} item ({e})") from None
    return items


def load_rows(spec: McTask, source: str | None, split: str, limit: int | None) -> list[dict]:
    path = Path(source).expanduser() if source else None
    if path is not None and path.is_file():
        rows = _read_file(path)
    elif path is not None and path.is_dir():
        rows = _read_dataset_dir(path, split)
    elif source and source.startswith((".", "/", "~")):
        raise LoralabError(f"--source {source}: no such file or directory")
    else:
        rows = _read_hub(source or spec.hub_id, spec.hub_config if not source else None, split)
    return rows[:limit] if limit else rows


def _read_file(path: Path) -> list[dict]:
    from loralab.io import read_json, read_jsonl

    if path.suffix == ".jsonl":
        return read_jsonl(path)
    if path.suffix == ".json":
        data = read_json(path)
        data = data.get("data", data) if isinstance(data, dict) else data
        if isinstance(data, list) and all(isinstance(r, dict) for r in data):
            return data
        raise LoralabError(f"{path}: expected a JSON list of objects (or {{\"data\": [...]}})")
    raise LoralabError(f"{path}: unsupported file type {path.suffix!r}; use .jsonl or .json (or a dataset directory)")


def _read_dataset_dir(path: Path, split: str) -> list[dict]:
    """A `save_to_disk` directory, or a directory of data files `load_dataset` can read."""
    import datasets

    if (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists():
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise LoralabError(f"{path}: no split {split!r} (has {', '.join(ds)}); pass --split")
            ds = ds[split]
        return ds.to_list()
    return _read_hub(str(path), None, split)


def _read_hub(name: str, config: str | None, split: str) -> list[dict]:
    import datasets

    try:
        return datasets.load_dataset(name, config, split=split).to_list()
    except (FileNotFoundError, ValueError, ConnectionError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise LoralabError(f"dataset {name!r} (config {config}, split {split}): could not load ({msg}); "
                           "check the id and your network, or pass a local file with --source") from None
