"""Fingerprints of the files a component reads, so what a cell computes on is part of its identity:
new weights at the same path make new cells instead of reusing the old model's records.

A params field marks itself as an input with ``json_schema_extra=mmeval.INPUT`` (content: a checkpoint,
a model directory, an annotation file; hashed, each file once per path + size + mtime, the digest
cached under the cache dir) or ``mmeval.INPUT_LISTING`` (a dataset root: the names, sizes and
modification times of its files, cheap for any size). An input naming a zoo model
(``zoo/tiny-mlm-shapes``) is fingerprinted by the zoo's recipe for it; a component's declaration
may add what else it reads with ``inputs(params)`` (the zoo models: their recipe)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from . import zoo

Kind = Literal["content", "listing"]
_CHUNK = 1 << 20


def inputs(params: BaseModel) -> dict[str, str]:
    """The fingerprint of every input field of ``params`` naming an existing path."""
    out = {}
    for name, field in type(params).model_fields.items():
        extra = field.json_schema_extra
        kind = extra.get("fingerprint") if isinstance(extra, dict) else None
        value = getattr(params, name)
        if not (kind and isinstance(value, str) and value):
            continue
        entry = zoo.entry_named(value)
        if entry is not None:
            out[name] = "zoo:" + zoo.recipe(entry.name)["hash"]
            continue
        path = Path(value).expanduser()
        if path.exists():
            out[name] = fingerprint(path, kind)
    return out


def fingerprint(path: Path, kind: Kind = "content") -> str:
    """A short digest of ``path``: a file's content; a directory's files (their content, or with
    ``listing`` their names, sizes and modification times)."""
    h = hashlib.sha256()
    with _FileDigests() as digests:
        if path.is_file():
            return digests.get(path)
        for file in _files(path):
            st = file.stat()
            rel = file.relative_to(path).as_posix()
            part = (f"{st.st_size}:{st.st_mtime_ns}" if kind == "listing" else digests.get(file))
            h.update(f"{rel}\0{part}\n".encode())
    return h.hexdigest()[:16]


def _files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            yield Path(folder) / name


class _FileDigests:
    """File content digests cached by (path, size, mtime) in ``<cache dir>/fingerprints.db``."""

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None
        try:
            zoo.cache_dir().mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(zoo.cache_dir() / "fingerprints.db", timeout=30)
            self.db.execute("CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, "
                            "size INTEGER, mtime INTEGER, digest TEXT)")
        except (OSError, sqlite3.Error):  # an unwritable cache only costs re-hashing
            self.db = None

    def __enter__(self) -> _FileDigests:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.db is not None:
            self.db.commit()
            self.db.close()
            self.db = None

    def get(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        row = None
        if self.db is not None:
            row = self.db.execute("SELECT digest FROM digests WHERE path=? AND size=? AND mtime=?",
                                  (key, st.st_size, st.st_mtime_ns)).fetchone()
        if row:
            return str(row[0])
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        digest = h.hexdigest()[:16]
        if self.db is not None:
            self.db.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)",
                            (key, st.st_size, st.st_mtime_ns, digest))
            if not self.db.in_transaction:
                self.db.commit()
        return digest
