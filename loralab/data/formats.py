"""Row layouts: turn a raw source row into one normalised `Example`, or say why it cannot.

    alpaca             instruction, input (optional), output       Stanford Alpaca, CodeAlpaca
    dolly              instruction, context (optional), response   databricks-dolly-15k
    prompt_completion  prompt, completion
    messages           messages: [{role, content}, ...]; the last assistant turn is the
                       response, the turns before it are the prompt (earlier assistant turns
                       are learned too unless data.train_on is last_assistant)
    text               text (continued pre-training: no prompt, loss on everything)
    pytasks            task_id, instruction, entry_point, solution, tests, topic (optional)
                       the bundled Python tasks; the reference solution is the response

`field_map` ({source_name: format_name}) renames fields before anything else, so a
dataset with `question`/`answer` columns is alpaca with {question: instruction,
answer: output}. Structural problems (missing field, wrong type) are errors naming the
row; content problems (an empty response) are drop reasons, counted and reported.

Whitespace (issue #12): what a user asks (instruction, input, context, prompt, user and
system turns) is stripped; what the model learns to write (output, response, completion,
assistant turns, raw text, pytasks solutions) keeps its indentation and inner whitespace,
because in code it is syntax: a HumanEval-style completion `"    return x + 1\n"` stripped
to `return x + 1` is a syntax error after its prompt. Only leading blank lines go, and
trailing whitespace becomes one newline if it held one (see `tidy_answer`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from loralab.data.sources import RawRow
from loralab.errors import LoralabError

REQUIRED: dict[str, tuple[str, ...]] = {
    "messages": ("messages",),
    "pytasks": ("task_id", "instruction", "entry_point", "solution", "tests"),
    "alpaca": ("instruction", "output"),
    "dolly": ("instruction", "response"),
    "prompt_completion": ("prompt", "completion"),
    "text": ("text",),
}  # in detection order: the first format whose fields a row has wins
INPUT_KEY = {"dolly": "context"}  # name of the secondary text in the output rows (default "input")


@dataclass
class Example:
    id: str
    where: str  # for error messages
    instruction: str  # alpaca/dolly/pytasks instruction, the prompt of prompt_completion, the last user turn
    input: str = ""  # alpaca input / dolly context
    response: str = ""
    turns: list[dict[str, str]] | None = None  # messages: the conversation before the response (may hold
    # earlier assistant turns, which the trainer also learns unless data.train_on is last_assistant)
    extra: dict[str, Any] = field(default_factory=dict)  # pytasks: task_id, entry_point, tests, topic


def rename_fields(fields: dict[str, Any], field_map: dict[str, str]) -> dict[str, Any]:
    """Apply {source_name: format_name}; a renamed field replaces one already called format_name."""
    out = {k: v for k, v in fields.items() if k not in field_map}
    for src, dst in field_map.items():
        if src in fields:
            out[dst] = fields[src]
    return out


def detect_format(row: RawRow, field_map: dict[str, str]) -> str:
    """The first format (in REQUIRED's order) whose required fields the row has."""
    fields = rename_fields(row.fields, field_map)
    for fmt, required in REQUIRED.items():
        if all(key in fields for key in required):
            return fmt
    raise LoralabError(
        f"{row.where}: cannot tell the format from the fields {sorted(fields)}; pass --format "
        f"({', '.join(REQUIRED)}) or rename fields, e.g. --field instruction=YOUR_FIELD")


def to_example(row: RawRow, fmt: str, field_map: dict[str, str]) -> Example:
    """Check the row's fields for `fmt` and normalise their whitespace (see the module docstring)."""
    fields = rename_fields(row.fields, field_map)
    for key in REQUIRED[fmt]:
        if key not in fields:
            raise LoralabError(f"{row.where}: {_missing(key, fmt, field_map)}")
    get = partial(_text_field, fields, row.where)  # get(key) -> stripped text (what a user asks)
    answer = partial(_text_field, fields, row.where, answer=True)  # answer(key) -> indentation kept
    if fmt == "messages":
        return _from_messages(row, fields["messages"])
    if fmt == "text":
        return Example(row.id, row.where, "", response=answer("text"))
    if fmt == "prompt_completion":
        return Example(row.id, row.where, get("prompt"), response=answer("completion"))
    if fmt == "dolly":
        return Example(row.id, row.where, get("instruction"), get("context"), answer("response"))
    if fmt == "pytasks":
        return _from_pytask(row, get, answer, fields)
    return Example(row.id, row.where, get("instruction"), get("input"), answer("output"))


def drop_reason(ex: Example, fmt: str) -> str | None:
    """Why a well-formed row is still useless for training, or None to keep it."""
    if not ex.response:
        return "empty text" if fmt == "text" else "empty response"
    if fmt != "text" and not ex.instruction:
        return "empty instruction"
    return None


def _missing(key: str, fmt: str, field_map: dict[str, str]) -> str:
    sources = [src for src, dst in field_map.items() if dst == key]
    if sources:
        return f"missing field '{sources[0]}' (mapped to '{key}')"
    return (f"missing field '{key}' (format {fmt} needs {', '.join(REQUIRED[fmt])}; "
            f"rename yours with --field {key}=YOUR_FIELD)")


def _text_field(fields: dict[str, Any], where: str, key: str, answer: bool = False) -> str:
    return _as_text(fields.get(key), where, key, answer)


def _as_text(value: Any, where: str, key: str, answer: bool = False) -> str:
    """Absent or null -> "", anything but a string -> error; else stripped (asks) or tidied (answers)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LoralabError(f"{where}: field '{key}' must be a string, got {type(value).__name__} ({value!r:.60})")
    return tidy_answer(value) if answer else value.strip()


_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")


def tidy_answer(text: str) -> str:
    """Text the model learns to write, with only the whitespace that is never meaningful removed.

    Leading blank lines go, the first line's indentation stays ("    return x + 1" is a
    function body); inner whitespace stays; trailing whitespace becomes a single newline
    when it held one, else nothing. A whitespace-only answer becomes "" (and is dropped).
    """
    body = _LEADING_BLANK_LINES.sub("", text).rstrip()
    return body + "\n" if body and "\n" in text[len(text.rstrip()):] else body


FENCED_REQUEST = "Answer with the complete Python code in a single ```python fenced block."


def fenced_request_text(instruction: str) -> str:
    """The closing line of every code prompt here (training and evaluation alike): one fenced
    Python block, nothing else. Idempotent, so a prompt prepared with it is not asked twice."""
    text = instruction.rstrip()
    return text if text.endswith(FENCED_REQUEST) else f"{text}\n\n{FENCED_REQUEST}"


def fenced_python(code: str) -> str:
    return f"```python\n{tidy_answer(code).rstrip()}\n```"


def _from_pytask(row: RawRow, get: Callable[[str], str], answer: Callable[[str], str],
                 fields: dict[str, Any]) -> Example:
    """A bundled task trains on exactly the prompt its evaluation asks (the instruction plus the
    fenced-block request) and answers it the way the answer is extracted (one fenced block)."""
    tests = fields["tests"]
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise LoralabError(f"{row.where}: field 'tests' must be a list of assert strings, got {tests!r:.60}")
    extra = {"task_id": get("task_id"), "entry_point": get("entry_point"), "tests": tests, "topic": get("topic"),
             "solution": answer("solution")}
    return Example(row.id, row.where, fenced_request_text(get("instruction")), response=fenced_python(answer("solution")),
                   extra=extra)


def _from_messages(row: RawRow, messages: Any) -> Example:
    """The last assistant turn is the response; its user turn just before is the instruction.

    Turns after the last assistant turn have no answer to learn from and are left out;
    a conversation without an assistant turn has an empty response (and is dropped).
    """
    turns = _turns(row.where, messages)
    last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=len(turns))
    before = turns[:last]
    users = [t["content"] for t in before if t["role"] == "user"]
    response = turns[last]["content"] if last < len(turns) else ""
    return Example(row.id, row.where, users[-1] if users else "", response=response, turns=before)


def _turns(where: str, messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list):
        raise LoralabError(f"{where}: field 'messages' must be a list of {{role, content}}, "
                           f"got {type(messages).__name__}")
    turns = []
    for i, turn in enumerate(messages):
        if not isinstance(turn, dict) or not isinstance(turn.get("role"), str):
            raise LoralabError(f"{where}: messages[{i}] must be an object with a string 'role', got {turn!r:.60}")
        content = _as_text(turn.get("content"), where, f"messages[{i}].content", answer=turn["role"] == "assistant")
        turns.append({"role": turn["role"], "content": content})
    return turns
