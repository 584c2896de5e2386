"""Model adapters (open_clip, transformers) and models from your own code."""

from .in_memory import register_model, wrap_hf, wrap_open_clip

__all__ = ["register_model", "wrap_hf", "wrap_open_clip"]
