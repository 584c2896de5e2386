"""The error tree. Every user-facing failure is an :class:`MmevalError`; the CLI prints it as one
line ``ErrorType: message`` and exits with code 2."""

from __future__ import annotations


def one_line(text: str) -> str:
    """``text`` on one line: control characters (line breaks, tabs, escapes) shown escaped, so a
    name read from a spec or a journal cannot break an error message or forge a line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class MmevalError(Exception):
    """Base class of every error mmeval raises on purpose."""


class SpecError(MmevalError, ValueError):
    """A spec (or a component's params) is malformed; ``path`` is the field (``attacks[1].params.eps``)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class UnknownComponentError(SpecError, LookupError):
    """A registry name that nothing registered; the message suggests close names."""


class DuplicateComponentError(MmevalError):
    """Two plugins registered the same name; the message names both origins."""


class IncompatibleComponentsError(SpecError):
    """Components that cannot be combined (e.g. an attack that does not support the task's objective)."""


class MissingDependencyError(MmevalError, ImportError):
    """An optional third-party package a component needs is not installed."""


class ModelLoadError(MmevalError):
    """A model or its checkpoint cannot be loaded (missing file, unknown tag, weights not cached)."""


class PluginLoadError(MmevalError):
    """A plugin distribution failed to import or to register its components."""


class DataError(MmevalError):
    """A dataset or a batch is malformed (missing files, images outside [0, 1], duplicate ids, ...)."""


class ThreatModelViolation(MmevalError):
    """An attack returned an output outside its declared threat model (bounds or eps-ball)."""


class StoreError(MmevalError):
    """The run directory or its journal cannot be used (unwritable, or holds an incompatible run)."""


class ModelTampered(MmevalError):
    """A component changed the model's parameters or buffers in place while attacking it."""


class ComponentTimeout(MmevalError):
    """A batch or a cell ran past ``run.timeout``."""
