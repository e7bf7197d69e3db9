"""Generation backends (transformers, vLLM, OpenAI-compatible HTTP) and the generation cache."""
