"""Progress: a line per phase of a run, and tqdm bars (on a terminal; in a log, such as CI's or
redirected output, a line every 30 s at most)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


def phase(message: str) -> None:
    """One line on stderr announcing a phase of a run (loading a model, preparing prompts, ...),
    so nothing is silent for long before the first progress bar."""
    print(f"mmeval: {message}", file=sys.stderr, flush=True)


def progress(iterable: Any = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar; ``enabled=False`` hides it. Off a terminal it refreshes rarely so logs stay short."""
    interactive = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 0.1 if interactive else 30.0)
    kwargs.setdefault("dynamic_ncols", interactive)
    return tqdm(iterable, disable=not enabled, **kwargs)
