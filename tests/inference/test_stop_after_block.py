"""Chat answers of code tasks stop after one complete fenced block, and are never cut at the
opening fence by completion-style stop strings."""

import torch
from transformers import AutoTokenizer

from loralab.eval.tasks.humaneval import HumanEval
from loralab.inference.backends.transformers_backend import StopAfterCodeBlock
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


def test_stopping_criterion_fires_only_after_the_closing_fence(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = tok("Write add.", add_special_tokens=False)["input_ids"]
    crit = StopAfterCodeBlock(tok, len(prompt))
    closed = tok(ANSWER[:code_block_end(ANSWER)], add_special_tokens=False)["input_ids"]
    open_ = tok("Here is the function:\n```python\ndef add(a, b):", add_special_tokens=False)["input_ids"]
    width = max(len(closed), len(open_))
    rows = [prompt + closed + [tok.eos_token_id] * (width - len(closed)), prompt + open_ + [tok.eos_token_id] * (width - len(open_))]
    hit = crit(torch.tensor(rows), None)
    assert hit.tolist() == [True, False]
