"""What every command module shares: the app, its consoles and options, JSON output, and the
entry point that turns a user error into one `error:` line and exit status 2."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Literal

import typer
from rich.console import Console
from rich.markup import escape

from loralab.errors import LoralabError
from loralab.inputs import number

app = typer.Typer(
    help="Fine-tune code LLMs with LoRA/QLoRA/full FT, evaluate every checkpoint by running its code, compare runs.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)
out = Console()

Device = Literal["auto", "cpu", "cuda", "mps"]
SetOpt = typer.Option(None, "--set", help="Override a config key, e.g. --set train.learning_rate=1e-4 (repeatable).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON document (the summary) on stdout; everything else goes to stderr.")


def _version(value: bool) -> None:
    if value:
        from loralab import __version__

        out.print(f"loralab {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print loralab's version and exit.")) -> None:
    """Fine-tune code LLMs with LoRA/QLoRA/full FT, evaluate every checkpoint by running its code, compare runs."""


@contextlib.contextmanager
def json_stdout(as_json: bool):
    """With --json, stdout carries exactly one JSON document: whatever else the stage prints
    meanwhile (libraries, warnings) is sent to stderr."""
    if not as_json:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def print_json(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()




def parse_ks(text: str, what: str = "--k") -> list[int]:
    """'1,10,100' -> [1, 10, 100]; every value a positive integer, at least one."""
    ks = [number(k.strip(), f"{what} {text!r}", low=1) for k in text.split(",") if k.strip()]
    if not ks:
        raise LoralabError(f"{what}: expected comma-separated positive integers, got {text!r}")
    return ks



def main(argv: list[str] | None = None) -> None:
    """The `loralab` entry point: run a command; a user error is one `error:` line and exit status 2."""
    sys.exit(run_cli(argv))


def run_cli(argv: list[str] | None = None) -> int:
    """Run `loralab ARGV...` and return its exit status (0 ok, 2 bad input, 130 interrupted)."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    try:
        code = app(args=argv, prog_name="loralab", standalone_mode=False)
    except LoralabError as e:
        return _error(str(e))
    except NoArgsIsHelpError as e:  # `loralab score` alone: its help, as click prints it
        out.print(e.format_message(), highlight=False, markup=False)
        return 2
    except UsageError as e:  # unknown option, missing argument, a value typer could not parse
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        return _error(e.format_message() + hint)
    except typer.Abort:
        code = 130
    except OSError as e:  # a write the checks could not foresee (disk full, a path changed underneath)
        return _error(f"{e.filename}: {e.strerror}" if e.filename else str(e))
    if code == 130:
        console.print("interrupted; finished work is kept, re-run to resume")
    return code if isinstance(code, int) else 0


def _error(message: str) -> int:
    console.print("[bold red]error:[/bold red] " + escape(message), highlight=False, soft_wrap=True)
    return 2
