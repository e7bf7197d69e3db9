"""`loralab generate`: one prompt streamed to the terminal, or a JSONL of prompts to a file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from loralab.config import ModelConfig
from loralab.errors import LoralabError
from loralab.io import read_jsonl, write_jsonl
from loralab.models import chat_prompt, load_model


def _sampling(temperature: float, max_new_tokens: int, tok) -> dict:
    kw = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id}
    if temperature > 0:
        kw.update(do_sample=True, temperature=temperature, top_p=0.95)
    else:
        kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kw


def render(tok, prompt: str, system: str | None, raw: bool) -> str:
    return prompt if raw else chat_prompt(tok, prompt, system)


def stream_one(mcfg: ModelConfig, prompt: str, *, max_new_tokens: int, temperature: float,
               system: str | None, raw: bool, write: Callable[[str], object]) -> str:
    """Generate for one prompt, calling `write` with each decoded piece as it arrives."""
    import torch
    from transformers import TextIteratorStreamer

    model, tok = load_model(mcfg)
    model.eval()
    text = render(tok, prompt, system, raw)
    enc = tok(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    kwargs = dict(**enc, streamer=streamer, **_sampling(temperature, max_new_tokens, tok))

    def run():
        with torch.inference_mode():
            model.generate(**kwargs)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    pieces = []
    for piece in streamer:
        pieces.append(piece)
        write(piece)
    worker.join()
    return "".join(pieces)


def generate_file(mcfg: ModelConfig, prompts: Path, out: Path | None, *, max_new_tokens: int,
                  temperature: float, system: str | None, raw: bool, batch_size: int = 8) -> Path:
    """Answer every `prompt` of a JSONL file; rows keep their fields and gain `completion`.

    Runs on the batched backend (length-sorted, left-padded batches; see
    loralab/eval/backends/transformers_backend.py), several times faster than one by one.
    """
    from loralab.inference.backends.transformers_backend import TransformersGenerator
    from loralab.inference.generate import GenRequest, SamplingParams

    rows = read_jsonl(prompts)
    for i, row in enumerate(rows, start=1):
        if not isinstance(row.get("prompt"), str):
            raise LoralabError(f"{prompts}: row {i} has no string field 'prompt'")
    if not rows:
        raise LoralabError(f"{prompts}: no prompts in the file")
    out = out or prompts.with_name(prompts.stem + ".completions.jsonl")
    gen = TransformersGenerator.from_config(mcfg, batch_size=batch_size)
    turns = ({"role": "system", "content": system},) if system else ()
    reqs = [GenRequest(prompt=r["prompt"]) if raw else GenRequest(messages=turns + ({"role": "user", "content": r["prompt"]},))
            for r in rows]
    outs = gen.generate(reqs, SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens))
    for row, texts in zip(rows, outs, strict=True):
        row["completion"] = texts[0]
    return write_jsonl(out, rows)
