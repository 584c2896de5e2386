"""The training engine behind ``mmeval train``: one loop for every weight defense.

Per step: the defense's inner maximization runs in attack mode (eval, parameters frozen: attack
gradients reach the inputs only), then its loss is minimized in train mode over the towers the
defense trains; the other parameters never change. After every epoch a checkpoint is written in
the model's own format (safetensors) with the optimizer, schedule and loss history
(``train_state.pt``, read back with ``weights_only=True``); re-running into the same output
directory resumes after the last complete epoch. Data order, attack randomness and dropout are
seeded from (seed, epoch, step, sample id), so a resumed run continues exactly as an
uninterrupted one would.

Under torchrun (``WORLD_SIZE`` > 1) the process group is initialized (gloo on CPU, nccl on GPU),
each rank takes its share of every global batch and the loss runs through
DistributedDataParallel, which averages gradients; rank 0 writes checkpoints.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..attacks.base import attack_mode
from ..attacks.compose import building
from ..compilation import compile_image_side, compile_mode, compiled_steps
from ..data import head
from ..devices import autocast, resolve_device
from ..distributed import local_device, world
from ..errors import SpecError
from ..planning import resolve_ref, resolve_stages
from ..plugins import PluginHost, get_host
from ..progress import progress
from ..seeding import BatchRandom, sample_seed
from ..spec import stable_hash
from ..store import prepare_run_dir
from ..types import Batch
from .spec import OptimizerSettings, ScheduleSettings, TrainSpec, validate_train_spec

STATE_FILE = "train_state.pt"
LOG_FILE = "train.json"


@dataclass(frozen=True)
class TrainResult:
    """Where the run wrote, the model spec entry that loads its final checkpoint, the loss of
    every step and a summary per epoch."""

    output_dir: Path
    model: dict[str, Any]
    losses: list[float]
    epochs: list[dict[str, Any]]


def trained_model(output_dir: str | Path) -> dict[str, Any]:
    """The model spec entry (``{"name", "params": {"pretrained": ...}}``) of a finished run."""
    log = Path(output_dir) / LOG_FILE
    if not log.is_file():
        raise SpecError(f"'{output_dir}' holds no training run (no {LOG_FILE}); run `mmeval train`")
    return json.loads(log.read_text())["model"]


class _Step(nn.Module):
    """The defense's loss as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, model: nn.Module, defense: Any) -> None:
        super().__init__()
        self.model, self.defense = model, defense

    def forward(self, batch: Batch, adv: Any) -> torch.Tensor:
        return self.defense.loss(self.model, batch, adv)


