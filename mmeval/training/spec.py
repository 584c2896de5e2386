"""The declarative training spec: which model to fine-tune with which weight defense on which data,
and how (epochs, batch size, optimizer, schedule, precision, seed). Loaded like an EvalSpec:
``load_train_spec("train.py")`` reads its ``SPEC``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..compilation import CompileMode
from ..spec import ComponentRef, check_device, load_spec, stable_hash, validate_spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptimizerSettings(_Strict):
    """``adam`` (coupled L2 weight decay, as MMCoA's code), ``adamw`` or ``sgd``."""

    name: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(gt=0.0, description="learning rate (peak, after warm-up)")
    weight_decay: float = Field(default=0.0, ge=0.0, description="L2 (adam) / decoupled (adamw)")
    betas: tuple[float, float] = Field(default=(0.9, 0.999), description="adam/adamw")
    eps: float = Field(default=1e-8, gt=0.0, description="adam/adamw")
    momentum: float = Field(default=0.9, ge=0.0, lt=1.0, description="sgd only")


class ScheduleSettings(_Strict):
    """Learning rate per step: ``constant`` or ``cosine`` decay to 0, after a linear warm-up."""

    name: Literal["constant", "cosine"] = Field(default="constant", description="decay shape")
    warmup_steps: int = Field(default=0, ge=0, description="linear warm-up steps")


class TrainSpec(_Strict):
    """Adversarial (or clean) fine-tuning of ``model`` with the weight defense ``defense``."""

    name: str = Field(default="train", pattern=r"^[A-Za-z0-9_.-]+$",
                      description="run name; default output dir runs/<name>")
    model: ComponentRef = Field(description="the model to fine-tune (a trainable adapter)")
    dataset: ComponentRef = Field(description="training data")
    limit: int | None = Field(default=None, ge=1, description="train on the first N samples")
    defense: ComponentRef = Field(description="a weight defense (see `mmeval list defenses`)")
    epochs: int = Field(ge=1, description="passes over the data (extend to train further)")
    batch_size: int = Field(default=64, ge=1, description="global batch (split across ranks)")
    optimizer: OptimizerSettings = Field(description="optimizer and learning rate")
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings,
                                       description="learning-rate schedule per step")
    precision: Literal["fp32", "bf16", "fp16"] = Field(default="fp32",
                                                       description="autocast for attack and loss")
    compile: bool | CompileMode = Field(
        default=False, description="torch.compile the inner attack's step whole and the "
        "model's image encoder (`true`: mode `default`; `reduce-overhead` adds CUDA graphs)")
    model_mode: Literal["train", "eval"] = Field(
        default="train", description="mode of the model during updates; eval freezes BatchNorm "
        "statistics and dropout (fine-tuning a BatchNorm network with small batches)")
    seed: int = Field(default=0, ge=0, description="data order, attacks and dropout derive from it")
    device: str = Field(default="cpu", description="cpu, cuda, cuda:N or auto")
    progress: bool = Field(default=True, description="progress bars")
    output_dir: str | None = Field(default=None, description="checkpoints and train.json")

    _device = field_validator("device")(lambda v: check_device(v))

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir or Path("runs") / self.name)

    def training_hash(self) -> str:
        """What must match for a run directory to be resumed (not the device, compilation or
        progress bars)."""
        return stable_hash(self.model_dump(mode="json", exclude={"device", "compile", "progress",
                                                                 "output_dir"}))


def validate_train_spec(data: TrainSpec | dict[str, Any]) -> TrainSpec:
    return validate_spec(data, TrainSpec)


def load_train_spec(source: str | Path) -> TrainSpec:
    """Load ``train.py`` (its ``SPEC``), ``train.py:NAME`` or ``train.json`` into a TrainSpec."""
    return load_spec(source, TrainSpec)
