"""`loralab serve`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, Optional

import typer

from loralab.cli.common import Device, app, console, out
from loralab.errors import LoralabError
from loralab.inputs import (
    adapter_dir,
    in_dir_opt,
    model_name,
    port_opt,
    positive_float_opt,
    positive_int_opt,
)

# ----------------------------------------------------------------------------- serve


@app.command()
def serve(
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="Base model: alias, hub id, directory or .gguf."),
    adapter: list[str] = typer.Option([], "--adapter", "-a", help="NAME=DIR of a PEFT adapter (repeatable)."),
    router: Optional[Path] = in_dir_opt(None, "--router", help="Router directory from `loralab route fit`; enables model \"router\"."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 exposes it to the network)."),
    port: int = port_opt(8000, "--port", help="TCP port (0 picks a free one)."),
    backend: Literal["transformers", "vllm"] = typer.Option("transformers", "--backend", help="transformers or vllm."),
    device: Device = typer.Option("auto", "--device", help="auto picks cuda > mps > cpu."),
    batch_size: int = positive_int_opt(16, "--batch-size", help="Most completions decoded together."),
    queue_size: int = positive_int_opt(64, "--queue-size", help="Requests waiting beyond this get HTTP 503."),
    timeout: float = positive_float_opt(600.0, "--timeout", help="Seconds before a request gets HTTP 504."),
    max_tokens: int = positive_int_opt(256, "--max-tokens", help="Default max_tokens when a request sets none."),
    quiet: bool = typer.Option(False, "--quiet", help="No access log."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="LORALAB_API_KEY", show_envvar=True,
                                          help="Require 'Authorization: Bearer KEY' on every request but /health."),
    seed_in_batch_key: bool = typer.Option(False, "--seed-in-batch-key", hidden=True,
                                           help="Batch only requests of equal seeds (the old behaviour; benchmarks)."),
) -> None:
    """Serve a base model and its adapters over an OpenAI-compatible HTTP API.

    The request's "model" picks the adapter: the base's name or "base", an adapter NAME,
    or "router" (with --router). Endpoints: /v1/chat/completions, /v1/completions (both
    with "stream": true), /v1/models.

    Example: loralab serve --adapter k0=runs/k5/adapter-0 --adapter k1=runs/k5/adapter-1 --port 8000
    """
    from loralab.serve.http import serve as run_serve

    adapters = {}
    for pair in adapter:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise LoralabError(f"--adapter {pair!r}: expected NAME=DIR, e.g. --adapter k0=runs/k5/adapter-0")
        if name.strip() in adapters:
            raise LoralabError(f"--adapter {pair!r}: the name {name.strip()!r} is given twice")
        adapters[name.strip()] = str(adapter_dir(path.strip(), f"--adapter {name.strip()}"))
    model_name(model)
    handle = run_serve(model, adapters, router_dir=str(router) if router else None, host=host, port=port,
                       backend=backend, device=device, batch_size=batch_size, queue_size=queue_size,
                       request_timeout_s=timeout, default_max_tokens=max_tokens, api_key=api_key or None,
                       seed_in_batch_key=seed_in_batch_key, log=None if quiet else (lambda line: console.print(line, highlight=False)))
    out.print(f"serving {model} + {len(adapters)} adapter(s) at {handle.url}  (Ctrl-C stops)", highlight=False,
              soft_wrap=True)
    sys.stdout.flush()  # the URL line must reach a pipe (scripts wait for it) before the first request
    try:
        handle.wait()
    finally:
        handle.stop()
