"""Prompt templates: the exact Alpaca/Dolly text, auto choice, and the model's chat template."""

import pytest

from loralab.config import ModelConfig
from loralab.data.formats import Example
from loralab.data.templates import Renderer, resolve_template
from loralab.errors import LoralabError

SORT = Example("x:0", "x row 0", "Sort the list.", "[3, 1, 2]", "sorted(xs)")
NO_INPUT = Example("x:1", "x row 1", "Say hi.", "", "hi")
CHAT = Example("c:0", "c row 0", "Square 3?", response="9",
               turns=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Square 3?"}])


def test_alpaca_matches_stanford_alpaca():
    assert Renderer("alpaca")(SORT) == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nSort the list.\n\n### Input:\n[3, 1, 2]\n\n### Response:\n")
    assert Renderer("alpaca")(NO_INPUT) == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."
        "\n\n### Instruction:\nSay hi.\n\n### Response:\n")


def test_dolly_and_plain():
    assert Renderer("dolly")(SORT).endswith("### Instruction:\nSort the list.\n\n### Context:\n[3, 1, 2]\n\n### Response:\n")
    assert "### Context" not in Renderer("dolly")(NO_INPUT)
    assert Renderer("plain")(SORT) == "Sort the list.\n\n[3, 1, 2]\n"
    assert Renderer("none")(SORT) == ""


@pytest.mark.parametrize("fmt, template", [("alpaca", "alpaca"), ("pytasks", "alpaca"), ("dolly", "dolly"),
                                           ("prompt_completion", "plain"), ("messages", "chat"), ("text", "none")])
def test_auto_template_follows_the_format(fmt, template):
    assert resolve_template("auto", fmt) == template
    assert resolve_template("dolly", "alpaca") == "dolly"


@pytest.mark.parametrize("fmt, template", [("alpaca", "chat"), ("pytasks", "chat"), ("dolly", "chat"),
                                           ("messages", "chat"), ("prompt_completion", "plain"), ("text", "none")])
def test_auto_takes_the_chat_template_of_a_model_that_has_one(tiny_model_dir, fmt, template):
    """Issue #12: an instruct model is evaluated through its chat template, so auto trains on it too."""
    assert resolve_template("auto", fmt, ModelConfig(name=str(tiny_model_dir))) == template
    assert resolve_template("alpaca", fmt if fmt != "text" else "alpaca", ModelConfig(name=str(tiny_model_dir))) \
        == "alpaca"  # a template asked for by name is kept


def test_auto_without_a_chat_template_follows_the_format(tiny_model_dir):
    no_chat = ModelConfig(name=str(tiny_model_dir), chat_template="none")
    assert [resolve_template("auto", f, no_chat) for f in ("alpaca", "dolly", "prompt_completion")] == \
        ["alpaca", "dolly", "plain"]


def test_text_takes_no_template():
    with pytest.raises(LoralabError, match="'alpaca' does not apply to format text"):
        resolve_template("alpaca", "text")


def test_named_template_refuses_a_conversation():
    with pytest.raises(LoralabError, match=r"c row 0: template alpaca fits one user turn .*system, user, assistant, user"):
        Renderer("alpaca")(CHAT)
    single = Example("c:1", "c row 1", "Hi", response="Hello", turns=[{"role": "user", "content": "Hi"}])
    assert Renderer("alpaca")(single).endswith("### Instruction:\nHi\n\n### Response:\n")


def test_chat_needs_a_model():
    with pytest.raises(LoralabError, match="chat needs a model"):
        Renderer("chat")


def test_chat_template_of_the_model(tiny_model_dir):
    render = Renderer("chat", ModelConfig(name=str(tiny_model_dir)))
    prompt = render(SORT)
    assert "<|im_start|>user\nSort the list.\n\n[3, 1, 2]<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")  # the response follows; the trainer appends EOS
    conversation = render(CHAT)
    assert conversation.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert "<|im_start|>assistant\nHello.<|im_end|>" in conversation and conversation.endswith("assistant\n")
    assert render.fingerprint()["chat_template_sha256"] is not None


def test_chat_template_none_is_an_error(tiny_model_dir):
    with pytest.raises(LoralabError, match="has no chat template"):
        Renderer("chat", ModelConfig(name=str(tiny_model_dir), chat_template="none"))
