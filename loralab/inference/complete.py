"""`loralab generate`: one prompt streamed to the terminal, or a JSONL of prompts to a file.

Both go through the transformers backend (loralab/inference/backends/transformers_backend.py):
the same chat rendering, stop handling and seeded sampling as evaluation, so a prompt answered
here is answered the same way in `loralab eval`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.inference.generate import GenRequest, SamplingParams, stream_safe
from loralab.io import read_jsonl, write_jsonl


def request(prompt: str, system: str | None, raw: bool, key: str = "") -> GenRequest:
    """A raw prompt, or one user turn (after an optional system message) for the chat template."""
    if raw:
        return GenRequest(prompt=prompt, key=key)
    turns = ({"role": "system", "content": system},) if system else ()
    return GenRequest(messages=turns + ({"role": "user", "content": prompt},), key=key)


def stream_one(mcfg: ModelConfig, prompt: str, *, max_new_tokens: int, temperature: float,
               system: str | None, raw: bool, write: Callable[[str], object], seed: int = 0) -> str:
    """Generate for one prompt, calling `write` with each new piece of text as it decodes."""
    from loralab.inference.backends.transformers_backend import TransformersGenerator

    gen = TransformersGenerator.from_config(mcfg, batch_size=1)
    shown = ""

    def on_text(i: int, j: int, text: str) -> None:
        nonlocal shown
        safe = stream_safe(text, ())  # holds back half of a multi-byte character
        if len(safe) > len(shown) and safe.startswith(shown):
            write(safe[len(shown):])
            shown = safe

    params = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed).check()
    text = gen.generate([request(prompt, system, raw)], params, on_text=on_text)[0][0]
    if text.startswith(shown) and len(text) > len(shown):
        write(text[len(shown):])
    return text


def generate_file(mcfg: ModelConfig, prompts: Path, out: Path | None, *, max_new_tokens: int,
                  temperature: float, system: str | None, raw: bool, batch_size: int = 8, seed: int = 0) -> Path:
    """Answer every `prompt` of a JSONL file; rows keep their fields and gain `completion`.

    Runs on the batched backend (length-sorted, left-padded batches), several times faster
    than one by one.
    """
    from loralab.inference.backends.transformers_backend import TransformersGenerator

    rows = read_jsonl(prompts)
    for i, row in enumerate(rows, start=1):
        if not isinstance(row.get("prompt"), str):
            raise LoralabError(f"{prompts}: row {i} has no string field 'prompt'")
    if not rows:
        raise LoralabError(f"{prompts}: no prompts in the file")
    out = out or prompts.with_name(prompts.stem + ".completions.jsonl")
    gen = TransformersGenerator.from_config(mcfg, batch_size=batch_size)
    reqs = [request(r["prompt"], system, raw) for r in rows]
    outs = gen.generate(reqs, SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed))
    for row, texts in zip(rows, outs, strict=True):
        row["completion"] = texts[0]
    return write_jsonl(out, rows)
