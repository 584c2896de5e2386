"""The per-sample journal: one SQLite file per run directory (WAL mode), one transaction per batch.

A (cell, sample) pair is the primary key of ``records``: resuming skips what is there, and a
duplicate would raise rather than be counted twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import StoreError
from .types import SampleRecord

if TYPE_CHECKING:
    import torch

JOURNAL = "journal.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    cell_id TEXT PRIMARY KEY, grp TEXT NOT NULL, label TEXT NOT NULL,
    model TEXT NOT NULL, defense TEXT NOT NULL, task TEXT NOT NULL, attack TEXT NOT NULL,
    definition TEXT NOT NULL, total INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', error TEXT, updated REAL NOT NULL, info TEXT
);
CREATE TABLE IF NOT EXISTS records (
    cell_id TEXT NOT NULL, sample_id TEXT NOT NULL, label INTEGER,
    clean_pred INTEGER, adv_pred INTEGER, clean_correct INTEGER NOT NULL,
    adv_correct INTEGER NOT NULL, linf REAL NOT NULL, l2 REAL NOT NULL, extra TEXT NOT NULL,
    arrays BLOB,
    PRIMARY KEY (cell_id, sample_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checks (
    gate TEXT NOT NULL, grp TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL,
    cells TEXT NOT NULL, PRIMARY KEY (gate, grp)
);
"""

#: below this much free space (MiB) a run refuses to start; ``MMEVAL_MIN_FREE_MB`` overrides
MIN_FREE_MB = 64


#: what a run writes in its directory: none of these may be a symbolic link
OUTPUTS = (JOURNAL, f"{JOURNAL}-wal", f"{JOURNAL}-shm", ".lock", "results.json", "report.md",
           "report.html", "examples")
F = TypeVar("F", bound=Callable[..., Any])


def _journal_failure(path: Path, exc: BaseException) -> StoreError:
    cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return StoreError(f"cannot use journal '{path}' ({type(exc).__name__}: {cause}); the batches "
                      "journaled before are kept: free space or fix the directory's permissions, "
                      "then re-run to resume")


