"""loralab: fine-tune code LLMs with LoRA, evaluate every checkpoint by running its code."""

__version__ = "0.1.0"
