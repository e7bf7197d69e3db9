"""`loralab generate` goes through the backend: streamed pieces add up to the answer, the
stream equals the batched file path, and sampling is seeded (#14)."""

import json

from loralab.config import ModelConfig
from loralab.inference.complete import generate_file, stream_one


def test_stream_equals_the_file_path_and_sampling_is_seeded(tiny_model_dir, tmp_path):
    mcfg = ModelConfig(name=str(tiny_model_dir))
    pieces = []
    text = stream_one(mcfg, "Write a function.", max_new_tokens=8, temperature=0.0, system=None, raw=False,
                      write=pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == text  # streamed as it decoded
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "Write a function."}) + "\n")
    out = generate_file(mcfg, prompts, None, max_new_tokens=8, temperature=0.0, system=None, raw=False)
    assert json.loads(out.read_text())["completion"] == text
    hot = [stream_one(mcfg, "Hi", max_new_tokens=8, temperature=1.0, system=None, raw=True, write=lambda s: None,
                      seed=seed) for seed in (1, 1, 2)]
    assert hot[0] == hot[1] and hot[0] != hot[2]
