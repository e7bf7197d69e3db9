"""Where rows come from: a hub dataset, a local file, or a dataset bundled with loralab.

`load_source(cfg)` turns `data.source` into raw rows grouped by the source's own splits,
each row carrying a stable id and a location for error messages. Nothing here knows
about formats or templates; it only reads, and names the file and line it choked on.

    bundled:NAME                 loralab/assets/NAME.jsonl
    path/to/file.json            a JSON list of objects (or JSON lines saved as .json)
    path/to/file.jsonl|csv|parquet
    path/to/dir                  a dataset directory: `save_to_disk` output, or data files
                                 that `datasets.load_dataset(dir)` reads (train.jsonl, ...)
    org/name                     a hub dataset id, read with `datasets.load_dataset`

Row ids are "<file name>:<row index>" or, for datasets, "<split>:<row index>"; indices
start at 0, so "code_alpaca_2k.json:17" is element 17 of the list. The input hash is the
file's sha256, or for a dataset the sha256 of its rows as canonical JSON.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loralab.errors import LoralabError
from loralab.io import read_json, read_text, sha256_file

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SINGLE_SPLIT = "all"  # the one split of a plain file
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class RawRow:
    id: str  # stable across runs: "code_alpaca_2k.json:17", "train:17"
    where: str  # for error messages: "/path/file.jsonl:18" or "/path/file.json row 17"
    fields: dict[str, Any]


@dataclass
class Source:
    name: str  # what the user wrote in data.source
    splits: dict[str, list[RawRow]]  # source split name -> rows; {"all": rows} for a plain file
    input_hash: str

    @property
    def has_predefined_splits(self) -> bool:
        return list(self.splits) != [SINGLE_SPLIT]

    def rows(self) -> list[RawRow]:
        return [row for rows in self.splits.values() for row in rows]


def load_source(source: str, hub_split: str | None = None) -> Source:
    """Read `source` (see the module docstring) into raw rows; LoralabError on anything wrong."""
    if source.startswith("bundled:"):
        return _read_file(_bundled_path(source.removeprefix("bundled:")), source)
    path = Path(source).expanduser()
    if path.suffix.lower() in READERS or (path.exists() and not path.is_dir()):
        if hub_split is not None:
            raise LoralabError(f"data.hub_split: '{hub_split}' applies to hub datasets, but {path} is a file")
        return _read_file(path, source)
    if path.is_dir() or _HUB_ID.match(source):
        return _read_dataset(source, hub_split)
    raise LoralabError(f"data.source: {source} is neither an existing file or directory nor a hub id like 'org/name'")


def _bundled_path(name: str) -> Path:
    path = ASSETS / f"{name}.jsonl"
    if not path.exists():
        have = sorted(p.stem for p in ASSETS.glob("*.jsonl")) or ["none"]
        raise LoralabError(f"data.source: no bundled dataset '{name}' (bundled: {', '.join(have)})")
    return path


# ----------------------------------------------------------------------------- local files


def _read_file(path: Path, name: str) -> Source:
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise LoralabError(f"{path}: unsupported file type '{suffix}'; expected one of {', '.join(READERS)}")
    if not path.exists():
        raise LoralabError(f"{path}: no such file")
    if path.is_dir():
        raise LoralabError(f"{path}: is a directory, expected a {suffix} file")
    located = READERS[suffix](path)  # [(where, fields)]
    rows = [RawRow(f"{path.name}:{i}", where, fields) for i, (where, fields) in enumerate(located)]
    return Source(name, {SINGLE_SPLIT: rows}, sha256_file(path))


def _json_rows(path: Path) -> list[tuple[str, Any]]:
    """A JSON list of objects; a file of JSON lines that happens to end in .json works too."""
    text = read_text(path)
    if text.lstrip().startswith("{"):
        return _jsonl_rows(path)
    value = read_json(path)
    if not isinstance(value, list):
        raise LoralabError(f"{path}: expected a JSON list of objects (or one object per line), "
                           f"got {type(value).__name__}")
    return _objects([(f"{path} row {i}", item) for i, item in enumerate(value)])


def _jsonl_rows(path: Path) -> list[tuple[str, Any]]:
    located = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            located.append((f"{path}:{lineno}", json.loads(line)))
        except json.JSONDecodeError as e:
            raise LoralabError(f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
    return _objects(located)


def _objects(located: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    for where, item in located:
        if not isinstance(item, dict):
            raise LoralabError(f"{where}: expected a JSON object, got {type(item).__name__}")
    return located


def _csv_rows(path: Path) -> list[tuple[str, Any]]:
    """Every cell a string (no type guessing); the location is the line the record ends on."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        located = [(f"{path}:{reader.line_num}", row) for row in reader]
    except csv.Error as e:
        raise LoralabError(f"{path}:{reader.line_num}: malformed CSV ({e})") from None
    for where, row in located:
        if None in row:  # DictReader files surplus cells under the key None
            raise LoralabError(f"{where}: more cells than the {len(reader.fieldnames)} header columns")
    return located


def _parquet_rows(path: Path) -> list[tuple[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise LoralabError(f"{path}: not a readable Parquet file ({e})") from None
    return [(f"{path} row {i}", row) for i, row in enumerate(table.to_pylist())]


READERS: dict[str, Callable[[Path], list[tuple[str, Any]]]] = {
    ".json": _json_rows, ".jsonl": _jsonl_rows, ".csv": _csv_rows, ".parquet": _parquet_rows,
}


# ----------------------------------------------------------------------------- datasets (hub or directory)


def _read_dataset(source: str, hub_split: str | None) -> Source:
    """Every split (or `hub_split`) of a hub dataset id or a local dataset directory."""
    loaded = _load_dataset(source, hub_split)
    named = {hub_split: loaded} if hub_split is not None else dict(loaded.items())
    splits = {split: [RawRow(f"{split}:{i}", f"{source} split {split} row {i}", row)
                      for i, row in enumerate(ds.to_list())]
              for split, ds in named.items()}
    return Source(source, splits, _rows_hash(splits))


def _load_dataset(source: str, hub_split: str | None):
    """A Dataset (when hub_split is given) or a DatasetDict, the way `datasets` itself loads it."""
    import datasets

    path = Path(source).expanduser()
    try:
        if (path / "dataset_dict.json").exists() or (path / "state.json").exists():  # save_to_disk output
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.Dataset):
                loaded = datasets.DatasetDict(train=loaded)
            return loaded if hub_split is None else _pick_split(source, loaded, hub_split)
        return datasets.load_dataset(str(path) if path.is_dir() else source, split=hub_split)
    except LoralabError:
        raise
    except Exception as e:  # DatasetNotFoundError, ConnectionError, FileNotFoundError, ...
        if hub_split is not None and isinstance(e, ValueError) and "split" in str(e).lower():
            raise LoralabError(f"data.hub_split: {source} has no split '{hub_split}' ({_first_line(e)})") from None
        raise LoralabError(f"data.source: could not load dataset '{source}' ({_first_line(e)}); check the id "
                           "and your network, or point data.source at a local file") from None


def _pick_split(source: str, loaded, split: str):
    if split not in loaded:
        raise LoralabError(f"data.hub_split: {source} has no split '{split}' (it has {', '.join(loaded)})")
    return loaded[split]


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _rows_hash(splits: dict[str, list[RawRow]]) -> str:
    h = hashlib.sha256()
    for split, rows in splits.items():
        for row in rows:
            h.update(json.dumps([split, row.fields], sort_keys=True, default=str, ensure_ascii=False).encode())
            h.update(b"\n")
    return h.hexdigest()
