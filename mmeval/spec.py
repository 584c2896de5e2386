"""The declarative evaluation spec (pydantic, unknown fields rejected) and ``load_spec``.

A spec is a Python file exporting ``SPEC`` (an :class:`EvalSpec` or a dict) or a JSON file. Every
component is referenced by registry name plus a ``params`` dict; a bare string is shorthand for
``{"name": ...}``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .compilation import CompileMode
from .errors import SpecError
from .registry import spec_error_from, walk


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentRef(_Strict):
    """A registered component by ``name`` with its ``params``; ``label`` names it in reports."""

    name: str = Field(min_length=1, description="registered name (see `mmeval list`)")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="the component's parameters (its Params model)")
    label: str | None = Field(default=None, description="name in reports; default: name(params)")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class AttackSpec(ComponentRef):
    """An attack; with ``source`` (a model) it is crafted on that model and the cell's model only
    scores the result: the transfer setting (source x target)."""

    source: ComponentRef | None = Field(
        default=None, description="a model to craft on; the spec's models only score (transfer)")


class ModelSpec(ComponentRef):
    """A model, evaluated undefended (unless ``include_undefended`` is False) and with each defense."""

    defenses: list[ComponentRef] = Field(default_factory=list,
                                         description="defenses, each evaluated as its own model")
    include_undefended: bool = Field(default=True, description="also evaluate the bare model")


class TaskSpec(_Strict):
    """A dataset (or a suite of datasets, one task each) scored by an objective; ``limit`` keeps N
    samples of each dataset, drawn as ``sampling`` says."""

    dataset: ComponentRef | None = Field(default=None, description="a registered dataset")
    suite: ComponentRef | None = Field(
        default=None, description="a registered suite of datasets instead of `dataset`: expanded "
        "at plan time into one task per dataset (see `mmeval list suites`)")
    objective: ComponentRef = Field(default_factory=lambda: ComponentRef(name="zero-shot"),
                                    description="zero-shot (classification) or retrieval")
    limit: int | None = Field(default=None, ge=1, description="evaluate N samples of each dataset")
    sampling: Literal["stratified", "first"] = Field(
        default="stratified", description="which N samples `limit` keeps: `stratified`, classes "
        "in turn in a seeded order (a seeded uniform sample where labels are not cheap); "
        "`first`, the first N")
    label: str | None = Field(default=None, description="name in reports (of the suite, for one)")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"dataset": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _dataset_or_suite(self) -> TaskSpec:
        if (self.dataset is None) == (self.suite is None):
            raise ValueError("a task names either a `dataset` or a `suite`")
        return self


#: torch's device types, as ``torch.device`` accepts them (checked without importing torch)
DEVICE = re.compile(r"(cpu|cuda|mps|xpu|hip|hpu|mtia|xla|meta|lazy|ipu|maia|ve|fpga|vulkan|"
                    r"mkldnn|opengl|opencl|ideep|privateuseone)(:\d+)?")


def check_device(v: str) -> str:
    """``v`` if it names a torch device (or ``auto``)."""
    if v != "auto" and not DEVICE.fullmatch(v):
        raise ValueError("not a torch device; use cpu, cuda, cuda:N or auto")
    return v


class ChecksSettings(_Strict):
    """Sanity gates (see docs/reliability.md); a failed gate marks the cells it concerns
    ``unreliable`` and makes ``mmeval run --strict`` exit 3."""

    eps_zero: bool = Field(default=True, description="an attack at eps 0 must reproduce the clean "
                           "outcome of every sample")
    monotone: bool = Field(default=True, description="accuracy must not rise as eps grows (clean "
                           "accuracy counts as eps 0)")
    monotone_tolerance: float = Field(default=0.01, ge=0.0, le=1.0, description="rise in accuracy "
                                      "between consecutive eps values tolerated as noise")
    gradient_masking: bool = Field(default=True, description="unbounded PGD (eps 1) must bring "
                                   "zero-shot accuracy to about chance, else gradient masking")
    masking_samples: int = Field(default=32, ge=1, description="samples the unbounded PGD probes")
    masking_steps: int = Field(default=20, ge=1, description="steps of the unbounded PGD probe")
    masking_margin: float = Field(default=0.1, ge=0.0, le=1.0, description="accuracy above chance "
                                  "(1 / classes) still taken as about chance")
    stochastic: bool = Field(default=True, description="two forward passes on the same images must "
                             "agree, else the model is stochastic and needs EOT")
    non_finite: bool = Field(default=True, description="a sample whose model output holds NaN or "
                             "inf (flagged, never scored) marks its cell")


class TimeoutSettings(_Strict):
    """Wall-time limits (seconds; none by default). A batch or cell past its limit fails its cell
    with one line naming the attack; the run goes on and the batches committed before it stay."""

    batch: float | None = Field(default=None, gt=0, description="seconds one batch (clean scoring, "
                                "attack, adversarial scoring) may take")
    cell: float | None = Field(default=None, gt=0, description="seconds one cell may take (its "
                               "pending batches, this run)")


class RunSettings(_Strict):
    """How to run: device (``cpu``, ``cuda``, ``cuda:1``, ``auto``), batch size, seed, precision."""

    device: str = Field(default="cpu", description="cpu, cuda, cuda:N or auto")
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        default=32, description="samples per attack call (per rank); `auto`: the largest "
        "that fits in GPU memory, probed once per model and device and cached (32 on CPU)")
    workers: int = Field(default=0, ge=0, le=256, description="data loader worker processes (batches are "
                         "loaded ahead of the attack; pinned memory on CUDA)")
    seed: int = Field(default=0, ge=0, description="run seed (per-sample seeds derive from it)")
    precision: Literal["fp32", "bf16", "fp16"] = Field(default="fp32",
                                                       description="autocast for attack steps")
    compile: bool | CompileMode = Field(
        default=False, description="torch.compile each PGD-family attack step whole (forward, "
        "loss, input gradient, update, projection: one graph) and each model's image encoder "
        "(`true`: mode `default`; `reduce-overhead` adds CUDA graphs); pays off on a GPU over "
        "many attack steps")
    fail_fast: bool = Field(default=False, description="stop at the first failing cell")
    timeout: TimeoutSettings = Field(default_factory=TimeoutSettings,
                                     description="time limits per batch and per cell")
    checks: ChecksSettings = Field(default_factory=ChecksSettings, description="sanity gates")
    progress: bool = Field(default=True, description="progress bars")
    examples: int = Field(default=3, ge=0, le=64, description="samples per cell whose clean and "
                          "adversarial inputs (and texts) are kept in <run dir>/examples/ and "
                          "shown in report.html")

    _device = field_validator("device")(lambda v: check_device(v))


DEFAULT_METRICS: list[dict[str, Any]] = [
    {"name": n} for n in ("clean-accuracy", "robust-accuracy", "attack-success-rate",
                          "worst-case-robust-accuracy", "tr@1", "tr@5", "tr@10", "ir@1", "ir@5",
                          "ir@10")
] + [{"name": f"asr-{kind}", "params": {"direction": d}, "label": f"{d}@1 asr-{kind}"}
     for d in ("tr", "ir") for kind in ("absolute", "relative")]


class EvalSpec(_Strict):
    """A full evaluation: the grid models x defenses x tasks x attacks, the metrics, run settings."""

    name: str = Field(default="eval", pattern=r"^[A-Za-z0-9_.-]+$",
                      description="run name; default output dir runs/<name>")
    models: list[ModelSpec] = Field(min_length=1, description="models (each with its defenses)")
    tasks: list[TaskSpec] = Field(min_length=1, description="dataset + objective pairs")
    attacks: list[AttackSpec] = Field(min_length=1, description="attacks, `clean` included")
    metrics: list[ComponentRef] = Field(
        default_factory=lambda: [ComponentRef(**m) for m in DEFAULT_METRICS],
        description="metrics computed from the records (those fitting each task)")
    run: RunSettings = Field(default_factory=RunSettings, description="how to run")
    output_dir: str | None = Field(default=None, description="run directory (resumed if present)")

    @field_validator("name")
    @classmethod
    def _not_a_path(cls, v: str) -> str:
        if not v.strip("."):
            raise ValueError(f"'{v}' would name a directory above or at runs/; give the run a name")
        return v

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir or Path("runs") / self.name)

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def spec_hash(self) -> str:
        return stable_hash(self.canonical())


def stable_hash(obj: Any, n: int = 16) -> str:
    """Hex digest of ``obj``'s canonical JSON (sorted keys), first ``n`` characters."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:n]


