"""Prompt templates: the text a model reads before the response starts.

    alpaca  Stanford Alpaca's two prompts (Taori et al. 2023), with and without an input
    dolly   databricks-dolly-15k's "### Instruction: / ### Context: / ### Response:" layout
    plain   the instruction (a blank line, then the input, if any) and a newline
    chat    the model's own chat template (needs the model's tokenizer); train on the
            layout the model will be prompted with, as `loralab generate` does
    none    raw text (format `text`): an empty prompt

`auto` picks the model's chat template when the model has one (issue #12: an instruct model
is evaluated through its chat template, so training on Alpaca prompts taught it a layout it
never sees again). Otherwise, and with no model to ask, it picks by format: dolly -> dolly,
messages -> chat, anything else -> alpaca. Two formats never take the chat template:
prompt_completion -> plain (a raw continuation, like a base model's code prompt) and
text -> none. The response follows the prompt directly; no EOS is added here (the trainer
appends the tokenizer's EOS id after the response).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from loralab.data.formats import Example
from loralab.errors import LoralabError

if TYPE_CHECKING:
    from loralab.config import ModelConfig

ALPACA_INTRO = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
ALPACA_INTRO_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                      "context. Write a response that appropriately completes the request.")
AUTO = {"dolly": "dolly", "prompt_completion": "plain", "messages": "chat", "text": "none"}
NEVER_CHAT = ("prompt_completion", "text")  # raw continuations: `auto` keeps them out of the chat template


def resolve_template(template: str, fmt: str, model_cfg: ModelConfig | None = None) -> str:
    """data.template after `auto`: the model's chat template if it has one, else by format."""
    if fmt == "text":
        if template not in ("auto", "none"):
            raise LoralabError(f"data.template: '{template}' does not apply to format text "
                               "(raw text has no instruction); leave it at auto")
        return "none"
    if template != "auto":
        return template
    if fmt not in NEVER_CHAT and model_cfg is not None and _model_tokenizer(model_cfg, need_chat=False) is not None:
        return "chat"
    return AUTO.get(fmt, "alpaca")


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

    def assistant_spans(self, ex: Example, prompt: str) -> list[list[int]]:
        """[start, end) character spans of `prompt` (this row's rendered chat) holding its earlier
        assistant turns, each its content through the end-of-turn token ("Hello.<|im_end|>"),
        so the trainer learns every assistant turn, not only the last (issue #12)."""
        if self.template != "chat" or not ex.turns:
            return []
        return [self._assistant_span(ex, i, prompt) for i, t in enumerate(ex.turns) if t["role"] == "assistant"]

    def _assistant_span(self, ex: Example, i: int, prompt: str) -> list[int]:
        """Where turn i starts (after the chat up to it plus the generation prompt) and ends (end-of-turn)."""
        try:
            asked = self.tok.apply_chat_template(ex.turns[:i], tokenize=False, add_generation_prompt=True)
            answered = self.tok.apply_chat_template(ex.turns[:i + 1], tokenize=False)
        except Exception as e:  # a Jinja template's own raise_exception(): e.g. roles must alternate
            raise LoralabError(f"{ex.where}: the chat template of {self.model} refuses this conversation ({e})") from None
        end = len(asked) + _through_end_of_turn(answered[len(asked):], ex.turns[i]["content"], self.tok)
        if not answered.startswith(asked) or prompt[:end] != answered[:end]:
            raise LoralabError(f"{ex.where}: the chat template of {self.model} does not render assistant turn {i} "
                               "the same way in the whole conversation as on its own (it rewrites earlier turns), so "
                               "it cannot be trained on; set data.train_on: last_assistant")
        return [len(asked), end]

    def _chat(self, ex: Example) -> str:
        from loralab.models import chat_prompt

        if ex.turns is None:
            return chat_prompt(self.tok, user_text(ex))
        return self.tok.apply_chat_template(ex.turns, tokenize=False, add_generation_prompt=True)


def _through_end_of_turn(rendered: str, content: str, tok) -> int:
    """Length of an assistant turn's rendering up to and including the first special token after its
    content (ChatML's <|im_end|>, Llama 3's <|eot_id|>): what the model must learn to write, and to
    stop with. The newline or header after that token belongs to the next prompt. A template with
    no special end token: the content, without trailing whitespace."""
    body = content.strip()
    at = rendered.find(body) if body else 0
    at = at + len(body) if at >= 0 else 0
    special = set(tok.all_special_tokens) | {t.content for t in tok.added_tokens_decoder.values() if t.special}
    hits = [(rendered.find(m, at), -len(m), m) for m in special if m and rendered.find(m, at) >= 0]
    if not hits:
        return len(rendered.rstrip())
    pos, _, marker = min(hits)
    return pos + len(marker)


NAMED: dict[str, Callable[[Example], str]] = {"alpaca": alpaca, "dolly": dolly, "plain": plain, "none": none}


def _chat_tokenizer(model_cfg: ModelConfig | None):
    if model_cfg is None:
        raise LoralabError("data.template: chat needs a model whose chat template to use (set model.name or --model)")
    return _model_tokenizer(model_cfg, need_chat=True)


def _model_tokenizer(model_cfg: ModelConfig, need_chat: bool):
    """The model's tokenizer when it has a chat template (after model.chat_template), else None or an error."""
    tok = _tokenizer_with_choice(model_cfg.name, model_cfg.revision, model_cfg.trust_remote_code,
                                 model_cfg.chat_template)
    if tok is None and need_chat:
        raise LoralabError(f"data.template: model '{model_cfg.name}' has no chat template; use --template alpaca, "
                           "or give one in model.chat_template")
    return tok


@lru_cache(maxsize=4)  # `auto` asks, then the Renderer renders: load the tokenizer once
def _tokenizer_with_choice(name: str, revision: str | None, trust_remote_code: bool, choice: str):
    from loralab.models import apply_chat_template_choice, has_chat_template, load_tokenizer

    tok = load_tokenizer(name, revision=revision, trust_remote_code=trust_remote_code)
    apply_chat_template_choice(tok, choice)
    return tok if has_chat_template(tok) else None


def _single_user_turn(ex: Example, template: str) -> None:
    """A named template has one instruction slot; a longer conversation needs the chat template."""
    if [t["role"] for t in ex.turns] != ["user"]:
        roles = ", ".join(t["role"] for t in ex.turns) or "none"
        raise LoralabError(f"{ex.where}: template {template} fits one user turn before the answer, this row has "
                           f"turns ({roles}); use --template chat")
