"""Fixtures for trainer tests: a small prepared dataset and run configs on the tiny random Llama."""

from __future__ import annotations

from pathlib import Path

import pytest
from trainfixtures import task_rows, write_prepared


@pytest.fixture
def prepared(tmp_path) -> Path:
    return write_prepared(tmp_path / "data", task_rows(32), task_rows(8, offset=100))


@pytest.fixture
def make_cfg(tiny_model_dir, prepared, tmp_path):
    """make_cfg(**{'train.max_steps': 4}) -> a RunConfig training the tiny model on `prepared`."""
    from loralab.config import load_config

    def make(run: str = "run", **sets):
        base = {"model.name": str(tiny_model_dir), "data.prepared": str(prepared), "train.out_dir": str(tmp_path / run),
                "train.batch_size": 4, "train.max_steps": 4, "train.save_steps": 2, "train.logging_steps": 1,
                "train.learning_rate": 1e-3, "train.eval_max_examples": 4, "train.max_seq_len": 256}
        base.update(sets)
        return load_config(None, [f"{k}={v}" for k, v in base.items()])

    return make
