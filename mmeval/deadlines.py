"""``run.timeout``: a limit on the wall time of a batch and of a cell. An alarm (SIGALRM, main
thread) raises :class:`~mmeval.errors.ComponentTimeout` in the running code when the limit
passes, so a hanging attack fails its cell instead of hanging the run. Python code is interrupted
at once; a single long call into a native library, at its return."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from .errors import ComponentTimeout


@contextlib.contextmanager
def deadline(seconds: float | None, message: str) -> Iterator[None]:
    """Within the block, raise ``ComponentTimeout(message)`` once ``seconds`` have passed (no limit
    for None, or off the main thread, where no alarm can be delivered)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise ComponentTimeout(message)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
