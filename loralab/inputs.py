"""Checks on what a user hands a command, done before any work starts.

Every command validates its paths and numbers here, so a bad input is one `LoralabError`
naming the option and the path or value, raised before a model loads or a file is written:

    input_file     exists, is a file, is not empty, reads as UTF-8 text (unless binary is allowed)
    input_dir      exists and is a directory
    output_dir     is a directory or can be created as one, and is writable (probed, nothing left)
    output_file    its directory could hold it, and it is not itself a directory

The `*_opt` factories wrap these as typer parsers, so a command declares `--out` as an
output directory and `--port` as a port, and typer checks them while parsing. Parse errors
*inside* files (a malformed JSONL line, an unknown config key) are reported by the readers
(`loralab.io`, `loralab.config`), which name the file and line.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from loralab.errors import LoralabError

SNIFF_BYTES = 1 << 16  # how much of a text file is read up front to tell text from binary
BINARY_SUFFIXES = (".parquet", ".arrow", ".gguf", ".safetensors", ".bin", ".npz", ".pt", ".gz")


def _where(path: str | Path, what: str) -> str:
    return f"{what} {path}" if what else str(path)


def input_file(path: str | Path, what: str = "", *, text: bool = True) -> Path:
    """A readable, non-empty file; with `text`, one whose start decodes as UTF-8 without NUL bytes."""
    path = Path(path).expanduser()
    where = _where(path, what)
    if not path.exists():
        raise LoralabError(f"{where}: no such file")
    if path.is_dir():
        raise LoralabError(f"{where}: is a directory; expected a file")
    if not path.is_file():
        raise LoralabError(f"{where}: not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
            more = bool(f.read(1))
    except OSError as e:
        raise LoralabError(f"{where}: cannot be read ({e.strerror})") from None
    if not head or (text and not more and not head.strip()):
        raise LoralabError(f"{where}: the file is empty")
    if text and path.suffix.lower() not in BINARY_SUFFIXES:
        _check_text(head, more, where)
    return path


def _check_text(head: bytes, more: bool, where: str) -> None:
    if b"\0" in head:
        raise LoralabError(f"{where}: is a binary file, not text; expected UTF-8 text (JSON, JSONL, YAML or CSV)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if more and e.start >= len(head) - 3 and e.reason == "unexpected end of data":
            return  # a multi-byte character cut by the sniff window, not bad bytes
        line = head[: e.start].count(b"\n") + 1
        raise LoralabError(f"{where}:{line}: not valid UTF-8 (byte {e.start}); re-encode the file as UTF-8") from None


def input_dir(path: str | Path, what: str = "") -> Path:
    """An existing directory."""
    path = Path(path).expanduser()
    where = _where(path, what)
    if not path.exists():
        raise LoralabError(f"{where}: no such directory")
    if not path.is_dir():
        raise LoralabError(f"{where}: is a file; expected a directory")
    return path


def output_dir(path: str | Path, what: str = "") -> Path:
    """A directory that exists or can be created, and that this process can write in.

    Nothing is created: the nearest existing ancestor is probed with a temporary directory
    that is removed at once, which catches read-only mounts, /proc and permissions alike.
    """
    path = Path(path).expanduser()
    where = _where(path, what)
    if path.exists() and not path.is_dir():
        raise LoralabError(f"{where}: is a file; expected a directory")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise LoralabError(f"{where}: {ancestor} is a file, so no directory can be made under it")
    _probe(ancestor, where)
    return path


def output_file(path: str | Path, what: str = "") -> Path:
    """A file path whose directory exists or can be created and is writable."""
    path = Path(path).expanduser()
    where = _where(path, what)
    if path.is_dir():
        raise LoralabError(f"{where}: is a directory; expected a file name")
    if path.exists() and not path.is_file():
        raise LoralabError(f"{where}: not a regular file")
    output_dir(path.parent, what=f"{what} {path}: its directory".strip())
    return path


def _probe(directory: Path, where: str) -> None:
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".loralab-probe-", dir=directory))
    except OSError as e:
        raise LoralabError(f"{where}: cannot write in {directory} ({e.strerror})") from None


# ----------------------------------------------------------------------------- numbers


def number(value, what: str, *, kind: type = int, low: float | None = None, low_open: bool = False,
           high: float | None = None) -> int | float:
    """`value` parsed as `kind` within [low, high] (low excluded with `low_open`); NaN and inf refused."""
    try:
        parsed = kind(value) if kind is float or isinstance(value, int) else int(str(value), 10)
    except (TypeError, ValueError):
        raise LoralabError(f"{what}: expected {'a number' if kind is float else 'an integer'}, got {value!r}") from None
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise LoralabError(f"{what}: expected a finite number, got {value!r}")
    if low is not None and (parsed <= low if low_open else parsed < low):
        raise LoralabError(f"{what}: must be {'>' if low_open else '>='} {low:g}, got {value}")
    if high is not None and parsed > high:
        raise LoralabError(f"{what}: must be <= {high:g}, got {value}")
    return parsed


# ----------------------------------------------------------------------------- typer option factories
# Each returns a typer.Option/Argument whose parser runs the check above with the flag's name.


def _parser(check: Callable, what: str) -> Callable:
    def parse(value):
        return None if value is None else check(value, what)

    return parse


def _opt(default, decls: tuple[str, ...], check: Callable, metavar: str, help: str, argument: bool = False):
    import typer

    what = "" if argument else decls[0]
    if argument:
        return typer.Argument(default, help=help, parser=_parser(check, what))  # usage shows its own name
    return typer.Option(default, *decls, help=help, parser=_parser(check, what), metavar=metavar)


def in_file_opt(default, *decls: str, help: str = "", binary_ok: bool = False):
    return _opt(default, decls, lambda v, w: input_file(v, w, text=not binary_ok), "FILE", help)


def in_file_arg(default=..., *, help: str = "", binary_ok: bool = False):
    return _opt(default, (), lambda v, w: input_file(v, w, text=not binary_ok), "FILE", help, argument=True)


def in_dir_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, input_dir, "DIR", help)


def in_dir_arg(default=..., *, help: str = ""):
    return _opt(default, (), input_dir, "DIR", help, argument=True)


def adapter_dir(path: str | Path, what: str = "") -> Path:
    """A PEFT adapter directory (holds adapter_config.json)."""
    path = input_dir(path, what)
    if not (path / "adapter_config.json").is_file():
        raise LoralabError(f"{_where(path, what)}: not a PEFT adapter directory (no adapter_config.json)")
    return path


def adapter_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, adapter_dir, "DIR", help)


def out_dir_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, output_dir, "DIR", help)


def out_file_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, output_file, "FILE", help)


def positive_int_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, lambda v, w: number(v, w, low=1), "N>=1", help)


def non_negative_int_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, lambda v, w: number(v, w, low=0), "N>=0", help)


def positive_float_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, lambda v, w: number(v, w, kind=float, low=0, low_open=True), "X>0", help)


def non_negative_float_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, lambda v, w: number(v, w, kind=float, low=0), "X>=0", help)


def fraction_opt(default, *decls: str, help: str = ""):
    """A number in (0, 1]: similarity thresholds."""
    return _opt(default, decls, lambda v, w: number(v, w, kind=float, low=0, low_open=True, high=1), "(0,1]", help)


def port_opt(default, *decls: str, help: str = ""):
    return _opt(default, decls, lambda v, w: number(v, w, low=0, high=65535), "0..65535", help)


# ----------------------------------------------------------------------------- things named by a string

DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".arrow", ".txt")


def data_source(source: str, what: str = "") -> str:
    """A dataset given as a local file or directory, bundled:NAME, or a hub id."""
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            input_file(path, what)
        return source
    if source.startswith("bundled:"):
        return source
    if path.suffix.lower() in DATA_SUFFIXES or source.startswith((".", "/", "~")):
        raise LoralabError(f"{_where(source, what)}: no such file or directory")
    return source  # a hub id: the loader reports a dataset the hub does not have


def model_name(name: str, what: str = "--model", revision: str | None = None) -> str:
    """An embedded alias, a transformers directory, a .gguf file, or a hub id that can be fetched.

    Checked before anything is written: a hub id costs one small config.json download (or a
    cache look-up offline), so a typo fails in seconds instead of after a study has started.
    """
    from loralab.models import EMBEDDED

    if name in EMBEDDED:
        return name
    path = Path(name).expanduser()
    if name.endswith(".gguf"):
        input_file(path, what, text=False)
        return name
    if path.exists():
        input_dir(path, what)
        if not (path / "config.json").is_file():
            raise LoralabError(f"{what} {name}: holds no config.json, so it is not a transformers model directory")
        return name
    if name.startswith((".", "/", "~")) or name.strip("/").count("/") > 1:
        raise LoralabError(f"{what} {name}: no such model directory, and not a hub id like 'org/model' "
                           f"or an embedded alias ({', '.join(EMBEDDED)})")
    _hub_model(name, what, revision)
    return name


def _hub_model(name: str, what: str, revision: str | None) -> None:
    try:
        from huggingface_hub import hf_hub_download

        hf_hub_download(name, "config.json", revision=revision)
    except Exception as e:  # offline miss, 404, bad id, network: all mean "cannot load this model"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LoralabError(f"{what} {name}: not an embedded alias ({', '.join(_aliases())}), a local directory, "
                           f"or a hub model that can be fetched ({first[:200]})") from None


def _aliases() -> list[str]:
    from loralab.models import EMBEDDED

    return list(EMBEDDED)


def endpoint_url(url: str, what: str) -> str:
    """An http(s) base URL with a host, e.g. http://127.0.0.1:8000/v1."""
    from urllib.parse import urlparse

    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoralabError(f"{what} {url!r}: expected an http(s) URL like http://127.0.0.1:8000/v1")
    try:
        parts.port  # noqa: B018  (raises on a port outside 0..65535)
    except ValueError:
        raise LoralabError(f"{what} {url!r}: the port must be a number in 0..65535") from None
    return url
