"""The OpenAI-compatible HTTP server over a generator."""
