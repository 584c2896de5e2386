"""The runner: per cell, per batch — clean forward, attack, adversarial forward, records appended to
the journal in one transaction. Re-running into the same directory resumes: completed
(cell, sample) pairs are skipped. A cell that raises is recorded as failed and the run goes on."""

from __future__ import annotations

import contextlib
import platform
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .data import Head
from .errors import DataError, MmevalError, SpecError
from .hookspecs import BatchEndEvent, CellEndEvent, RunEndEvent, RunStartEvent
from .planning import Cell, Plan, Resolved, plan
from .plugins import PluginHost
from .progress import progress
from .protocols import Dataset, VLModel
from .report import write_outputs
from .seeding import BatchRandom, sample_seed
from .spec import EvalSpec, stable_hash, validate_spec
from .store import Store, prepare_run_dir
from .types import Batch, MetricValue, SampleRecord

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class RunResult:
    """What ``evaluate`` returns: the run directory and the results.json content."""

    run_dir: Path
    results: dict[str, Any]

    @property
    def cells(self) -> list[dict[str, Any]]:
        return self.results["cells"]

    def metric(self, name: str, **match: str) -> MetricValue:
        """The metric of the one cell (or group) whose fields equal ``match``, e.g.
        ``result.metric("robust-accuracy", attack="mmeval/pgd(eps=0.01569)")``."""
        rows = [c for c in self.cells + self.results["groups"]
                if name in c["metrics"] and all(c.get(k) == v for k, v in match.items())]
        if len(rows) != 1:
            raise KeyError(f"{len(rows)} cells match {match} for metric '{name}'; "
                           f"narrow the match with model=, defense=, task=, attack=")
        m = rows[0]["metrics"][name]
        nan = float("nan")
        return MetricValue(nan if m["value"] is None else m["value"], m["low"], m["high"], m["n"])