S = TypeVar("S", bound=BaseModel)


#: the deepest nesting a spec may have (a real one is under 10 levels deep)
MAX_DEPTH = 32
#: the largest spec file read (bytes)
MAX_SPEC_BYTES = 16 * 2**20


def check_depth(data: Any, limit: int = MAX_DEPTH) -> None:
    """SpecError unless ``data`` nests at most ``limit`` dicts / lists deep (checked without
    recursion, so any depth gives this one line)."""
    for item, depth, where in walk(data):
        if depth >= limit and isinstance(item, dict | list | tuple):
            raise SpecError(f"the spec nests more than {limit} levels deep; a spec is a few "
                            "levels of lists and dicts", where.lstrip(".") or None)


def validate_spec(data: Any, cls: type[S] = EvalSpec) -> S:  # type: ignore[assignment]
    """``data`` (a ``cls`` instance or a dict) as a validated ``cls``; SpecError with the field path."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise SpecError(f"a spec must be a {cls.__name__} or a dict, got {type(data).__name__}")
    check_depth(data)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from(exc) from None


def load_spec(source: str | Path, cls: type[S] = EvalSpec) -> S:  # type: ignore[assignment]
    """Load ``file.py`` (its ``SPEC``), ``file.py:NAME`` or ``file.json`` into a validated ``cls``
    (an :class:`EvalSpec` unless told otherwise, e.g. a TrainSpec)."""
    text = str(source)
    attr = "SPEC"
    if ":" in Path(text).name:
        text, attr = text.rsplit(":", 1)
    path = Path(text)
    if not path.is_file():
        raise SpecError(f"spec file '{path}' not found; pass a .py exporting SPEC or a .json file")
    if path.suffix == ".json":
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"'{path}' is {path.stat().st_size} bytes; a spec is at most "
                            f"{MAX_SPEC_BYTES // 2**20} MiB")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"'{path}' is not valid JSON: {exc}") from None
        except RecursionError:
            raise SpecError(f"'{path}' nests more than {MAX_DEPTH} levels deep; a spec is a few "
                            "levels of lists and dicts") from None
        return validate_spec(data, cls)
    if path.suffix != ".py":
        raise SpecError(f"spec file '{path}' must end in .py or .json")
    module_name = f"_mmeval_spec_{stable_hash(str(path.resolve()), 8)}"
    mod_spec = importlib.util.spec_from_file_location(module_name, path)
    assert mod_spec is not None and mod_spec.loader is not None
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[module_name] = module
    try:
        mod_spec.loader.exec_module(module)
    except ValidationError as exc:
        raise spec_error_from(exc) from None
    except SpecError:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a spec file that calls sys.exit() too
        raise SpecError(f"running '{path}' raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(module_name, None)
    if not hasattr(module, attr):
        raise SpecError(f"'{path}' defines no '{attr}'; export the spec as "
                        f"{attr} = {cls.__name__}(...)")
    return validate_spec(getattr(module, attr), cls)
