"""Reading checkpoints safely: safetensors, or torch files with ``weights_only=True``, never an
arbitrary pickle. :func:`check_checkpoint` is the params validator every checkpoint field uses
(a safetensors file is checked from its header, without importing torch)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelLoadError

if TYPE_CHECKING:
    import torch


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a safetensors file, or a torch file read with ``weights_only=True``
    (never an arbitrary pickle)."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"checkpoint '{path}' does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors surface as many types
        raise ModelLoadError(f"'{path}' is not a weights-only checkpoint ({type(exc).__name__}: "
                             f"{exc}); save it as safetensors") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return state


def check_checkpoint(path: str) -> str:
    """``path`` if it is a readable checkpoint: a directory, a safetensors file with a valid
    header, or a torch file that loads with ``weights_only=True``. A pydantic validator, so a bad
    checkpoint fails at plan time with its field path (ValueError)."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"checkpoint '{path}' does not exist")
    if p.is_dir():
        return path
    try:
        if p.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(p), framework="numpy"):  # the header only; no torch needed
                pass
        else:
            import torch

            torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # corrupt files and refused pickles surface as many types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"checkpoint '{path}' cannot be loaded safely ({type(exc).__name__}: "
                         f"{reason[:200]}); checkpoints load only as safetensors or with "
                         "torch.load(weights_only=True) - re-save it as safetensors") from None
    return path