def resolve_device(name: str, field: str = "run.device") -> torch.device:
    """The torch device ``name`` names (``auto``: CUDA when available); ``field`` is the spec
    path a CUDA-less machine's error points at."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpecError("CUDA is not available on this machine; use --device cpu", field)
    return device


def _with_overrides(spec: EvalSpec, limit: int | None, device: str | None,
                    out: str | Path | None) -> EvalSpec:
    data = spec.canonical()
    if limit is not None:
        if limit < 1:
            raise SpecError(f"--limit must be >= 1, got {limit}", "limit")
        for task in data["tasks"]:
            task["limit"] = min(task["limit"] or limit, limit)
    if device is not None:
        data["run"]["device"] = device
    if out is not None:
        data["output_dir"] = str(out)
    return validate_spec(data)


def _environment(device: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": torch.__version__, "cuda": torch.version.cuda, "device": str(device),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def evaluate(
    spec: EvalSpec | dict[str, Any] | Plan,
    *,
    out: str | Path | None = None,
    limit: int | None = None,
    device: str | None = None,
    host: PluginHost | None = None,
) -> RunResult:
    """Plan ``spec`` (no compute), run every pending cell, write results.json and report.md."""
    spec_obj = spec.spec if isinstance(spec, Plan) else validate_spec(spec)
    host = spec.host if isinstance(spec, Plan) else host
    spec_obj = _with_overrides(spec_obj, limit, device, out)
    the_plan = plan(spec_obj, host)
    run = spec_obj.run
    dev = resolve_device(run.device)
    run_dir = spec_obj.resolved_output_dir()
    prepare_run_dir(run_dir)
    with Store(run_dir) as store:
        store.set_meta(spec=spec_obj.canonical(), spec_hash=spec_obj.spec_hash(),
                       cells=[c.id for c in the_plan.cells], warnings=the_plan.warnings,
                       versions={"mmeval": __version__, **the_plan.host.versions()},
                       environment=_environment(dev), seed=run.seed)
        hook = the_plan.host.hook
        hook.mmeval_run_start(event=RunStartEvent(run_dir, spec_obj.canonical(),
                                                  tuple(c.id for c in the_plan.cells)))
        _Runner(the_plan, store, dev, run_dir).run()
        results = write_outputs(store, the_plan.host, run_dir)
    hook.mmeval_run_end(event=RunEndEvent(run_dir, results))
    return RunResult(run_dir, results)


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Runner:
    def __init__(self, the_plan: Plan, store: Store, device: torch.device, run_dir: Path) -> None:
        self.plan, self.store, self.device, self.run_dir = the_plan, store, device, run_dir
        self.settings = the_plan.spec.run
        self.datasets: dict[int, Dataset] = {}
        self.sources: dict[str, VLModel] = {}

    def dataset(self, cell: Cell) -> Dataset:
        if cell.task.index not in self.datasets:
            self.datasets[cell.task.index] = cell.task.dataset.build()
        return self.datasets[cell.task.index]

    def run(self) -> None:
        by_model: dict[tuple[int, str | None], list[Cell]] = {}
        for cell in self.plan.cells:
            key = (cell.model_index, cell.defense.path if cell.defense else None)
            by_model.setdefault(key, []).append(cell)
        known = {c["cell_id"] for c in self.store.cells()}
        for cells in by_model.values():
            model: VLModel | Exception | None = None
            for cell in cells:
                try:
                    dataset = self.dataset(cell)
                    total = min(len(dataset), cell.task.limit or len(dataset))
                    self._register(cell, total)
                    known.add(cell.id)
                    if len(self.store.completed(cell.id)) >= total:
                        self._end(cell, "done", None)
                        continue
                    if model is None:
                        try:
                            model = self._build_model(cell)
                        except Exception as exc:
                            model = exc
                    if isinstance(model, Exception):
                        raise model
                    self._run_cell(cell, model, dataset, total)
                    self._end(cell, "done", None)
                except Exception as exc:
                    if self.settings.fail_fast:
                        raise
                    if cell.id not in known:
                        self._register(cell, 0)
                    self._end(cell, "failed", _describe(exc))

    def _register(self, cell: Cell, total: int) -> None:
        self.store.register_cell(
            cell.id, group=cell.group, label=cell.label, model=cell.model.label,
            defense=cell.defense.label if cell.defense else "none", task=cell.task.label,
            attack=cell.attack.label, definition=cell.definition(), total=total)

    def _end(self, cell: Cell, status: str, error: str | None) -> None:
        self.store.set_status(cell.id, status, error)
        self.plan.host.hook.mmeval_cell_end(
            event=CellEndEvent(self.run_dir, cell.id, cell.label, status, error))

    def _build_model(self, cell: Cell) -> VLModel:
        return self._build(cell.model, cell.defense)

    def _source_model(self, source: Resolved) -> VLModel:
        """The model a transfer attack is crafted on, built once per run."""
        key = stable_hash(source.definition())
        if key not in self.sources:
            self.sources[key] = self._build(source, None)
        return self.sources[key]

    def _build(self, resolved: Resolved, defense: Resolved | None) -> VLModel:
        model = resolved.build()
        if defense is not None:
            model = defense.build().apply(model)
        if isinstance(model, torch.nn.Module):
            model = model.to(self.device)
        model.eval()
        return model

    def _run_cell(self, cell: Cell, model: VLModel, full: Dataset, total: int) -> None:
        self.store.set_status(cell.id, "running")
        dataset = Head(full, total)
        done = self.store.completed(cell.id)
        todo = [i for i in range(total) if dataset.sample_id(i) not in done]
        if not todo:
            return
        objective = cell.task.objective.build()
        objective.prepare(model, dataset)
        attack = cell.attack.build()
        crafter = _Crafter(model, objective, cell.id)
        if cell.attack.source is not None:  # transfer: crafted on the source, scored on the model
            source = self._source_model(cell.attack.source)
            # seeded by what crafts the points, so every target scores the same adversarial inputs
            key = "t-" + stable_hash({k: v for k, v in cell.definition().items()
                                      if k not in ("model", "defense")})
            crafter = _Crafter(source, cell.task.objective.build(), key)
            crafter.objective.prepare(source, dataset)
        bar = progress(total=total, initial=total - len(todo), desc=cell.label, unit="sample",
                       enabled=self.settings.progress)
        try:
            for chunk in _chunks(todo, self.settings.batch_size):
                t0 = time.perf_counter()
                batch = Batch.collate([dataset[i] for i in chunk]).to(self.device)
                if len(set(batch.sample_ids)) != len(batch) or done & set(batch.sample_ids):
                    raise DataError(f"dataset '{cell.task.dataset.name}' yields duplicate "
                                    "sample ids; ids must be unique and stable")
                self.store.append(self._batch_records(cell, model, objective, attack, batch,
                                                      crafter))
                done |= set(batch.sample_ids)
                bar.update(len(batch))
                self.plan.host.hook.mmeval_batch_end(event=BatchEndEvent(
                    self.run_dir, cell.id, len(done), total, len(batch),
                    time.perf_counter() - t0))
        finally:
            bar.close()

    def _batch_records(self, cell: Cell, model: VLModel, objective: Any, attack: Any,
                       batch: Batch, crafter: _Crafter) -> list[SampleRecord]:
        seeds = [sample_seed(self.settings.seed, crafter.seed_key, s) for s in batch.sample_ids]
        rng = BatchRandom(seeds, self.device)
        with torch.no_grad():
            clean = objective.evaluate(model, batch.images, batch)
        with autocast(self.device, self.settings.precision):
            out = attack(crafter.model, batch, crafter.objective, rng)
        adv_images = batch.images if out.images is None else out.images
        adv_batch = replace(batch, texts=batch.texts if out.texts is None else out.texts,
                            prompts=out.prompts)
        with torch.no_grad():
            adv = objective.evaluate(model, adv_images, adv_batch)
        delta = (adv_images - batch.images).flatten(1).float()
        linf, l2 = delta.abs().amax(dim=1).tolist(), delta.norm(dim=1).tolist()
        labels = batch.labels.tolist() if batch.labels is not None else [None] * len(batch)
        cp, ap = clean.pred.tolist(), adv.pred.tolist()
        cc, ac = clean.correct.tolist(), adv.correct.tolist()
        extras: list[dict[str, Any]] = [{} for _ in range(len(batch))]
        if cell.attack.source is not None:
            for e in extras:
                e.update(source=cell.attack.source.label, target=cell.model.label)
        for key, values in out.info.items():
            for i, v in enumerate(values):
                extras[i][key] = v
        if out.texts is not None:
            for i, texts in enumerate(out.texts):
                extras[i]["adv_texts"] = list(texts)
        if out.prompts is not None:
            clean_prompts = getattr(objective, "prompts", ())
            for i, prompts in enumerate(out.prompts):
                extras[i]["adv_prompts"] = {str(c): p for c, (p, q) in
                                            enumerate(zip(prompts, clean_prompts, strict=True)) if p != q}
        arrays: list[dict[str, torch.Tensor]] = [{} for _ in range(len(batch))]
        for prefix, outcome in (("clean_", clean), ("adv_", adv)):
            for key, values in outcome.arrays.items():
                for i, v in enumerate(values):
                    arrays[i][prefix + key] = v
            for key, values in outcome.info.items():
                for i, v in enumerate(values):
                    extras[i][prefix + key] = v
        return [SampleRecord(cell.id, sid, labels[i], cp[i], ap[i], cc[i], ac[i], linf[i], l2[i],
                             extras[i], arrays[i]) for i, sid in enumerate(batch.sample_ids)]


@dataclass(frozen=True)
class _Crafter:
    """The model an attack runs on and the objective prepared for it (the cell's own model, or a
    transfer attack's source)."""

    model: VLModel
    objective: Any
    #: what per-sample attack seeds derive from (the cell, or for transfer what crafts the points)
    seed_key: str


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """Autocast to ``precision`` (bf16 / fp16) on ``device``; nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MmevalError):
        return f"{type(exc).__name__}: {exc}"
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"
