"""The runner: per cell, per batch — clean forward, attack, adversarial forward, records appended to
the journal in one transaction. Re-running into the same directory resumes: completed
(cell, sample) pairs are skipped. A cell that raises is recorded as failed and the run goes on."""

from __future__ import annotations

import contextlib
import json
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

from . import __version__, checks
from .attacks.base import attack_mode, check_images
from .autobatch import auto_batch_size
from .compilation import compile_image_side, compile_mode
from .data import Head
from .distributed import World, local_device, world
from .errors import DataError, MmevalError, SpecError
from .hookspecs import BatchEndEvent, CellEndEvent, RunEndEvent, RunStartEvent
from .planning import Cell, Plan, Resolved, plan
from .plugins import PluginHost
from .progress import progress
from .protocols import Dataset, VLModel
from .report import write_outputs
from .seeding import BatchRandom, sample_seed
from .spec import ChecksSettings, EvalSpec, stable_hash, validate_spec
from .store import Store, prepare_run_dir, run_lock, shard_name
from .types import Batch, MetricValue, Outcome, SampleRecord

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


def with_overrides(spec: EvalSpec, limit: int | None, device: str | None,
                   out: str | Path | None) -> EvalSpec:
    """``spec`` with the command line's ``--limit``, ``--device`` and ``--out`` applied."""
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
) -> RunResult:
    """Plan ``spec`` (no compute), check its datasets and output directory, run every pending
    cell, write results.json and report.md. Under torchrun every rank runs its share of each cell
    and rank 0 merges the records and writes the outputs. Nothing is written before the checks
    pass, so bad input leaves an existing run untouched."""
    spec_obj = spec.spec if isinstance(spec, Plan) else validate_spec(spec)
    host = spec.host if isinstance(spec, Plan) else host
    spec_obj = with_overrides(spec_obj, limit, device, out)
    the_plan = plan(spec_obj, host)
    run = spec_obj.run
    dev = local_device(resolve_device(run.device))
    run_dir = spec_obj.resolved_output_dir()
    prepare_run_dir(run_dir)
    datasets = _datasets(the_plan)
    ranks = world(dev)
    try:
        with contextlib.ExitStack() as stack:
            if ranks.main:
                stack.enter_context(run_lock(run_dir))
                store = stack.enter_context(Store(run_dir))
                store.merge_shards()  # records a killed distributed run left in rank journals
                store.set_meta(spec=spec_obj.canonical(), spec_hash=spec_obj.spec_hash(),
                               cells=[c.id for c in the_plan.cells], warnings=the_plan.warnings,
                               versions={"mmeval": __version__, **the_plan.host.versions()},
                               environment=_environment(dev, ranks.size), seed=run.seed)
                the_plan.host.hook.mmeval_run_start(event=RunStartEvent(
                    run_dir, spec_obj.canonical(), tuple(c.id for c in the_plan.cells)))
            ranks.barrier()
            if not ranks.main:  # opened once rank 0 has created the journal
                store = stack.enter_context(Store(run_dir, create=False))
            if ranks.distributed:
                with Store(run_dir, name=shard_name(ranks.rank)) as shard:
                    _Runner(the_plan, store, shard, dev, run_dir, ranks, datasets).run()
            else:
                _Runner(the_plan, store, store, dev, run_dir, ranks, datasets).run()
            ranks.barrier()
            if ranks.main:
                store.merge_shards()
                results = write_outputs(store, the_plan.host, run_dir)
            ranks.barrier()
        if not ranks.main:
            results = json.loads((run_dir / "results.json").read_text())
    finally:
        ranks.close()
    if ranks.main:
        the_plan.host.hook.mmeval_run_end(event=RunEndEvent(run_dir, results))
    return RunResult(run_dir, results)