def _optimizer(settings: OptimizerSettings, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    s = settings
    if s.name == "sgd":
        return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
    cls = torch.optim.Adam if s.name == "adam" else torch.optim.AdamW
    return cls(params, lr=s.lr, betas=s.betas, eps=s.eps, weight_decay=s.weight_decay)


def _schedule(settings: ScheduleSettings, opt: torch.optim.Optimizer,
              total: int) -> torch.optim.lr_scheduler.LambdaLR:
    warm = settings.warmup_steps

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if settings.name == "constant":
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _last_epoch(out: Path) -> int:
    done = [int(d.name.split("-")[1]) for d in out.glob("epoch-*")
            if d.is_dir() and (d / STATE_FILE).is_file()]
    return max(done, default=0)


def train(spec: TrainSpec | dict[str, Any], *, out: str | Path | None = None,
          device: str | None = None, host: PluginHost | None = None) -> TrainResult:
    """Validate ``spec`` (no compute), then train; resumes a run already in the output directory."""
    spec = validate_train_spec(spec)
    overrides = {"output_dir": None if out is None else str(out), "device": device}
    spec = validate_train_spec({**spec.model_dump(),
                                **{k: v for k, v in overrides.items() if v is not None}})
    host = host or get_host()
    with building(host):
        return _train(spec, host)


def _train(spec: TrainSpec, host: PluginHost) -> TrainResult:
    registry = host.registry
    model_ref = resolve_ref(registry, "model", spec.model, "model")
    data_ref = resolve_ref(registry, "dataset", spec.dataset, "dataset")
    defense_ref = resolve_ref(registry, "defense", spec.defense, "defense")
    resolve_stages(registry, defense_ref)
    if defense_ref.flags["kind"] != "weights":
        raise SpecError(f"'{defense_ref.name}' does not train weights; `mmeval train` takes a "
                        "weight defense (see `mmeval list defenses`)", "defense.name")
    dev = local_device(resolve_device(spec.device, "device"))
    ranks = world(dev)
    rank, size = ranks.rank, ranks.size
    if spec.batch_size % size:
        raise SpecError(f"batch_size {spec.batch_size} does not split over {size} ranks",
                        "batch_size")
    out_dir = spec.resolved_output_dir().resolve()
    if rank == 0:
        prepare_run_dir(out_dir)
    log_path = out_dir / LOG_FILE
    if log_path.is_file():
        previous = json.loads(log_path.read_text())
        if previous.get("training_hash") != spec.training_hash():
            raise SpecError(f"'{out_dir}' holds a different training run; pass another --out or "
                            "delete it", "output_dir")

    dataset = data_ref.build()
    dataset = head(dataset, spec.limit or len(dataset))
    torch.manual_seed(spec.seed)
    model = model_ref.build()
    if not hasattr(model, "tower_parameters"):
        raise SpecError(f"model '{model_ref.name}' cannot be trained (it exposes no "
                        "tower_parameters/save_checkpoint)", "model.name")
    model = model.to(dev)
    defense = defense_ref.build()
    defense.setup(model, dataset)
    if step_mode := compile_mode(spec.compile):
        compile_image_side(model, step_mode)
    towers = model.tower_parameters()
    trains = defense.towers(data_ref.flags["modality"])
    trained = [p for t in trains for p in towers[t]]
    for t, params in towers.items():
        for p in params:
            p.requires_grad_(t in trains)
    steps_per_epoch = (len(dataset) // spec.batch_size if size > 1
                       else math.ceil(len(dataset) / spec.batch_size))
    if steps_per_epoch == 0:
        raise SpecError(f"{len(dataset)} samples make no batch of {spec.batch_size} over "
                        f"{size} ranks", "batch_size")
    opt = _optimizer(spec.optimizer, trained)
    sched = _schedule(spec.schedule, opt, steps_per_epoch * spec.epochs)
    scaler = torch.amp.GradScaler(dev.type, enabled=spec.precision == "fp16")

    losses: list[float] = []
    epochs: list[dict[str, Any]] = []
    start = _last_epoch(out_dir)
    if start:
        last = out_dir / f"epoch-{start:03d}"
        state = torch.load(last / STATE_FILE, map_location="cpu", weights_only=True)
        model.load_checkpoint(last / state["checkpoint"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        losses = [float(v) for v in state["losses"]]
        epochs = json.loads(state["epochs"])
    step_module: nn.Module = _Step(model, defense)
    if size > 1:
        step_module = nn.parallel.DistributedDataParallel(step_module)
    per_rank = spec.batch_size // size
    ref: dict[str, Any] = {}
    for epoch in range(start + 1, spec.epochs + 1):
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(
            sample_seed(spec.seed, "epoch", str(epoch))))
        bar = progress(range(steps_per_epoch), enabled=spec.progress and rank == 0,
                       desc=f"{defense_ref.name} epoch {epoch}/{spec.epochs}", unit="step")
        t0, epoch_losses, samples = time.perf_counter(), [], 0
        model.train(spec.model_mode == "train")
        for step in bar:
            chunk = order[step * spec.batch_size:(step + 1) * spec.batch_size]
            chunk = chunk[rank * per_rank:(rank + 1) * per_rank]  # this rank's share
            batch = Batch.collate([dataset[i] for i in chunk.tolist()]).to(dev)
            rng = BatchRandom([sample_seed(spec.seed, f"train-{epoch}", s)
                               for s in batch.sample_ids], dev)
            torch.manual_seed(sample_seed(spec.seed, f"step-{epoch}-{step}", str(rank)))
            with attack_mode(model), autocast(dev, spec.precision), compiled_steps(step_mode):
                adv = defense.perturb(model, batch, rng)
            with autocast(dev, spec.precision):
                loss = step_module(batch, adv)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            epoch_losses.append(loss.item())
            samples += len(batch) * size
            seconds = time.perf_counter() - t0
            bar.set_postfix(loss=f"{epoch_losses[-1]:.4f}", samples_s=f"{samples / seconds:.1f}",
                            refresh=False)
        bar.close()
        seconds = time.perf_counter() - t0
        losses += epoch_losses
        epochs.append({"epoch": epoch, "loss": sum(epoch_losses) / len(epoch_losses),
                       "seconds": round(seconds, 2),
                       "samples_per_s": round(samples / seconds, 1)})
        if rank == 0:
            ref = _save(out_dir, epoch, model, opt, sched, scaler, losses, epochs, spec)
    ranks.barrier()
    if not ref:
        ref = trained_model(out_dir)
    ranks.close()
    return TrainResult(out_dir, ref, losses, epochs)


def _save(out: Path, epoch: int, model: Any, opt: torch.optim.Optimizer, sched: Any,
          scaler: torch.amp.GradScaler, losses: list[float], epochs: list[dict[str, Any]],
          spec: TrainSpec) -> dict[str, Any]:
    """Write epoch ``epoch``'s checkpoint atomically (a half-written one is never resumed from)
    and update train.json; returns the model spec entry that loads it."""
    final = out / f"epoch-{epoch:03d}"
    tmp = out / f".epoch-{epoch:03d}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_checkpoint(tmp)
    written = next(iter(tmp.iterdir()))
    # the epoch records travel with the checkpoint: a kill between renaming it into place and
    # writing train.json must not leave a checkpoint that cannot be resumed
    torch.save({"epoch": epoch, "checkpoint": written.name, "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                "losses": torch.tensor(losses, dtype=torch.float64),
                "epochs": json.dumps(epochs)}, tmp / STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    ref = model.checkpoint_ref(final / written.name)
    log = {"name": spec.name, "training_hash": spec.training_hash(),
           "spec": spec.model_dump(mode="json"), "mmeval": __version__, "torch": torch.__version__,
           "model": ref, "epochs": epochs, "losses": losses,
           "spec_hash": stable_hash(spec.model_dump(mode="json"))}
    (out / LOG_FILE).write_text(json.dumps(log, indent=2) + "\n")
    return ref
