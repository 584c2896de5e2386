"""What each wrapped torchattacks attack declares, readable without importing torch or
torchattacks: its params (the constructor's arguments, same defaults), flags and threat model.
:mod:`~mmeval_torchattacks.attacks` builds the runnable attack from each declaration."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mmeval import (
    ADDED,
    BOUNDS,
    AttackDeclaration,
    IncompatibleComponentsError,
    Params,
    SignalModality,
    ThreatModel,
)

Targeting = Literal["none", "random", "least-likely"]


class TorchattacksParams(Params):
    """Base of the per-attack params: the torchattacks constructor's arguments, same defaults,
    and the signal attacked (``modality``; budgets are in that signal's units)."""

    modality: SignalModality = Field(
        default="image", json_schema_extra=ADDED, description="the signal attacked: image "
        "([0, 1] pixels) or audio ([-1, 1] waveforms; eps and alpha in amplitude units)")

    @model_validator(mode="after")
    def _linf_eps(self) -> TorchattacksParams:
        eps = getattr(self, "eps", None)
        lo, hi = BOUNDS[self.modality]
        if eps is not None and getattr(self, "norm", "Linf") == "Linf" and eps > hi - lo:
            raise ValueError(f"a Linf eps above {hi - lo:g} is meaningless for [{lo:g}, {hi:g}] "
                             f"{self.modality} (got {eps}); write it in the signal's units, e.g. "
                             "8/255 for images")
        return self


class TargetedParams(TorchattacksParams):
    targeted: Targeting = Field(
        default="none", description="torchattacks targeted mode: a random wrong class, or the "
        "least likely class (kth_min=1)")


class TorchAttackDeclared(AttackDeclaration):
    """What a wrapped attack declares: the torchattacks class it drives, its budget and flags."""

    attack_class: ClassVar[str]
    default_norm: ClassVar[str] = "Linf"
    bounded: ClassVar[bool] = True  # False: minimal-perturbation attacks with no eps ball
    takes_n_classes: ClassVar[bool] = False
    #: the params field holding the budget (PI-FGSM names it ``max_epsilon``)
    eps_field: ClassVar[str] = "eps"
    #: clip the output into [0, 1]: torchattacks 3.5.1's EAD returns pixels outside it
    clip_output: ClassVar[bool] = False
    uses_gradients: ClassVar[bool] = True
    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")
    #: the signals the attack's algorithm is defined on: attacks that resize, blur, tile or pick
    #: pixels are image-only; the others see a waveform as a one-row image
    signals: ClassVar[tuple[str, ...]] = ("image",)

    @classmethod
    def preflight(cls, params: TorchattacksParams) -> None:
        if params.modality not in cls.signals:
            from .catalogue import signal_attacks

            raise IncompatibleComponentsError(
                f"torchattacks.{cls.attack_class} works on images only (it treats its input as "
                f"a picture); attack {params.modality} with one of "
                f"{', '.join(signal_attacks(params.modality))}")

    @property
    def threat_model(self) -> ThreatModel:
        modality = self.params.modality
        if not self.bounded:
            return ThreatModel(modality)
        norm = getattr(self.params, "norm", self.default_norm)
        return ThreatModel(modality, "linf" if norm == "Linf" else "l2",
                           getattr(self.params, self.eps_field))

    @property
    def eot(self) -> bool:
        """EOT-PGD and APGD with ``eot_iter`` > 1 average gradients over the model's randomness."""
        return getattr(self.params, "eot_iter", 1) > 1



class AnyParams(Params):
    """Whatever a refused attack is given: the refusal, not the params, is the message."""

    model_config = ConfigDict(extra="allow", frozen=True)


class RefusedDeclared(AttackDeclaration):
    """A torchattacks attack that does not apply to a VLM task: ``plan()`` refuses it with
    ``reason`` (through ``preflight``), naming what would make it apply."""

    Params = AnyParams
    reason: ClassVar[str]

    @classmethod
    def preflight(cls, params: AnyParams) -> None:
        raise IncompatibleComponentsError(cls.reason)


def declare(name: str, params: type[BaseModel], **traits: Any) -> type[TorchAttackDeclared]:
    """The declaration of ``torchattacks.<name>`` with the given params and traits."""
    return type(name, (TorchAttackDeclared,), {"attack_class": name, "Params": params,
                                               "__doc__": f"torchattacks.{name}", **traits})


def refused(name: str, reason: str) -> type[RefusedDeclared]:
    return type(name, (RefusedDeclared,), {"reason": f"torchattacks.{name} is not supported: {reason}",
                                           "__doc__": f"torchattacks.{name}: refused at plan time"})
