"""Chat answers of code tasks stop after one complete fenced block, and are never cut at the
opening fence by completion-style stop strings."""

from transformers import AutoTokenizer

from loralab.eval.tasks.humaneval import HumanEval
from loralab.inference.backends.transformers_backend import stops
from loralab.inference.generate import SamplingParams, chat_params, code_block_end, cut_after_code_block, cut_at_stop

ANSWER = "Here is the function:\n```python\ndef add(a, b):\n    return a + b\n```\nIt adds a and b."


def test_block_end_by_hand():
    assert ANSWER[:code_block_end(ANSWER)].endswith("    return a + b\n```")
    assert code_block_end("```python\ndef f():\n    pass") is None  # still open
    assert code_block_end("no fences at all") is None
    assert code_block_end("~~~\nx = 1\n~~~") == len("~~~\nx = 1\n~~~")
    assert cut_after_code_block(ANSWER) == ANSWER[:ANSWER.index("\nIt adds")]
    assert cut_after_code_block("plain") == "plain"


def test_chat_params_drop_completion_stops():
    params = SamplingParams(stop=HumanEval.stop, max_new_tokens=64)
    # the completion stop strings would leave nothing of the chat answer but its preamble
    assert "def add" not in cut_at_stop(ANSWER, params.stop)
    chat = chat_params(params)
    assert chat.stop == () and chat.stop_after_code_block and chat.max_new_tokens == 64
    assert chat.identity() != params.identity()  # cached separately


def test_stop_check_fires_only_after_the_closing_fence(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    params = SamplingParams(stop_after_code_block=True)
    closed = tok(ANSWER[:code_block_end(ANSWER)], add_special_tokens=False)["input_ids"]
    open_ = tok("Here is the function:\n```python\ndef add(a, b):", add_special_tokens=False)["input_ids"]
    assert stops(tok, closed, params) and not stops(tok, open_, params)
    assert not stops(tok, closed, SamplingParams())  # only when asked for
    assert stops(tok, tok("x = 1\n\ndef", add_special_tokens=False)["input_ids"], SamplingParams(stop=("\ndef",)))
