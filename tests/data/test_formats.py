"""Row formats: detection, field map, normalisation, structural errors, drop reasons."""

import pytest

from loralab.data.formats import detect_format, drop_reason, rename_fields, tidy_answer, to_example
from loralab.data.sources import RawRow
from loralab.errors import LoralabError

PYTASK = {"task_id": "pytasks/3", "topic": "strings", "instruction": "Reverse s.", "entry_point": "rev",
          "solution": "def rev(s):\n    return s[::-1]\n", "tests": ["assert rev('ab') == 'ba'"]}
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi "},
        {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Square 3?"},
        {"role": "assistant", "content": " 9 "}, {"role": "user", "content": "thanks"}]


def row(fields, where="f.jsonl:7"):
    return RawRow("f.jsonl:6", where, fields)


@pytest.mark.parametrize("fields, fmt", [
    ({"instruction": "a", "input": "b", "output": "c"}, "alpaca"),
    ({"instruction": "a", "output": "c"}, "alpaca"),
    ({"instruction": "a", "context": "b", "response": "c", "category": "qa"}, "dolly"),
    ({"instruction": "a", "input": "", "output": "c", "response": "d"}, "alpaca"),  # new_codealpaca's layout
    ({"prompt": "a", "completion": "c"}, "prompt_completion"),
    ({"messages": CHAT}, "messages"),
    ({"text": "raw"}, "text"),
    (PYTASK, "pytasks"),
])
def test_detect_format(fields, fmt):
    assert detect_format(row(fields), {}) == fmt


def test_detect_format_failure_names_fields_and_the_fix():
    with pytest.raises(LoralabError, match=r"f.jsonl:7: cannot tell the format from the fields \['answer', 'question'\]"):
        detect_format(row({"question": "q", "answer": "a"}), {})


def test_field_map_renames_source_columns():
    fields = {"question": "q", "answer": "a", "output": "old"}
    assert rename_fields(fields, {"question": "instruction", "answer": "output"}) == {"instruction": "q", "output": "a"}
    ex = to_example(row(fields), detect_format(row(fields), {"question": "instruction"}), {"question": "instruction"})
    assert (ex.instruction, ex.response) == ("q", "old")


def test_alpaca_and_dolly_strip_the_ask_and_tidy_the_answer():
    ex = to_example(row({"instruction": " Sort. \n", "input": "\t[3, 1]", "output": "sorted(x)\n\n"}), "alpaca", {})
    assert (ex.id, ex.instruction, ex.input, ex.response) == ("f.jsonl:6", "Sort.", "[3, 1]", "sorted(x)\n")
    ex = to_example(row({"instruction": "Q", "context": None, "response": "\n\nA.  "}), "dolly", {})
    assert (ex.instruction, ex.input, ex.response) == ("Q", "", "A.")
    assert drop_reason(to_example(row({"instruction": "Q", "response": " \n\t\n "}), "dolly", {}), "dolly") \
        == "empty response"


def test_alpaca_code_output_keeps_its_indentation():
    code = "\n    for x in xs:\n        if x:\n\n            yield x\n\n\n"
    ex = to_example(row({"instruction": "Filter.", "output": code}), "alpaca", {})
    assert ex.response == "    for x in xs:\n        if x:\n\n            yield x\n"


def test_humaneval_shaped_completion_stays_valid_python():
    """Issue #12: the completion of a prompt_completion row is a function body; stripping it broke the code."""
    prompt = 'def inc(x):\n    """Add one."""\n'
    ex = to_example(row({"prompt": prompt, "completion": "    return x + 1\n"}), "prompt_completion", {})
    assert ex.response == "    return x + 1\n"
    from loralab.data.templates import plain

    namespace: dict = {}
    exec(compile(plain(ex) + ex.response, "<prepared>", "exec"), namespace)  # the prepared text is the program
    assert namespace["inc"](1) == 2


def test_tidy_answer_removes_only_meaningless_whitespace():
    assert tidy_answer("  x = 1\n  y = 2  \n\n\n") == "  x = 1\n  y = 2\n"
    assert tidy_answer("\r\n\t\n    pass") == "    pass"
    assert tidy_answer("a\tb   c") == "a\tb   c"
    assert tidy_answer("   ") == tidy_answer("\n\n") == ""


def test_text_keeps_code_indentation():
    ex = to_example(row({"text": "\n  some code \n"}), "text", {})
    assert (ex.instruction, ex.response, drop_reason(ex, "text")) == ("", "  some code\n", None)


def test_pytasks_keeps_the_task_fields():
    ex = to_example(row(PYTASK), "pytasks", {})
    # trained on the prompt the evaluation asks, answered in the block the evaluation extracts
    assert ex.instruction == "Reverse s.\n\nAnswer with the complete Python code in a single ```python fenced block."
    assert ex.response == "```python\n" + PYTASK["solution"].strip() + "\n```"
    assert ex.extra == {"task_id": "pytasks/3", "entry_point": "rev", "tests": PYTASK["tests"], "topic": "strings",
                        "solution": PYTASK["solution"]}
    with pytest.raises(LoralabError, match="field 'tests' must be a list of assert strings"):
        to_example(row({**PYTASK, "tests": "assert rev('a') == 'a'"}), "pytasks", {})


def test_messages_last_assistant_turn_is_the_response():
    ex = to_example(row({"messages": CHAT}), "messages", {})
    assert ex.response == " 9" and ex.instruction == "Square 3?"  # an answer keeps its indentation
    assert [t["role"] for t in ex.turns] == ["system", "user", "assistant", "user"]  # trailing user turn left out
    assert ex.turns[1]["content"] == "Hi"
    lonely = to_example(row({"messages": [{"role": "user", "content": "hi"}]}), "messages", {})
    assert drop_reason(lonely, "messages") == "empty response"


@pytest.mark.parametrize("fields, fmt, field_map, message", [
    ({"instruction": "a", "input": "b"}, "alpaca", {}, r"f.jsonl:7: missing field 'output' \(format alpaca needs instruction, output"),
    ({"q": "a", "output": "c"}, "alpaca", {"question": "instruction"}, r"missing field 'question' \(mapped to 'instruction'\)"),
    ({"instruction": "a", "output": 42}, "alpaca", {}, r"f.jsonl:7: field 'output' must be a string, got int"),
    ({"instruction": ["a"], "output": "c"}, "alpaca", {}, r"field 'instruction' must be a string, got list"),
    ({"messages": "hi"}, "messages", {}, r"field 'messages' must be a list"),
    ({"messages": [{"content": "hi"}]}, "messages", {}, r"messages\[0\] must be an object with a string 'role'"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages", {}, r"field 'messages\[0\].content' must be a string"),
])
def test_structural_errors_name_row_and_field(fields, fmt, field_map, message):
    with pytest.raises(LoralabError, match=message):
        to_example(row(fields), fmt, field_map)


@pytest.mark.parametrize("fields, reason", [
    ({"instruction": "a", "output": "  \n"}, "empty response"),
    ({"instruction": "a", "output": None}, "empty response"),
    ({"instruction": " ", "output": "b"}, "empty instruction"),
    ({"instruction": "a", "output": "b"}, None),
])
def test_drop_reasons(fields, reason):
    assert drop_reason(to_example(row(fields), "alpaca", {}), "alpaca") == reason
