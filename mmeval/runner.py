"""The runner: executes a :class:`~mmeval.planning.Plan`. Per cell, per batch: clean forward,
attack, adversarial forward, records appended to the journal in one transaction. Re-running into
the same directory resumes: completed (cell, sample) pairs are skipped. A cell that raises is
recorded as failed and the run goes on. Everything is built from the plan's plugin host; cell
facts come from the plan's cell descriptions."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from . import __version__, checks, examples
from .attacks.base import check_signal
from .attacks.compose import building
from .compilation import compile_mode, compiled_steps
from .data import Subset, select
from .deadlines import deadline
from .devices import autocast, resolve_device
from .distributed import World, local_device, world
from .errors import DataError, MmevalError, ModelTampered, SpecError, StoreError, one_line
from .hookspecs import BatchEndEvent, CellEndEvent, RunEndEvent, RunStartEvent
from .lifecycle import Lifecycle, model_key
from .planning import Cell, Plan, plan
from .plugins import PluginHost, get_host
from .progress import phase, progress
from .protocols import Dataset, Objective, VLModel
from .records import Scored, make_records
from .report import report
from .seeding import BatchRandom, sample_seed
from .spec import EvalSpec, stable_hash
from .store import Store, prepare_run_dir, run_lock, shard_name
from .tampering import ModelState
from .types import Batch, MetricValue, SampleRecord


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


def _environment(device: torch.device, world_size: int) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": torch.__version__, "cuda": torch.version.cuda, "device": str(device),
        "world_size": world_size,
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
    models: dict[str, Any] | None = None,
) -> RunResult:
    """Run ``spec``: a :class:`Plan` runs exactly as planned; a spec is planned first (with the
    overrides ``out``, ``limit``, ``device``, against ``host``). ``models`` maps labels to model
    objects from your own code (VLModels), registered as ``local/<label>`` and evaluated with the
    spec's models (whose list may then be empty or absent). The datasets and the output
    directory are checked, every pending cell runs, and the reporters write results.json,
    report.md and report.html. Under torchrun every rank runs its share of each cell and rank 0
    merges the records and reports. Nothing is written before the checks pass, so bad input
    leaves an existing run untouched."""
    if isinstance(spec, Plan):
        if (out, limit, device, host, models) != (None, None, None, None, None):
            raise SpecError("evaluate(plan) runs the plan as it is; pass out/limit/device/host "
                            "to plan(), and register model objects with mmeval.register_model")
        the_plan = spec
    else:
        if models:
            from .models.in_memory import with_models

            host = host or get_host()
            spec = with_models(spec, models, host)
        the_plan = plan(spec, host, limit=limit, device=device, out=out)
    with building(the_plan.host):
        return _execute(the_plan)


def _execute(the_plan: Plan) -> RunResult:
    spec, host, run = the_plan.spec, the_plan.host, the_plan.spec.run
    dev = local_device(resolve_device(run.device))
    run_dir = the_plan.run_dir
    prepare_run_dir(run_dir)
    if run.progress and os.environ.get("RANK", "0") == "0":
        tasks = len({c.task.index for c in the_plan.cells})
        phase(f"{len(the_plan.cells)} cell(s) over {tasks} task(s) into {run_dir}; loading "
              "the datasets")
    datasets = load_datasets(the_plan)
    ranks = world(dev)
    try:
        with contextlib.ExitStack() as stack:
            if ranks.main:
                stack.enter_context(run_lock(run_dir))
                store = stack.enter_context(Store(run_dir))
                store.merge_shards()  # records a killed distributed run left in rank journals
                store.set_meta(spec=spec.canonical(), spec_hash=spec.spec_hash(),
                               cells=[c.id for c in the_plan.cells],
                               warnings=[*the_plan.warnings, *_unplanned(store, the_plan)],
                               versions={"mmeval": __version__, **host.versions()},
                               environment=_environment(dev, ranks.size), seed=run.seed)
                host.notify("mmeval_run_start", RunStartEvent(
                    run_dir, spec.canonical(), tuple(c.id for c in the_plan.cells)))
            ranks.barrier()
            if not ranks.main:  # opened once rank 0 has created the journal
                store = stack.enter_context(Store(run_dir, create=False))
            with contextlib.ExitStack() as shard_stack:
                shard = (shard_stack.enter_context(Store(run_dir, name=shard_name(ranks.rank)))
                         if ranks.distributed else store)
                _Runner(the_plan, store, shard, dev, ranks, datasets).run()
            ranks.barrier()
            if ranks.main:
                store.merge_shards()
                store.seal()
                typed = report(host, store, the_plan.metrics, run_dir)
            # every rank returns rank 0's results, whatever the reporters wrote
            results = ranks.gather(typed.to_json() if ranks.main else None)[0]
    finally:
        ranks.close()
    if ranks.main:
        host.notify("mmeval_run_end", RunEndEvent(run_dir, typed))
    return RunResult(run_dir, results)


def _unplanned(store: Store, the_plan: Plan) -> list[str]:
    """A warning when the journal holds cells this plan does not: an earlier spec's, or cells
    whose inputs (weights, data) have changed since, which are kept and never mixed in."""
    planned = {c.id for c in the_plan.cells}
    others = [row["cell_id"] for row in store.cells() if row["cell_id"] not in planned]
    if not others:
        return []
    return [f"this run directory also holds {len(others)} cell(s) this spec does not plan: an "
            "earlier spec's, or cells whose inputs (checkpoint, model directory or dataset "
            "files) have changed since; they are kept in the journal and not reported"]


def load_datasets(the_plan: Plan) -> dict[int, Subset]:
    """Build every task's dataset and check what is cheap to check before any compute: not
    empty, unique sample ids, and a first sample in range."""
    out: dict[int, Subset] = {}
    for task in {c.task.index: c.task for c in the_plan.cells}.values():
        where = task.dataset.path
        try:
            dataset = task.dataset.build()
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        if len(dataset) == 0:
            raise DataError(f"{where}: dataset '{task.dataset.name}' has no samples; check its "
                            "root / annotation")
        seed = int(stable_hash({"seed": the_plan.spec.run.seed,
                                "dataset": task.dataset.definition()}, 8), 16)
        chosen = Subset(dataset, select(dataset, task.limit, task.sampling, seed))
        if hasattr(dataset, "sample_id"):
            ids = [chosen.sample_id(i) for i in range(len(chosen))]
            if len(set(ids)) != len(ids):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise DataError(f"{where}: dataset '{task.dataset.name}' repeats sample id "
                                f"'{dup}'; ids must be unique and stable")
        check_batch(Batch.collate([chosen[0]]), chosen.class_names, where)
        out[task.index] = chosen
    return out


def check_batch(batch: Batch, class_names: Sequence[str] | None, where: str) -> None:
    """DataError unless ``batch`` holds a signal within its bounds ([0, 1] images, [-1, 1] audio)
    and labels within ``class_names``."""
    try:
        check_signal(batch.modality, batch.signal)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    if batch.labels is not None and class_names is not None:
        bad = [int(v) for v in batch.labels.tolist() if not 0 <= v < len(class_names)]
        if bad:
            raise DataError(f"{where}: label {bad[0]} does not index the dataset's "
                            f"{len(class_names)} class names; labels must be 0..{len(class_names) - 1}")


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass(frozen=True)
class _Crafter:
    """The model an attack runs on and the objective prepared for it (the cell's own model, or a
    transfer attack's source)."""

    model: VLModel
    objective: Objective
    #: what per-sample attack seeds derive from (the cell, or for transfer what crafts the points)
    seed_key: str
    #: the model's parameters and buffers when the cell started (no attack may change them)
    state: ModelState
    #: the lifecycle key of a transfer source (rebuilt if an attack changed it), else None
    source: str | None = None


class _Runner:
    def __init__(self, the_plan: Plan, store: Store, shard: Store, device: torch.device,
                 ranks: World, datasets: dict[int, Subset]) -> None:
        self.plan, self.store, self.shard, self.device = the_plan, store, shard, device
        self.ranks, self.datasets = ranks, datasets
        self.settings = the_plan.spec.run
        self.say = phase if self.settings.progress and ranks.main else (lambda message: None)
        self.models = Lifecycle(self.settings, device, self.say)

    def total(self, cell: Cell) -> int:
        return len(self.datasets[cell.task.index])

    def run(self) -> None:
        """Register every cell, then per (model, defense): build the model once, run its gates,
        run its cells."""
        by_model: dict[tuple[int, str | None], list[Cell]] = {}
        for cell in self.plan.cells:
            by_model.setdefault((cell.model_index, cell.defense.path if cell.defense else None),
                                []).append(cell)
            if self.ranks.main:
                self.store.register_cell(cell.id, group=cell.group, info=cell.info.to_json(),
                                         definition=cell.definition(), total=self.total(cell))
        gated = {(c["gate"], c["group"]) for c in self.store.checks()}
        for cells in by_model.values():
            pending = {c.id: self.store.completed(c.id) for c in cells}
            gates = checks.model_gates(cells, self.settings.checks, gated) if self.ranks.main else []
            model: VLModel | BaseException | None = None
            if gates or any(len(pending[c.id]) < self.total(c) for c in cells):
                self.say(f"loading model {cells[0].info.model} (defense {cells[0].info.defense})")
                try:
                    model = self.models.build(cells[0].model, cells[0].defense)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # a SystemExit from a model's code fails its cells
                    model = exc
            if gates and not isinstance(model, BaseException):
                self.say(f"running {len(gates)} sanity gate(s) on {cells[0].info.model}: "
                         + ", ".join(dict.fromkeys(g for g, _, _ in gates)))
                self._run_gates(model, gates)  # type: ignore[arg-type]
            for cell in cells:
                if self._cell(cell, model, pending[cell.id]):
                    model = self._rebuild(cell, model)
            self.models.release()

    def _rebuild(self, cell: Cell, model: VLModel | BaseException | None
                 ) -> VLModel | BaseException | None:
        """After an attack changed a model: the cell's model rebuilt (its prepared objectives
        dropped), or for a transfer cell its source dropped, to be rebuilt when next used."""
        if cell.info.role == "transfer":
            assert cell.attack.source is not None
            self.models.forget_source(cell.attack.source)
            return model
        self.models.forget(model_key(cell.model, cell.defense))
        self.say(f"rebuilding model {cell.info.model}: an attack changed its weights")
        try:
            return self.models.build(cell.model, cell.defense)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return exc

    def _cell(self, cell: Cell, model: VLModel | BaseException | None,
              done: set[str]) -> bool:
        """Run ``cell``'s pending samples; record its status (gathered from every rank). True
        when an attack changed the model, which must then be rebuilt."""
        status, error, tampered = "done", None, False
        try:
            if len(done) < self.total(cell):
                if isinstance(model, BaseException):
                    raise model
                assert model is not None
                self._run_cell(cell, model, done)
        except (KeyboardInterrupt, StoreError):
            raise  # the user stops the run; a journal that cannot be written ends it
        except BaseException as exc:  # SystemExit and the like from component code too
            if self.settings.fail_fast and not self.ranks.distributed:
                if isinstance(exc, Exception):
                    raise
                raise RuntimeError(f"cell '{cell.label}' failed: {_describe(exc)}") from exc
            status, error, tampered = "failed", _describe(exc), isinstance(exc, ModelTampered)
        outcomes = self.ranks.gather((status, error))
        errors = [(r, e) for r, (s, e) in enumerate(outcomes) if s == "failed"]
        if errors and self.settings.fail_fast:
            raise RuntimeError(f"cell '{cell.label}' failed: {errors[0][1]}")
        if self.ranks.main:
            if self.ranks.distributed and errors:
                error = "; ".join(f"rank {r}: {e}" for r, e in errors)
            status, error = ("failed", error) if errors else ("done", None)
            self.store.set_status(cell.id, status, error)
            self.plan.host.notify("mmeval_cell_end", CellEndEvent(
                self.plan.run_dir, cell.id, cell.label, status, error))
        return tampered

    def _run_gates(self, model: VLModel, gates: list[tuple[str, Cell, list[str]]]) -> None:
        """Run the model gates (rank 0) and journal each; a gate that cannot run is ``skipped``."""
        settings = self.settings.checks
        key = model_key(gates[0][1].model, gates[0][1].defense)
        for gate, cell, concerned in gates:
            dataset = self.datasets[cell.task.index]
            try:
                if gate == "stochastic":
                    n = min(8, len(dataset))
                    sample = Batch.collate([dataset[i] for i in range(n)]).to(self.device)
                    outcome = checks.stochastic_gate(model, sample, concerned)
                else:
                    objective = self.models.objective(key, model, cell.task, dataset)
                    outcome = checks.masking_gate(model, objective, dataset, self.settings.seed,
                                                  settings, self.device, concerned)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                outcome = checks.result(gate, "skipped", f"could not run: {_describe(exc)}",
                                        concerned)
            self.store.set_check(cell.group, outcome)

    def _crafter(self, cell: Cell, model: VLModel, objective: Objective,
                 dataset: Dataset) -> _Crafter:
        """What the attack runs on: the cell's model, or for a transfer cell its source model,
        seeded by what crafts the points so every target scores the same adversarial inputs."""
        if cell.info.role != "transfer":
            return _Crafter(model, objective, cell.id, ModelState(model))
        assert cell.attack.source is not None
        key, source = self.models.source(cell.attack.source)
        seed_key = "t-" + stable_hash({k: v for k, v in cell.definition().items()
                                       if k not in ("model", "defense")})
        return _Crafter(source, self.models.objective(key, source, cell.task, dataset), seed_key,
                        ModelState(source), key)

    def _run_cell(self, cell: Cell, model: VLModel, done: set[str]) -> None:
        if self.ranks.main:
            self.store.set_status(cell.id, "running")
        dataset = self.datasets[cell.task.index]
        total = len(dataset)
        todo = self.ranks.shard([i for i in range(total) if dataset.sample_id(i) not in done])
        key = model_key(cell.model, cell.defense)
        objective = self.models.objective(key, model, cell.task, dataset)
        attack = cell.attack.build()
        crafter = self._crafter(cell, model, objective, dataset)
        size = self.models.batch_size(cell, crafter.model, crafter.objective, dataset)
        loader = DataLoader(_Batches(dataset, list(_chunks(todo, size))), batch_size=None,
                            num_workers=self.settings.workers,
                            pin_memory=self.device.type == "cuda")
        where = cell.task.dataset.path
        bar = progress(total=total, initial=len(done), desc=cell.label, unit="sample",
                       enabled=self.settings.progress and self.ranks.main)
        initial, mine = len(done), 0
        limit = self.settings.timeout.cell
        cell_end = None if limit is None else time.monotonic() + limit
        try:
            for batch in loader:
                t0 = time.perf_counter()
                if len(set(batch.sample_ids)) != len(batch) or done & set(batch.sample_ids):
                    raise DataError(f"{where}: dataset '{cell.task.dataset.name}' yields "
                                    "duplicate sample ids; ids must be unique and stable")
                check_batch(batch, dataset.class_names, where)
                batch = batch.to(self.device, non_blocking=True)
                with self._deadline(cell, len(batch), cell_end):
                    records = self._records(cell, model, objective, attack, batch, crafter)
                self.shard.append(records)
                done |= set(batch.sample_ids)
                mine += len(batch)
                bar.update(len(batch) * self.ranks.size)
                if self.ranks.main:
                    self.plan.host.notify("mmeval_batch_end", BatchEndEvent(
                        self.plan.run_dir, cell.id, min(total, initial + mine * self.ranks.size),
                        total, len(batch), time.perf_counter() - t0))
        finally:
            bar.close()

    def _deadline(self, cell: Cell, n: int,
                  cell_end: float | None) -> contextlib.AbstractContextManager[None]:
        """The time limit of the next batch: ``run.timeout.batch``, or what is left of the
        cell's ``run.timeout.cell`` if that is sooner."""
        limits, attack = self.settings.timeout, cell.attack.name
        left = None if cell_end is None else cell_end - time.monotonic()
        if left is None and limits.batch is None:
            return contextlib.nullcontext()
        if left is not None and (limits.batch is None or left < limits.batch):
            return deadline(left, f"cell '{cell.label}' ran past run.timeout.cell "
                            f"({limits.cell:g} s) in attack '{attack}'; its batches committed "
                            "before are kept: raise the limit and re-run to resume")
        return deadline(limits.batch, f"a batch of {n} samples ran past run.timeout.batch "
                        f"({limits.batch:g} s) in attack '{attack}' (cell '{cell.label}'); the "
                        "batches committed before are kept: raise the limit or lower "
                        "run.batch_size and re-run to resume")

    def _records(self, cell: Cell, model: VLModel, objective: Objective, attack: Any,
                 batch: Batch, crafter: _Crafter) -> list[SampleRecord]:
        """Score ``batch`` clean, attack it on the crafter, score the result in fp32 (and at the
        attack precision), and make its records."""
        precision = self.settings.precision
        seeds = [sample_seed(self.settings.seed, crafter.seed_key, s) for s in batch.sample_ids]
        rng = BatchRandom(seeds, self.device)
        with torch.no_grad():
            clean = objective.evaluate(model, batch.signal, batch)
        with autocast(self.device, precision), compiled_steps(compile_mode(self.settings.compile)):
            out = attack(crafter.model, batch, crafter.objective, rng)
        if changed := crafter.state.changed(crafter.model):
            raise ModelTampered(
                f"attack '{cell.attack.name}' changed the {'source ' if crafter.source else ''}"
                f"model's parameters or buffers in place ({', '.join(changed[:3])}"
                f"{', ...' if len(changed) > 3 else ''}); this cell's batches from before are "
                "kept, the model is rebuilt for the next cell: an attack must not modify the model")
        adv_signal = out.signal(batch.modality)
        adv_signal = batch.signal if adv_signal is None else adv_signal
        adv_batch = replace(batch, texts=batch.texts if out.texts is None else out.texts,
                            prompts=out.prompts)
        with torch.no_grad():  # final success is always judged in fp32
            adv = objective.evaluate(model, adv_signal, adv_batch)
            low = None
            if precision != "fp32":
                with autocast(self.device, precision):
                    low = objective.evaluate(model, adv_signal, adv_batch).correct.tolist()
        transfer = (cell.info.source, cell.info.model) if cell.info.role == "transfer" else None
        clean_prompts = objective.prompts if out.prompts is not None else ()  # type: ignore[attr-defined]
        records = make_records(cell.id, batch, Scored(clean, adv, adv_signal, out, low),
                               precision=precision, clean_prompts=clean_prompts, transfer=transfer)
        if self.ranks.main and self.settings.examples:
            examples.save(self.plan.run_dir, cell.id, batch, adv_signal, records,
                          getattr(objective, "class_names", None) or None, clean_prompts,
                          self.settings.examples)
        return records


class _Batches(torch.utils.data.Dataset):
    """Chunks of dataset indices as collated batches (what the runner's DataLoader iterates)."""

    def __init__(self, dataset: Dataset, chunks: list[Sequence[int]]) -> None:
        self.dataset, self.chunks = dataset, chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, index: int) -> Batch:
        return Batch.collate([self.dataset[i] for i in self.chunks[index]])


def _describe(exc: BaseException) -> str:
    """One line saying what ``exc`` was and, for an unexpected one, where it was raised."""
    if isinstance(exc, MmevalError):
        return one_line(f"{type(exc).__name__}: {exc}")
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
    if not isinstance(exc, Exception):  # SystemExit, GeneratorExit, a BaseException of its own
        where += "; component code tried to end the process, which fails only its cell"
    return one_line(f"{type(exc).__name__}: {exc}{where}")
