"""The model lifecycle of a run: each model is built once per (model, defense) with the defense
applied, moved to the device, in eval mode and compiled if asked; the models transfer attacks
craft on are built once per run; each task's objective is prepared (class-prompt or gallery
embeddings) once per model and task and shared by every attack of the task. Caches are keyed by
the cells' resolved definitions, never by object identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .attacks.base import attack_mode
from .autobatch import auto_batch_size
from .compilation import compile_image_side, compile_mode
from .devices import autocast
from .errors import DataError
from .planning import Cell, Resolved, Task
from .protocols import AudioSpec, Dataset, Objective, VLModel
from .spec import RunSettings, stable_hash
from .types import Batch


def model_key(model: Resolved, defense: Resolved | None) -> str:
    """What identifies a built model: its definition and its defense's."""
    return "m-" + stable_hash({"model": model.definition(),
                               "defense": defense.definition() if defense else None})


class Lifecycle:
    def __init__(self, settings: RunSettings, device: torch.device,
                 say: Callable[[str], None] = lambda message: None) -> None:
        self.settings, self.device, self.say = settings, device, say
        self.sources: dict[str, VLModel] = {}
        self.objectives: dict[tuple[str, int], Objective] = {}

    def build(self, model: Resolved, defense: Resolved | None) -> VLModel:
        built = model.build()
        if defense is not None:
            built = defense.build().apply(built)
        if isinstance(built, torch.nn.Module):
            built = built.to(self.device)
        built.eval()
        mode = compile_mode(self.settings.compile)
        return compile_image_side(built, mode) if mode else built

    def source(self, source: Resolved) -> tuple[str, VLModel]:
        """The model a transfer attack is crafted on (built once per run) and its key."""
        key = model_key(source, None)
        if key not in self.sources:
            self.sources[key] = self.build(source, None)
        return key, self.sources[key]

    def objective(self, key: str, model: VLModel, task: Task, dataset: Dataset) -> Objective:
        """``task``'s objective prepared for the model ``key`` names, once per model and task."""
        if (key, task.index) not in self.objectives:
            check_sample_rate(model, task, dataset)
            self.say(f"preparing {task.objective.name} on task {task.label} (embedding its "
                     "prompts or captions once for this model)")
            objective = task.objective.build()
            objective.prepare(model, dataset)
            self.objectives[(key, task.index)] = objective
        return self.objectives[(key, task.index)]

    def forget(self, key: str) -> None:
        """Drop what was prepared for the model ``key`` names (it is being rebuilt)."""
        self.objectives = {k: v for k, v in self.objectives.items() if k[0] != key}

    def forget_source(self, source: Resolved) -> None:
        """Drop the transfer source ``source`` (built again when next used)."""
        key = model_key(source, None)
        self.sources.pop(key, None)
        self.forget(key)

    def release(self) -> None:
        """Drop the prepared objectives of every model but the transfer sources (called when a
        model's cells are done)."""
        self.objectives = {k: v for k, v in self.objectives.items() if k[0] in self.sources}

    def batch_size(self, cell: Cell, model: VLModel, objective: Objective, dataset: Dataset) -> int:
        """``run.batch_size``, or for ``auto`` the largest batch whose attack gradient step fits
        (probed on copies of the first sample, cached per model, defense, task and precision)."""
        if self.settings.batch_size != "auto":
            return self.settings.batch_size
        sample = dataset[0]

        def step(n: int) -> None:
            batch = Batch.collate([sample] * n).to(self.device)
            with attack_mode(model), autocast(self.device, self.settings.precision):
                x = batch.signal.clone().requires_grad_(True)
                loss = objective.loss(model, x, batch).sum()
                torch.autograd.grad(loss, x)

        definition: dict[str, Any] = cell.definition()
        key = {k: definition[k] for k in ("model", "defense", "dataset", "objective")}
        if cell.attack.source is not None:
            key["model"] = cell.attack.source.definition()
        return auto_batch_size({**key, "precision": self.settings.precision}, self.device, step)


def check_sample_rate(model: VLModel, task: Task, dataset: Dataset) -> None:
    """DataError unless an audio task's sample rate is the one the model's audio side takes:
    waveforms are never resampled behind the user's back."""
    spec = getattr(model, "input_specs", {}).get(task.modality)
    if not isinstance(spec, AudioSpec) or not len(dataset):
        return
    rate = dataset[0].sample_rate
    if rate != spec.sample_rate:
        raise DataError(f"{task.dataset.path}: dataset '{task.dataset.name}' gives {rate} Hz "
                        f"audio, but the model takes {spec.sample_rate} Hz; give the dataset "
                        f"that sample rate (e.g. sample_rate: {spec.sample_rate}) or resample it "
                        "(mmeval does not)")
