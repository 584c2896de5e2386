"""Loading the masked language model text attacks draw candidates from."""

from __future__ import annotations

from functools import cache
from typing import Any

from mmeval import MissingDependencyError, load_zoo


@cache
def load_mlm(name: str) -> tuple[Any, Any]:
    """A masked LM and its tokenizer: ``zoo/tiny-mlm-shapes`` (built offline on first use), a
    local directory, or a transformers id already in the local cache."""
    if name == "zoo/tiny-mlm-shapes":
        return load_zoo("tiny-mlm-shapes")
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    try:
        return AutoModelForMaskedLM.from_pretrained(name).eval(), AutoTokenizer.from_pretrained(name)
    except OSError as exc:
        raise MissingDependencyError(
            f"masked LM '{name}' is neither a local directory nor in the local HF cache ({exc}); "
            "use zoo/tiny-mlm-shapes or a directory saved with save_pretrained") from exc