def _guarded(method: F) -> F:
    """``method`` of :class:`Store` with every SQLite and OS failure (a full or read-only disk, an
    I/O error) turned into one :class:`StoreError` naming the journal and the cause."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise  # a duplicate record or a misuse is a bug, not the disk
        except (sqlite3.Error, OSError) as exc:
            raise _journal_failure(self.path, exc) from None

    return wrapper  # type: ignore[return-value]


def shard_name(rank: int | str) -> str:
    """The journal file rank ``rank`` writes under torchrun (merged into the journal by rank 0)."""
    return f"journal.rank-{rank}.sqlite"



def refuse_link(path: Path) -> None:
    """StoreError if ``path`` is a symbolic link: outputs are never written through one (a shared
    run directory cannot turn a report into a write elsewhere)."""
    if path.is_symlink():
        raise StoreError(f"'{path}' is a symbolic link; mmeval writes its outputs only as regular "
                         "files in the run directory: remove the link or choose another "
                         "directory with --out")


def check_outputs(run_dir: Path) -> None:
    """StoreError if anything a run writes in ``run_dir`` is a symbolic link."""
    for name in OUTPUTS:
        refuse_link(run_dir / name)


def write_output(run_dir: Path, name: str, data: str | bytes) -> Path:
    """Write ``data`` to ``run_dir / name`` atomically (a temporary file in the same directory,
    then a rename, which replaces a link rather than following it), so a failure leaves the
    previous file intact; StoreError (one line) if it cannot be written or is a link."""
    path = run_dir / name
    refuse_link(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # what open() would have given, not mkstemp's 0600
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StoreError(f"cannot write '{path}' ({exc.strerror or exc}); the previous one, if "
                         "any, is intact: free space or fix permissions, then run `mmeval report "
                         f"{run_dir}`") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def prepare_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` and prove it is writable and has room and that none of its outputs is
    a symbolic link, before any compute."""
    check_outputs(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"output directory '{run_dir}' is not writable ({exc.strerror}); "
                         "choose another with --out") from None
    need = float(os.environ.get("MMEVAL_MIN_FREE_MB", MIN_FREE_MB))
    free = shutil.disk_usage(run_dir).free / 2**20
    if free < need:
        raise StoreError(f"output directory '{run_dir}' has {free:.0f} MiB free, below the "
                         f"{need:.0f} MiB a run needs; free space or choose another with --out")


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the duration (released by the OS even on SIGKILL); a second
    run into the same directory is refused instead of interleaving its records."""
    path = run_dir / ".lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot open the run lock '{path}' ({exc.strerror}); it must be a "
                         "regular file in a writable directory") from None
    with os.fdopen(fd, "r+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            raise StoreError(f"another mmeval run (pid {f.read().strip() or '?'}) is writing to "
                             f"'{run_dir}'; wait for it or stop it, then re-run to resume") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Store:
    """Open (or create) the journal of ``run_dir``."""

    def __init__(self, run_dir: Path, *, create: bool = True, name: str = JOURNAL) -> None:
        self.path = Path(run_dir) / name
        if not create and not self.path.is_file():
            raise StoreError(f"'{run_dir}' holds no {JOURNAL}; pass the directory a run wrote")
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            if create:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(_SCHEMA)
                columns = {r[1] for r in self.db.execute("PRAGMA table_info(cells)")}
                if "info" not in columns:  # a journal from before cells carried their description
                    self.db.execute("ALTER TABLE cells ADD COLUMN info TEXT")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("SELECT count(*) FROM records").fetchone()
            problems = [r[0] for r in self.db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use journal '{self.path}': {exc}") from None
        if problems != ["ok"]:
            raise StoreError(f"journal '{self.path}' is damaged ({problems[0]}); its records "
                             "cannot be trusted: move it away and re-run to recompute")

    @_guarded
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata -------------------------------------------------------------------------------
    @_guarded
    def set_meta(self, **items: Any) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                [(k, json.dumps(v, sort_keys=True)) for k, v in items.items()])

    @_guarded
    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    # -- cells ----------------------------------------------------------------------------------
    @_guarded
    def register_cell(self, cell_id: str, *, group: str, info: Mapping[str, Any],
                      definition: dict[str, Any], total: int) -> None:
        """Insert the cell with its description ``info`` (the plan's ``CellInfo`` as JSON), or
        refresh its description and sample count (a new limit) if it exists."""
        with self.db:
            self.db.execute(
                """INSERT INTO cells (cell_id, grp, label, model, defense, task, attack,
                                      definition, total, updated, info)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(cell_id) DO UPDATE SET label=excluded.label, model=excluded.model,
                       defense=excluded.defense, task=excluded.task, attack=excluded.attack,
                       total=excluded.total, info=excluded.info""",
                (cell_id, group, info["label"], info["model"], info["defense"], info["task"],
                 info["attack"], json.dumps(definition, sort_keys=True), total, time.time(),
                 json.dumps(info, sort_keys=True)))

    @_guarded
    def set_status(self, cell_id: str, status: str, error: str | None = None) -> None:
        with self.db:
            self.db.execute("UPDATE cells SET status=?, error=?, updated=? WHERE cell_id=?",
                            (status, error, time.time(), cell_id))

    @_guarded
    def cells(self, cell_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM cells")
        cols = [c[0] for c in cur.description]
        rows = {r[0]: dict(zip(cols, r, strict=True)) for r in cur}
        for row in rows.values():
            row["definition"] = json.loads(row["definition"])
            row["info"] = json.loads(row["info"]) if row.get("info") else None
        order = cell_ids if cell_ids is not None else sorted(rows)
        return [rows[c] for c in order if c in rows]

    # -- records --------------------------------------------------------------------------------
    @_guarded
    def completed(self, cell_id: str) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT sample_id FROM records WHERE cell_id=?", (cell_id,))}

    @_guarded
    def append(self, records: Iterable[SampleRecord]) -> None:
        """Append one batch of records in a single transaction (all or nothing)."""
        rows = [(r.cell_id, r.sample_id, r.label, r.clean_pred, r.adv_pred, int(r.clean_correct),
                 int(r.adv_correct), r.linf, r.l2, json.dumps(dict(r.extra), sort_keys=True),
                 _pack(r.arrays)) for r in records]
        with self.db:
            self.db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    @_guarded
    def seal(self) -> int:
        """Checkpoint the write-ahead log into ``journal.sqlite`` and prove the records are there:
        a fresh connection must count what this one counts (a WAL deleted or damaged during the
        run leaves them short). The number of records; StoreError otherwise."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never waits for a reader
        mine = self.db.execute("SELECT count(*) FROM records").fetchone()[0]
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as db:
            durable = db.execute("SELECT count(*) FROM records").fetchone()[0]
        if durable != mine:
            raise StoreError(f"journal '{self.path}' holds {durable} of the {mine} records this "
                             "run journaled (its write-ahead log was removed or could not be "
                             "checkpointed); results are not written: re-run to recompute the "
                             "missing ones")
        return mine

    @_guarded
    def merge_shards(self) -> int:
        """Move the records of every rank's shard journal next to this one (left by this run or a
        killed one, at any world size) into it, then delete the shards; the records moved."""
        moved = 0
        for shard in sorted(self.path.parent.glob(shard_name("*"))):
            self.db.execute("ATTACH DATABASE ? AS shard", (str(shard),))
            try:
                with self.db:
                    cur = self.db.execute("INSERT OR IGNORE INTO records SELECT * FROM shard.records")
                    moved += cur.rowcount
            finally:
                self.db.execute("DETACH DATABASE shard")
            for path in (shard, Path(f"{shard}-wal"), Path(f"{shard}-shm")):
                path.unlink(missing_ok=True)
        return moved

    @_guarded
    def records(self, cell_id: str) -> list[SampleRecord]:
        cur = self.db.execute(
            "SELECT cell_id, sample_id, label, clean_pred, adv_pred, clean_correct, adv_correct,"
            " linf, l2, extra, arrays FROM records WHERE cell_id=? ORDER BY sample_id", (cell_id,))
        return [SampleRecord(c, s, lab, cp, ap, bool(cc), bool(ac), li, l2, json.loads(ex),
                             _unpack(arr)) for c, s, lab, cp, ap, cc, ac, li, l2, ex, arr in cur]

    # -- sanity checks that need the model (the others are recomputed from records) -----------
    @_guarded
    def set_check(self, group: str, check: Mapping[str, Any]) -> None:
        """Journal a model gate's result (see :mod:`mmeval.checks`) for cell group ``group``."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?, ?)",
                            (check["gate"], group, check["status"], check["detail"],
                             json.dumps(list(check["cells"]))))

    @_guarded
    def checks(self) -> list[dict[str, Any]]:
        """The journaled model gates, each with ``group`` and the ``cells`` it concerns."""
        try:
            rows = self.db.execute("SELECT gate, grp, status, detail, cells FROM checks "
                                   "ORDER BY gate, grp").fetchall()
        except sqlite3.OperationalError:  # a journal written before the checks table existed
            return []
        return [{"gate": g, "group": grp, "status": st, "detail": d, "cells": json.loads(c)}
                for g, grp, st, d, c in rows]


def _pack(arrays: Mapping[str, torch.Tensor]) -> bytes | None:
    if not arrays:
        return None
    import safetensors.torch

    return safetensors.torch.save({k: v.detach().float().cpu().clone() for k, v in arrays.items()})


def _unpack(blob: bytes | None) -> dict[str, torch.Tensor]:
    if not blob:
        return {}
    import safetensors.torch

    return safetensors.torch.load(blob)
