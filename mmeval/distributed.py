"""torch.distributed under torchrun: the process group, exact sharding and the launcher.

``torchrun --nproc-per-node N -m mmeval run SPEC`` (or ``mmeval run --nproc N``, which starts
torchrun) gives every rank its own process; :func:`world` joins them in one group (gloo on CPU,
nccl on GPU) whose collectives time out after ``MMEVAL_DIST_TIMEOUT`` seconds (default 1800), so a
rank that dies makes the others fail instead of waiting forever. :meth:`World.shard` splits work
round-robin with no padding: every item goes to exactly one rank.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from .errors import SpecError

TIMEOUT_ENV = "MMEVAL_DIST_TIMEOUT"
T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` (``size`` 1 without torchrun)."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, items: Sequence[T]) -> Sequence[T]:
        """This rank's share of ``items``: every ``size``-th one from ``rank`` (exactly once, no
        padding)."""
        return items[self.rank::self.size]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` from every rank, in rank order (``[obj]`` alone)."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV, "1800")
    try:
        seconds = float(raw)
    except ValueError:
        raise SpecError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    return timedelta(seconds=seconds)


def world(device: torch.device) -> World:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1 (once per process)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout(),
                                device_id=device if device.type == "cuda" else None)
    return World(dist.get_rank(), dist.get_world_size())


def local_device(device: torch.device) -> torch.device:
    """Under torchrun, a bare ``cuda`` means this rank's GPU (``cuda:LOCAL_RANK``)."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``python -m mmeval *argv`` in ``nproc`` processes under torchrun; its exit code."""
    if nproc < 1:
        raise SpecError(f"--nproc must be >= 1, got {nproc}", "nproc")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "mmeval", *argv]
    return subprocess.call(cmd)
