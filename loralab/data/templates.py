"""Prompt templates: the text a model reads before the response starts.

    alpaca  Stanford Alpaca's two prompts (Taori et al. 2023), with and without an input
    dolly   databricks-dolly-15k's "### Instruction: / ### Context: / ### Response:" layout
    plain   the instruction (a blank line, then the input, if any) and a newline
    chat    the model's own chat template (needs the model's tokenizer); train on the
            layout the model will be prompted with, as `loralab generate` does
    none    raw text (format `text`): an empty prompt

`auto` picks by format: dolly -> dolly, prompt_completion -> plain, messages -> chat,
text -> none, anything else -> alpaca. The response follows the prompt directly; no EOS
is added here (the trainer appends the tokenizer's EOS id after the response).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from loralab.data.formats import Example
from loralab.errors import LoralabError

if TYPE_CHECKING:
    from loralab.config import ModelConfig

ALPACA_INTRO = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
ALPACA_INTRO_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                      "context. Write a response that appropriately completes the request.")
AUTO = {"dolly": "dolly", "prompt_completion": "plain", "messages": "chat", "text": "none"}


def resolve_template(template: str, fmt: str) -> str:
    """data.template after `auto`; raw text takes no template."""
    if fmt == "text":
        if template not in ("auto", "none"):
            raise LoralabError(f"data.template: '{template}' does not apply to format text "
                               "(raw text has no instruction); leave it at auto")
        return "none"
    return AUTO.get(fmt, "alpaca") if template == "auto" else template


def alpaca(ex: Example) -> str:
    if ex.input:
        return f"{ALPACA_INTRO_INPUT}\n\n### Instruction:\n{ex.instruction}\n\n### Input:\n{ex.input}\n\n### Response:\n"
    return f"{ALPACA_INTRO}\n\n### Instruction:\n{ex.instruction}\n\n### Response:\n"


def dolly(ex: Example) -> str:
    context = f"### Context:\n{ex.input}\n\n" if ex.input else ""
    return f"{ALPACA_INTRO}\n\n### Instruction:\n{ex.instruction}\n\n{context}### Response:\n"


def plain(ex: Example) -> str:
    return f"{user_text(ex)}\n"


def none(ex: Example) -> str:
    return ""


def user_text(ex: Example) -> str:
    """What a user would type: the instruction, then the input after a blank line."""
    return f"{ex.instruction}\n\n{ex.input}" if ex.input else ex.instruction


class Renderer:
    """Example -> prompt text, for one template (the chat one holds the model's tokenizer)."""

    def __init__(self, template: str, model_cfg: ModelConfig | None = None):
        self.template, self.tok, self.model = template, None, None
        if template == "chat":
            self.tok, self.model = _chat_tokenizer(model_cfg), model_cfg.name
        self._render: Callable[[Example], str] = self._chat if template == "chat" else NAMED[template]

    def __call__(self, ex: Example) -> str:
        if ex.turns is not None and self.template != "chat":
            _single_user_turn(ex, self.template)
        return self._render(ex)

    def fingerprint(self) -> dict[str, str | None]:
        """What besides the data and config decides the prompts: the chat template's text."""
        text = self.tok.chat_template if self.tok is not None else None
        return {"model": self.model, "chat_template_sha256": hashlib.sha256(text.encode()).hexdigest() if text else None}

    def _chat(self, ex: Example) -> str:
        from loralab.models import chat_prompt

        if ex.turns is None:
            return chat_prompt(self.tok, user_text(ex))
        return self.tok.apply_chat_template(ex.turns, tokenize=False, add_generation_prompt=True)


NAMED: dict[str, Callable[[Example], str]] = {"alpaca": alpaca, "dolly": dolly, "plain": plain, "none": none}


def _chat_tokenizer(model_cfg: ModelConfig | None):
    from loralab.models import apply_chat_template_choice, has_chat_template, load_tokenizer

    if model_cfg is None:
        raise LoralabError("data.template: chat needs a model whose chat template to use (set model.name or --model)")
    tok = load_tokenizer(model_cfg.name, revision=model_cfg.revision, trust_remote_code=model_cfg.trust_remote_code)
    apply_chat_template_choice(tok, model_cfg.chat_template)
    if not has_chat_template(tok):
        raise LoralabError(f"data.template: model '{model_cfg.name}' has no chat template; use --template alpaca, "
                           "or give one in model.chat_template")
    return tok


def _single_user_turn(ex: Example, template: str) -> None:
    """A named template has one instruction slot; a longer conversation needs the chat template."""
    if [t["role"] for t in ex.turns] != ["user"]:
        roles = ", ".join(t["role"] for t in ex.turns) or "none"
        raise LoralabError(f"{ex.where}: template {template} fits one user turn before the answer, this row has "
                           f"turns ({roles}); use --template chat")
