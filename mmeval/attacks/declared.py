"""What an attack declares, readable without torch: :class:`AttackDeclaration` (the base of
:class:`~mmeval.attacks.base.Attack`) and the declarations of the built-in attacks. ``plan()``
instantiates a declaration from the attack's params to read its threat model; the attack itself is
built only when a cell runs."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from ..registry import ADDED, NoParams, Params
from ..types import BOUNDS, Modality, SignalModality, ThreatModel


class AttackDeclaration:
    """An attack's params, capability flags and threat model, with nothing to run. Subclass it
    for a light declaration (``registry.add(..., declared=...)``) and subclass that together with
    :class:`~mmeval.attacks.base.Attack` for the attack, so both declare the same."""

    Params: ClassVar[type[BaseModel]] = NoParams
    modality: ClassVar[Modality] = "image"
    #: objective kinds the attack supports (None: any); plan() rejects other combinations
    objectives: ClassVar[tuple[str, ...] | None] = None
    #: whether the attack follows model gradients (planner warns for non-differentiable defenses)
    uses_gradients: ClassVar[bool] = False
    #: the attack returns its inputs unchanged (``clean``): its cell is the clean reference
    noop: ClassVar[bool] = False
    #: the attack is adaptive to a defense (its cells are reported with the role ``adaptive``)
    adaptive: ClassVar[bool] = False

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel(self.modality)

    @property
    def eot(self) -> bool:
        """Whether the attack averages gradients over the model's randomness (EOT)."""
        return False

    @property
    def language_model(self) -> str | None:
        """The language model that proposes the words a text attack substitutes (None: none);
        journaled with each cell and named in the report."""
        return None


class CleanDeclared(AttackDeclaration):
    """No attack: the adversarial input is the clean input."""

    modality: ClassVar[Modality] = "none"
    noop: ClassVar[bool] = True


class SignalParams(Params):
    """The params of an attack that perturbs a signal with a norm budget: which signal, and
    optionally an SNR floor (the audio literature's budget)."""

    modality: SignalModality = Field(
        default="image", json_schema_extra=ADDED, description="the signal perturbed: image "
        "([0, 1] pixels) or audio ([-1, 1] waveforms); the task's dataset must carry it")
    snr_db: float | None = Field(
        default=None, json_schema_extra=ADDED, description="also keep each sample's "
        "signal-to-noise ratio 20 log10(||x|| / ||delta||) at or above this many dB (audio "
        "attacks' usual budget)")


class PGDParams(SignalParams):
    eps: float = Field(default=4 / 255, ge=0.0, description="radius in the signal's units: [0, 1] "
                       "pixels, or [-1, 1] waveform amplitude")
    norm: Literal["linf", "l2"] = "linf"
    steps: int = Field(default=10, ge=0)
    step_size: float | None = Field(
        default=None, gt=0.0, description="default 2.5 * eps / steps (Madry et al.); the "
        "TeCoA/MMCoA evaluation protocol uses 1/255, see examples/tecoa_protocol.py")
    random_start: bool = True
    momentum: float = Field(default=0.0, ge=0.0, lt=1.0,
                            description="momentum on normalized steps (FARE's inner attack: 0.9)")
    early_stop: bool = Field(default=False, description="stop stepping a sample once the "
                             "objective counts it as fooled (one extra forward per step on the "
                             "samples still running); off: the reference PGD runs every step")

    @model_validator(mode="after")
    def _linf_eps(self) -> PGDParams:
        lo, hi = BOUNDS[self.modality]
        if self.norm == "linf" and self.eps > hi - lo:
            raise ValueError(f"a Linf eps above {hi - lo:g} is meaningless for [{lo:g}, {hi:g}] "
                             f"{self.modality} (got {self.eps}); write eps in the signal's units, "
                             "e.g. 4/255 for images")
        if self.step_size is not None:
            if self.norm == "linf" and self.step_size > hi - lo:
                raise ValueError(f"a Linf step_size above {hi - lo:g} is meaningless for "
                                 f"[{lo:g}, {hi:g}] {self.modality} (got {self.step_size}); write it "
                                 "in the signal's units, e.g. 1/255 for images")
            if self.norm == "l2" and self.eps > 0 and self.step_size > 10 * self.eps:
                raise ValueError(f"an L2 step_size of {self.step_size} is over 10x eps "
                                 f"({self.eps}); write it in the units of eps")
        if self.early_stop and self.momentum:
            raise ValueError("early_stop keeps no per-sample momentum; use one or the other")
        return self


class PGDDeclared(AttackDeclaration):
    """Untargeted PGD on the objective's loss (Madry et al., ICLR 2018): an ``eps`` ball around
    an image or a waveform (``modality``), optionally also an SNR floor."""

    Params = PGDParams
    uses_gradients: ClassVar[bool] = True
    params: PGDParams

    @property
    def threat_model(self) -> ThreatModel:
        p = self.params
        return ThreatModel(p.modality, p.norm, p.eps, snr_db=p.snr_db)
