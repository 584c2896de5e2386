"""Catching a component that changes the model it attacks: the version counters of the model's
parameters and buffers (every in-place write through the tensor bumps them) and a fingerprint of
their values (a float64 sum and L2 norm per tensor, for writes the counters cannot see, such as
through ``.data`` or a shared storage). The runner takes a :class:`ModelState` when a cell starts
and checks it after every attack call."""

from __future__ import annotations

from typing import Any

import torch


def _tensors(model: Any) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers by name (nothing for a model that is not a Module)."""
    if not isinstance(model, torch.nn.Module):
        return {}
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def _fingerprint(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """``[N, 2]`` float64 sum and L2 norm of each tensor, brought to the CPU in one copy."""
    if not tensors:
        return torch.zeros(0, 2, dtype=torch.float64)
    rows = []
    with torch.no_grad():
        for t in tensors.values():
            t = t.detach()
            values = t if t.is_floating_point() else t.double()
            rows.append(torch.stack([values.sum(dtype=torch.float64),
                                     torch.linalg.vector_norm(values, dtype=torch.float64)]))
    device = rows[0].device
    return torch.stack([r.to(device) for r in rows]).cpu()


class ModelState:
    """The state of ``model``'s parameters and buffers now, to compare with later."""

    def __init__(self, model: Any) -> None:
        self.tensors = _tensors(model)
        self.versions = {name: t._version for name, t in self.tensors.items()}
        self.fingerprint = _fingerprint(self.tensors)

    def changed(self, model: Any) -> list[str]:
        """Names of the parameters and buffers that changed since (added or removed ones too)."""
        now = _tensors(model)
        if now.keys() != self.tensors.keys():
            return sorted(now.keys() ^ self.tensors.keys())
        moved = [n for n, t in now.items() if t._version != self.versions[n] or t is not
                 self.tensors[n]]
        if moved:
            return moved
        differs = (_fingerprint(now) != self.fingerprint).any(dim=1).tolist()
        return [n for n, d in zip(now, differs, strict=True) if d]
