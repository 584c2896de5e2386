"""Per-sample randomness. Seeds derive from (run seed, cell id, sample id) — never from the batch
index or the rank — so results do not depend on batch size or world size."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def sample_seed(run_seed: int, cell_id: str, sample_id: str) -> int:
    """A 63-bit seed for one sample of one cell."""
    digest = hashlib.blake2b(f"{run_seed}|{cell_id}|{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class BatchRandom:
    """One CPU generator per sample; draws are stacked into a batch and moved to ``device``.
    Sample ``i`` sees the same stream whatever batch it lands in."""

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu") -> None:
        self.seeds = tuple(seeds)
        self.device = torch.device(device)
        self._gens = [torch.Generator().manual_seed(s) for s in self.seeds]

    def __len__(self) -> int:
        return len(self.seeds)

    def batch_seed(self) -> int:
        """One seed for the whole batch, for libraries that draw from the global RNG. Unlike the
        per-sample streams it depends on which samples share the batch."""
        digest = hashlib.blake2b(repr(self.seeds).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") & ((1 << 63) - 1)

    def generator(self, i: int) -> torch.Generator:
        return self._gens[i]

    def rand(self, *shape: int) -> torch.Tensor:
        """``[B, *shape]`` uniform in [0, 1)."""
        return torch.stack([torch.rand(shape, generator=g) for g in self._gens]).to(self.device)

    def randn(self, *shape: int) -> torch.Tensor:
        """``[B, *shape]`` standard normal."""
        return torch.stack([torch.randn(shape, generator=g) for g in self._gens]).to(self.device)
