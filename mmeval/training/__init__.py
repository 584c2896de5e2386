"""Fine-tuning defenses: the TrainSpec, the engine behind ``mmeval train`` and the base every
weight defense builds on."""

from .defense import ClassPrompts, WeightDefense, WeightDefenseParams
from .engine import TrainResult, train, trained_model
from .spec import OptimizerSettings, ScheduleSettings, TrainSpec, load_train_spec

__all__ = ["ClassPrompts", "OptimizerSettings", "ScheduleSettings", "TrainResult", "TrainSpec",
           "WeightDefense", "WeightDefenseParams", "load_train_spec", "train", "trained_model"]
