"""The wrapped attacks. Each Params model mirrors its torchattacks constructor with the same
defaults, except ``n_classes`` (set from the task: the number of classes or gallery captions) and
``seed=None`` for AutoAttack (derived from the sample seeds instead of the clock)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .adapter import TargetedParams, TorchattacksParams, make

EPS, ALPHA = 8 / 255, 2 / 255
CLASSIFICATION = ("classification",)


class FGSMParams(TargetedParams):
    eps: float = Field(default=EPS, ge=0)


class BIMParams(TargetedParams):
    eps: float = Field(default=EPS, ge=0)
    alpha: float = Field(default=ALPHA, gt=0)
    steps: int = Field(default=10, ge=0)


class PGDParams(BIMParams):
    random_start: bool = True


class PGDL2Params(TargetedParams):
    norm: ClassVar[str] = "L2"  # fixed by the attack (not a constructor argument)
    eps: float = Field(default=1.0, ge=0)
    alpha: float = Field(default=0.2, gt=0)
    steps: int = Field(default=10, ge=0)
    random_start: bool = True
    eps_for_division: float = Field(default=1e-10, gt=0)


class TPGDParams(TorchattacksParams):
    eps: float = Field(default=EPS, ge=0)
    alpha: float = Field(default=ALPHA, gt=0)
    steps: int = Field(default=10, ge=0)


class MIFGSMParams(BIMParams):
    decay: float = 1.0


class DIFGSMParams(BIMParams):
    decay: float = 0.0
    resize_rate: float = Field(default=0.9, gt=0)
    diversity_prob: float = Field(default=0.5, ge=0, le=1)
    random_start: bool = False


class EOTPGDParams(PGDParams):
    eot_iter: int = Field(default=2, ge=1)


Norm = Literal["Linf", "L2"]


class APGDTParams(TorchattacksParams):
    norm: Norm = "Linf"
    eps: float = Field(default=EPS, ge=0)
    steps: int = Field(default=10, ge=1)
    n_restarts: int = Field(default=1, ge=1)
    seed: int = 0
    eot_iter: int = Field(default=1, ge=1)
    rho: float = 0.75
    verbose: bool = False


class APGDParams(APGDTParams):
    loss: Literal["ce", "dlr"] = "ce"


class FABParams(TargetedParams):
    norm: Norm = "Linf"
    eps: float = Field(default=EPS, ge=0)
    steps: int = Field(default=10, ge=1)
    n_restarts: int = Field(default=1, ge=1)
    alpha_max: float = 0.1
    eta: float = 1.05
    beta: float = 0.9
    verbose: bool = False
    seed: int = 0
    multi_targeted: bool = False


class SquareParams(TargetedParams):
    norm: Norm = "Linf"
    eps: float = Field(default=EPS, ge=0)
    n_queries: int = Field(default=5000, ge=1)
    n_restarts: int = Field(default=1, ge=1)
    p_init: float = Field(default=0.8, gt=0, le=1)
    loss: Literal["margin", "ce"] = "margin"
    resc_schedule: bool = True
    seed: int = 0
    verbose: bool = False


class AutoAttackParams(TorchattacksParams):
    norm: Norm = "Linf"
    eps: float = Field(default=EPS, ge=0)
    version: Literal["standard", "plus", "rand"] = "standard"
    seed: int | None = None
    verbose: bool = False


class CWParams(TargetedParams):
    c: float = Field(default=1.0, gt=0)
    kappa: float = Field(default=0.0, ge=0)
    steps: int = Field(default=50, ge=1)
    lr: float = Field(default=0.01, gt=0)


class DeepFoolParams(TorchattacksParams):
    steps: int = Field(default=50, ge=1)
    overshoot: float = Field(default=0.02, ge=0)


class JSMAParams(TargetedParams):
    theta: float = 1.0
    gamma: float = Field(default=0.1, gt=0, le=1)


class OnePixelParams(TargetedParams):
    pixels: int = Field(default=1, ge=1)
    steps: int = Field(default=10, ge=1)
    popsize: int = Field(default=10, ge=1)
    inf_batch: int = Field(default=128, ge=1)


FGSM = make("FGSM", FGSMParams)
BIM = make("BIM", BIMParams)
PGD = make("PGD", PGDParams)
PGDL2 = make("PGDL2", PGDL2Params, default_norm="L2")
TPGD = make("TPGD", TPGDParams)
MIFGSM = make("MIFGSM", MIFGSMParams)
DIFGSM = make("DIFGSM", DIFGSMParams)
EOTPGD = make("EOTPGD", EOTPGDParams)
APGD = make("APGD", APGDParams)
Square = make("Square", SquareParams, uses_gradients=False)
# attacks that loop over, or allocate per, class: classification only (a retrieval gallery has
# thousands of "classes")
APGDT = make("APGDT", APGDTParams, takes_n_classes=True, objectives=CLASSIFICATION)
FAB = make("FAB", FABParams, takes_n_classes=True, objectives=CLASSIFICATION)
AutoAttack = make("AutoAttack", AutoAttackParams, takes_n_classes=True, objectives=CLASSIFICATION)
CW = make("CW", CWParams, bounded=False)
DeepFool = make("DeepFool", DeepFoolParams, bounded=False, objectives=CLASSIFICATION)
JSMA = make("JSMA", JSMAParams, bounded=False, objectives=CLASSIFICATION)
OnePixel = make("OnePixel", OnePixelParams, bounded=False, uses_gradients=False,
                objectives=CLASSIFICATION)