def _datasets(the_plan: Plan) -> dict[int, Dataset]:
    """Build every task's dataset and check what is cheap to check before any compute: not
    empty, unique sample ids, and a first sample in range."""
    out: dict[int, Dataset] = {}
    for task in {c.task.index: c.task for c in the_plan.cells}.values():
        where = f"tasks[{task.index}].dataset"
        dataset = task.dataset.build()
        if len(dataset) == 0:
            raise DataError(f"{where}: dataset '{task.dataset.name}' has no samples; check its "
                            "root / annotation")
        head = Head(dataset, task.limit or len(dataset))
        if hasattr(dataset, "sample_id"):
            ids = [head.sample_id(i) for i in range(len(head))]
            if len(set(ids)) != len(ids):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise DataError(f"{where}: dataset '{task.dataset.name}' repeats sample id "
                                f"'{dup}'; ids must be unique and stable")
        check_batch(Batch.collate([head[0]]), head.class_names, where)
        out[task.index] = dataset
    return out


def check_batch(batch: Batch, class_names: Sequence[str] | None, where: str) -> None:
    """DataError unless ``batch`` holds [0, 1] images and labels within ``class_names``."""
    try:
        check_images(batch.images)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    if batch.labels is not None and class_names is not None:
        bad = [int(v) for v in batch.labels.tolist() if not 0 <= v < len(class_names)]
        if bad:
            raise DataError(f"{where}: label {bad[0]} does not index the dataset's "
                            f"{len(class_names)} class names; labels must be 0..{len(class_names) - 1}")


