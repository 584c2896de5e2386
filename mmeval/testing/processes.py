"""Subprocesses in tests, watched for progress instead of given a fixed time budget: a busy machine
slows a run down without failing it, and a run that stops making progress (no new output, no file
under its watched paths changing) is killed and fails the test with its output."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: seconds without any sign of progress after which a watched process counts as hung
IDLE = 600.0


def _state(paths: Sequence[Path]) -> tuple:
    """Names, sizes and modification times of every file under ``paths``."""
    out = []
    for root in paths:
        files = [root] if root.is_file() else root.rglob("*") if root.is_dir() else []
        for f in files:
            try:
                st = f.stat()
            except OSError:  # removed while listing
                continue
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


class Watched:
    """A subprocess (its own session; text output captured, unbuffered) whose progress is its
    output and the files under ``watch``. :meth:`alive` fails the test if neither changed for
    ``idle`` seconds."""

    def __init__(self, args: Sequence[str], *, watch: Sequence[Path] = (), idle: float = IDLE,
                 env: dict[str, str] | None = None, **popen: Any) -> None:
        self.args, self.watch, self.idle = list(args), [Path(p) for p in watch], idle
        # closed with the object: the output must outlive the process for stdout()/stderr()
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.args, stdout=self._out, stderr=self._err, start_new_session=True,
            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}, **popen)
        self._last, self._since = self._progress(), time.monotonic()

    def _progress(self) -> tuple:
        return (os.fstat(self._out.fileno()).st_size, os.fstat(self._err.fileno()).st_size,
                _state(self.watch))

    def alive(self) -> bool:
        """Whether the process is still running; AssertionError (after killing it) if it made
        no progress for ``idle`` seconds."""
        if self.proc.poll() is not None:
            return False
        now = self._progress()
        if now != self._last:
            self._last, self._since = now, time.monotonic()
        elif time.monotonic() - self._since > self.idle:
            self.kill()
            raise AssertionError(f"no progress for {self.idle:.0f} s, killed: {self.args}\n"
                                 + self.stderr()[-3000:])
        return True

    def wait(self) -> subprocess.CompletedProcess[str]:
        """Wait for the process to end (failing if it hangs) and return its result."""
        while self.alive():
            time.sleep(0.2)
        return subprocess.CompletedProcess(self.args, self.proc.returncode, self.stdout(),
                                           self.stderr())

    def kill(self) -> None:
        """SIGKILL the process's whole session and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stdout(self) -> str:
        return self._read(self._out)

    def stderr(self) -> str:
        return self._read(self._err)

    @staticmethod
    def _read(fh: Any) -> str:
        fd = fh.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


def run_watched(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``args`` to the end like ``subprocess.run(capture_output=True, text=True)``, failing
    only if it stops making progress (see :class:`Watched`)."""
    return Watched(args, **kwargs).wait()
