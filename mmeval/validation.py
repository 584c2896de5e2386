"""What ``mmeval validate`` checks, in the order a run would meet it, without opening a journal
and without running an attack (docs/reliability.md lists each check and its test):

1. ``plan()``: the spec, every name and params block, capability flags, stage trees, objective vs
   dataset kind, and each component's ``preflight`` (dataset roots and layouts, model
   directories and tokenizer files, open_clip tags in the local cache, checkpoint shapes). This
   reads declarations only, so plain ``mmeval validate`` imports no model library.
2. with ``--deep`` (:func:`validate`): every dataset built and its first sample checked
   (``load_datasets``);
3. and every model (with its defense) and transfer source built on the CPU, each task's
   objective prepared on it and the first sample scored clean."""

from __future__ import annotations

import torch

from .attacks.compose import building
from .data import head
from .errors import DataError, MmevalError, ModelLoadError
from .lifecycle import Lifecycle, model_key
from .planning import Plan, Resolved
from .runner import load_datasets
from .types import Batch


def validate(the_plan: Plan) -> None:
    """Raise the MmevalError a run of ``the_plan`` would meet before its first attack, beyond
    what ``plan()`` checks (levels 2 and 3 above)."""
    with building(the_plan.host):
        datasets = load_datasets(the_plan)
        settings = the_plan.spec.run.model_copy(update={"compile": False})
        life = Lifecycle(settings, torch.device("cpu"))
        pairs = {model_key(c.model, c.defense): (c.model, c.defense) for c in the_plan.cells}
        tasks = {c.task.index: c.task for c in the_plan.cells}
        sources = {model_key(c.attack.source, None): (c.attack.source, None)
                   for c in the_plan.cells if c.attack.source is not None}
        for key, (model, defense) in {**pairs, **sources}.items():
            built = _build(life, model, defense)
            for index, task in tasks.items():
                first = head(datasets[index], 1)
                batch = Batch.collate([first[0]])
                with torch.no_grad():
                    objective = life.objective(key, built, task, datasets[index])
                    objective.evaluate(built, batch.signal, batch)
            life.release()


def _build(life: Lifecycle, model: Resolved, defense: Resolved | None) -> object:
    where = defense.path if defense is not None else model.path
    try:
        return life.build(model, defense)
    except (ModelLoadError, DataError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    except MmevalError:
        raise
    except Exception as exc:  # whatever a model's own code raises while loading
        raise ModelLoadError(f"{where}: building '{model.name}' failed: {type(exc).__name__}: "
                             f"{exc}") from exc