def _model_gates(cells: Sequence[Cell], settings: ChecksSettings,
                 gated: set[tuple[str, str]]) -> list[tuple[str, Cell, list[str]]]:
    """The model gates still to run for one model's cells, each with a cell to run it on and the
    cells it concerns: ``stochastic`` once per model (attacks with EOT are exempt), and
    ``gradient-masking`` per classification task attacked white-box with gradients."""
    out: list[tuple[str, Cell, list[str]]] = []
    attacked = [c for c in cells if c.attack.name != "clean"]
    if settings.stochastic and attacked and ("stochastic", cells[0].group) not in gated:
        out.append(("stochastic", cells[0], [c.id for c in attacked
                                             if getattr(c.attack.params, "eot_iter", 1) <= 1]))
    if settings.gradient_masking:
        groups: dict[str, list[Cell]] = {}
        for c in attacked:
            eps = getattr(c.attack.params, "eps", None)
            if (c.attack.source is None and (eps is None or eps > 0)
                    and getattr(c.attack.component.load(), "uses_gradients", False)
                    and getattr(c.task.objective.component.load(), "kind", "") == "classification"):
                groups.setdefault(c.group, []).append(c)
        out += [("gradient-masking", members[0], [c.id for c in members])
                for group, members in groups.items() if ("gradient-masking", group) not in gated]
    return out


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Runner:
    def __init__(self, the_plan: Plan, store: Store, shard: Store, device: torch.device,
                 run_dir: Path, ranks: World, datasets: dict[int, Dataset]) -> None:
        self.plan, self.store, self.shard, self.device = the_plan, store, shard, device
        self.run_dir, self.ranks, self.datasets = run_dir, ranks, datasets
        self.settings = the_plan.spec.run
        self.sources: dict[str, VLModel] = {}
        self.objectives: dict[tuple[int, int, str], Any] = {}

    def total(self, cell: Cell) -> int:
        dataset = self.datasets[cell.task.index]
        return min(len(dataset), cell.task.limit or len(dataset))

    def run(self) -> None:
        by_model: dict[tuple[int, str | None], list[Cell]] = {}
        for cell in self.plan.cells:
            key = (cell.model_index, cell.defense.path if cell.defense else None)
            by_model.setdefault(key, []).append(cell)
            if self.ranks.main:
                self._register(cell, self.total(cell))
        gated = {(c["gate"], c["group"]) for c in self.store.checks()}
        for cells in by_model.values():
            pending = {c.id: self.store.completed(c.id) for c in cells}
            gates = _model_gates(cells, self.settings.checks, gated) if self.ranks.main else []
            model: VLModel | Exception | None = None
            if gates or any(len(pending[c.id]) < self.total(c) for c in cells):
                try:
                    model = self._build(cells[0].model, cells[0].defense)
                except Exception as exc:
                    model = exc
            if gates and not isinstance(model, Exception):
                self._run_gates(model, gates)  # type: ignore[arg-type]
            for cell in cells:
                self._cell(cell, model, pending[cell.id])
            self.objectives = {k: v for k, v in self.objectives.items()
                               if any(k[0] == id(m) for m in self.sources.values())}

    def _cell(self, cell: Cell, model: VLModel | Exception | None, done: set[str]) -> None:
        status, error = "done", None
        try:
            if len(done) < self.total(cell):
                if isinstance(model, Exception):
                    raise model
                assert model is not None
                self._run_cell(cell, model, done)
        except Exception as exc:
            if self.settings.fail_fast and not self.ranks.distributed:
                raise
            status, error = "failed", _describe(exc)
        outcomes = self.ranks.gather((status, error))
        errors = [(r, e) for r, (s, e) in enumerate(outcomes) if s == "failed"]
        if errors and self.settings.fail_fast:
            raise RuntimeError(f"cell '{cell.label}' failed: {errors[0][1]}")
        if self.ranks.main:
            if self.ranks.distributed and errors:
                error = "; ".join(f"rank {r}: {e}" for r, e in errors)
            self._end(cell, "failed" if errors else "done", error if errors else None)

    def _register(self, cell: Cell, total: int) -> None:
        self.store.register_cell(
            cell.id, group=cell.group, label=cell.label, model=cell.model.label,
            defense=cell.defense.label if cell.defense else "none", task=cell.task.label,
            attack=cell.attack.label, definition=cell.definition(), total=total)

    def _end(self, cell: Cell, status: str, error: str | None) -> None:
        self.store.set_status(cell.id, status, error)
        self.plan.host.hook.mmeval_cell_end(
            event=CellEndEvent(self.run_dir, cell.id, cell.label, status, error))

    def _run_gates(self, model: VLModel, gates: list[tuple[str, Cell, list[str]]]) -> None:
        """Run the model gates (rank 0) and journal each; a gate that cannot run is ``skipped``."""
        settings = self.settings.checks
        for gate, cell, concerned in gates:
            dataset = Head(self.datasets[cell.task.index], self.total(cell))
            try:
                if gate == "stochastic":
                    n = min(8, len(dataset))
                    images = Batch.collate([dataset[i] for i in range(n)]).images.to(self.device)
                    outcome = checks.stochastic_gate(model, images, concerned)
                else:
                    objective = self._objective(cell, model, dataset)
                    outcome = checks.masking_gate(model, objective, dataset, self.settings.seed,
                                                  settings, self.device, concerned)
            except Exception as exc:
                outcome = checks.result(gate, "skipped", f"could not run: {_describe(exc)}",
                                        concerned)
            self.store.set_check(cell.group, outcome)

    def _objective(self, cell: Cell, model: VLModel, dataset: Dataset) -> Any:
        """The task's objective prepared for ``model`` (class-prompt or gallery embeddings), once
        per model and task: every attack of the task reuses it."""
        key = (id(model), cell.task.index, stable_hash(cell.task.objective.definition()))
        if key not in self.objectives:
            objective = cell.task.objective.build()
            objective.prepare(model, dataset)
            self.objectives[key] = objective
        return self.objectives[key]

    def _batch_size(self, cell: Cell, crafter: _Crafter, dataset: Dataset) -> int:
        """``run.batch_size``, or for ``auto`` the largest batch whose attack gradient step fits
        (probed on copies of the first sample, cached per model, defense, task and precision)."""
        if self.settings.batch_size != "auto":
            return self.settings.batch_size
        sample = dataset[0]

        def step(n: int) -> None:
            batch = Batch.collate([sample] * n).to(self.device)
            with attack_mode(crafter.model), autocast(self.device, self.settings.precision):
                x = batch.images.clone().requires_grad_(True)
                loss = crafter.objective.loss(crafter.model, x, batch).sum()
                torch.autograd.grad(loss, x)

        definition = cell.definition()
        key = {k: definition[k] for k in ("model", "defense", "dataset", "objective")}
        if cell.attack.source is not None:
            key["model"] = cell.attack.source.definition()
        return auto_batch_size({**key, "precision": self.settings.precision}, self.device, step)

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
        mode = compile_mode(self.settings.compile)
        return compile_image_side(model, mode) if mode else model

    def _run_cell(self, cell: Cell, model: VLModel, done: set[str]) -> None:
        if self.ranks.main:
            self.store.set_status(cell.id, "running")
        total = self.total(cell)
        dataset = Head(self.datasets[cell.task.index], total)
        todo = self.ranks.shard([i for i in range(total) if dataset.sample_id(i) not in done])
        objective = self._objective(cell, model, dataset)
        attack = cell.attack.build()
        crafter = _Crafter(model, objective, cell.id)
        if cell.attack.source is not None:  # transfer: crafted on the source, scored on the model
            source = self._source_model(cell.attack.source)
            # seeded by what crafts the points, so every target scores the same adversarial inputs
            key = "t-" + stable_hash({k: v for k, v in cell.definition().items()
                                      if k not in ("model", "defense")})
            crafter = _Crafter(source, self._objective(cell, source, dataset), key)
        bar = progress(total=total, initial=len(done), desc=cell.label, unit="sample",
                       enabled=self.settings.progress and self.ranks.main)
        where = f"tasks[{cell.task.index}].dataset"
        size = self._batch_size(cell, crafter, dataset)
        loader = DataLoader(_Batches(dataset, list(_chunks(todo, size))), batch_size=None,
                            num_workers=self.settings.workers,
                            pin_memory=self.device.type == "cuda")
        try:
            for batch in loader:
                t0 = time.perf_counter()
                if len(set(batch.sample_ids)) != len(batch) or done & set(batch.sample_ids):
                    raise DataError(f"{where}: dataset '{cell.task.dataset.name}' yields "
                                    "duplicate sample ids; ids must be unique and stable")
                check_batch(batch, dataset.class_names, where)
                batch = batch.to(self.device, non_blocking=True)
                self.shard.append(self._batch_records(cell, model, objective, attack, batch,
                                                      crafter))
                done |= set(batch.sample_ids)
                bar.update(len(batch) * self.ranks.size)
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
        with torch.no_grad():  # final success is always judged in fp32
            adv = objective.evaluate(model, adv_images, adv_batch)
            low = None
            if self.settings.precision != "fp32":
                with autocast(self.device, self.settings.precision):
                    low = objective.evaluate(model, adv_images, adv_batch).correct.tolist()
        delta = (adv_images - batch.images).flatten(1).float()
        linf, l2 = delta.abs().amax(dim=1).tolist(), delta.norm(dim=1).tolist()
        labels = batch.labels.tolist() if batch.labels is not None else [None] * len(batch)
        cp, ap = clean.pred.tolist(), adv.pred.tolist()
        cc, ac = clean.correct.tolist(), adv.correct.tolist()
        extras: list[dict[str, Any]] = [{} for _ in range(len(batch))]
        if low is not None:  # keep the attack-precision verdict where the fp32 re-check differs
            for i, (lp, fp) in enumerate(zip(low, ac, strict=True)):
                if lp != fp:
                    extras[i][f"adv_correct_{self.settings.precision}"] = lp
        for i, (c_ok, a_ok) in enumerate(zip(_finite(clean, len(batch)), _finite(adv, len(batch)),
                                             strict=True)):
            if not (c_ok and a_ok):  # flagged, never counted as correct or fooled
                extras[i][checks.NON_FINITE] = "+".join(
                    k for k, ok in (("clean", c_ok), ("adv", a_ok)) if not ok)
                cc[i] = ac[i] = False
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


class _Batches(torch.utils.data.Dataset):
    """Chunks of dataset indices as collated batches (what the runner's DataLoader iterates)."""

    def __init__(self, dataset: Dataset, chunks: list[Sequence[int]]) -> None:
        self.dataset, self.chunks = dataset, chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, index: int) -> Batch:
        return Batch.collate([self.dataset[i] for i in self.chunks[index]])


@dataclass(frozen=True)
class _Crafter:
    """The model an attack runs on and the objective prepared for it (the cell's own model, or a
    transfer attack's source)."""

    model: VLModel
    objective: Any
    #: what per-sample attack seeds derive from (the cell, or for transfer what crafts the points)
    seed_key: str


def _finite(outcome: Outcome, n: int) -> list[bool]:
    return [True] * n if outcome.finite is None else outcome.finite.tolist()


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
