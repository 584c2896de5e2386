"""The wrapped attacks' declarations (light: no torch, no torchattacks). Each Params model mirrors
its torchattacks constructor with the same defaults, except ``n_classes`` (set from the task: the
number of classes or gallery captions) and ``seed=None`` for AutoAttack (derived from the sample
seeds instead of the clock)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .declared import (
    TargetedParams,
    TorchAttackDeclared,
    TorchattacksParams,
    declare,
    refused,
)

EPS, ALPHA = 8 / 255, 2 / 255
CLASSIFICATION = ("classification",)
#: what the signal-agnostic attacks attack (the others treat their input as a picture)
SIGNALS = ("image", "audio")
#: attacks whose every sample's result does not depend on which samples share its batch (their
#: random draws are batch-shaped and come from each sample's stream, or they draw nothing); the
#: others draw for the batch as a whole: one random resize or pad per batch (DIFGSM, TIFGSM),
#: draws for the subset still correct (APGD, APGDT, Square, AutoAttack), numpy draws (OnePixel,
#: Pixle), noise of another shape (PGDRS, PGDRSL2, SPSA), or their outcomes move with the float
#: rounding of another batch size (PGDL2, NIFGSM, EADL1, EADEN)
BATCH_INVARIANT = frozenset({
    "fgsm", "bim", "pgd", "tpgd", "mifgsm", "eotpgd", "fab", "cw", "deepfool", "jsma", "vanila",
    "gn", "rfgsm", "ffgsm", "upgd", "sinifgsm", "vmifgsm", "vnifgsm", "pifgsm", "pifgsmpp",
    "jitter", "sparsefool"})


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


class VANILAParams(TorchattacksParams):
    """No parameters: the clean images (torchattacks' reference point)."""


class GNParams(TorchattacksParams):
    std: float = Field(default=0.1, ge=0, description="std of the Gaussian noise added")


class RFGSMParams(TargetedParams):
    eps: float = Field(default=EPS, ge=0)
    alpha: float = Field(default=ALPHA, gt=0)
    steps: int = Field(default=10, ge=1)


class FFGSMParams(TargetedParams):
    eps: float = Field(default=EPS, ge=0)
    alpha: float = Field(default=10 / 255, gt=0)


class UPGDParams(BIMParams):
    random_start: bool = False
    loss: Literal["ce", "margin"] = "ce"
    decay: float = 1.0
    eot_iter: int = Field(default=1, ge=1)


class NIFGSMParams(BIMParams):
    decay: float = 1.0


class SINIFGSMParams(NIFGSMParams):
    m: int = Field(default=5, ge=1, description="scale copies")


class VMIFGSMParams(NIFGSMParams):
    N: int = Field(default=5, ge=1, description="neighbour samples of the variance tuning")
    beta: float = Field(default=1.5, gt=0)


class TIFGSMParams(BIMParams):
    decay: float = 0.0
    kernel_name: Literal["gaussian", "linear", "uniform"] = "gaussian"
    len_kernel: int = Field(default=15, ge=1)
    nsig: int = Field(default=3, ge=1)
    resize_rate: float = Field(default=0.9, gt=0)
    diversity_prob: float = Field(default=0.5, ge=0, le=1)
    random_start: bool = False


class PIFGSMParams(TorchattacksParams):
    max_epsilon: float = Field(default=16 / 255, ge=0, le=1, description="the Linf budget")
    num_iter_set: int = Field(default=10, ge=1)
    momentum: float = 1.0
    amplification: float = 10.0
    prob: float = Field(default=0.7, ge=0, le=1)


class PIFGSMPPParams(TargetedParams, PIFGSMParams):  # PI-FGSM++ also has a targeted mode
    project_factor: float = 0.8


class JitterParams(PGDParams):
    scale: float = 10
    std: float = Field(default=0.1, ge=0)


class PGDRSParams(BIMParams):
    noise_type: Literal["guassian", "uniform"] = Field(
        default="guassian", description="torchattacks' spelling of gaussian")
    noise_sd: float = Field(default=0.5, ge=0)
    noise_batch_size: int = Field(default=5, ge=1)
    batch_max: int = Field(default=2048, ge=1)


class PGDRSL2Params(PGDRSParams):
    norm: ClassVar[str] = "L2"
    eps: float = Field(default=1.0, ge=0)
    alpha: float = Field(default=0.2, gt=0)
    eps_for_division: float = Field(default=1e-10, gt=0)


class SPSAParams(TargetedParams):
    eps: float = Field(default=0.3, ge=0)
    delta: float = Field(default=0.01, gt=0)
    lr: float = Field(default=0.01, gt=0)
    nb_iter: int = Field(default=1, ge=1)
    nb_sample: int = Field(default=128, ge=1)
    max_batch_size: int = Field(default=64, ge=1)


class SparseFoolParams(TorchattacksParams):
    steps: int = Field(default=10, ge=1)
    lam: float = Field(default=3, gt=0)
    overshoot: float = Field(default=0.02, ge=0)


class PixleParams(TargetedParams):
    x_dimensions: tuple[float, float] = (2, 10)
    y_dimensions: tuple[float, float] = (2, 10)
    pixel_mapping: Literal["random", "similarity", "similarity_random", "distance",
                           "distance_random"] = "random"
    restarts: int = Field(default=20, ge=1)
    max_iterations: int = Field(default=10, ge=1)
    update_each_iteration: bool = False


class EADParams(TargetedParams):
    kappa: float = Field(default=0, ge=0)
    lr: float = Field(default=0.01, gt=0)
    binary_search_steps: int = Field(default=9, ge=1)
    max_iterations: int = Field(default=100, ge=1)
    abort_early: bool = True
    initial_const: float = Field(default=0.001, gt=0)
    beta: float = Field(default=0.001, ge=0)


FGSM = declare("FGSM", FGSMParams, signals=SIGNALS)
BIM = declare("BIM", BIMParams, signals=SIGNALS)
PGD = declare("PGD", PGDParams, signals=SIGNALS)
PGDL2 = declare("PGDL2", PGDL2Params, default_norm="L2", signals=SIGNALS)
TPGD = declare("TPGD", TPGDParams, signals=SIGNALS)
MIFGSM = declare("MIFGSM", MIFGSMParams, signals=SIGNALS)
DIFGSM = declare("DIFGSM", DIFGSMParams)
EOTPGD = declare("EOTPGD", EOTPGDParams, signals=SIGNALS)
APGD = declare("APGD", APGDParams, signals=SIGNALS)
Square = declare("Square", SquareParams, uses_gradients=False)
# attacks that loop over, or allocate per, class: classification only (a retrieval gallery has
# thousands of "classes")
APGDT = declare("APGDT", APGDTParams, takes_n_classes=True, objectives=CLASSIFICATION)
FAB = declare("FAB", FABParams, takes_n_classes=True, objectives=CLASSIFICATION)
AutoAttack = declare("AutoAttack", AutoAttackParams, takes_n_classes=True, objectives=CLASSIFICATION)
CW = declare("CW", CWParams, bounded=False, signals=SIGNALS)
DeepFool = declare("DeepFool", DeepFoolParams, bounded=False, objectives=CLASSIFICATION)
JSMA = declare("JSMA", JSMAParams, bounded=False, objectives=CLASSIFICATION)
OnePixel = declare("OnePixel", OnePixelParams, bounded=False, uses_gradients=False,
                objectives=CLASSIFICATION)
VANILA = declare("VANILA", VANILAParams, bounded=False, uses_gradients=False, noop=True)
GN = declare("GN", GNParams, bounded=False, uses_gradients=False, signals=SIGNALS)
RFGSM = declare("RFGSM", RFGSMParams, signals=SIGNALS)
FFGSM = declare("FFGSM", FFGSMParams, signals=SIGNALS)
UPGD = declare("UPGD", UPGDParams, signals=SIGNALS)
NIFGSM = declare("NIFGSM", NIFGSMParams, signals=SIGNALS)
SINIFGSM = declare("SINIFGSM", SINIFGSMParams)
VMIFGSM = declare("VMIFGSM", VMIFGSMParams, signals=SIGNALS)
VNIFGSM = declare("VNIFGSM", VMIFGSMParams, signals=SIGNALS)
TIFGSM = declare("TIFGSM", TIFGSMParams)
PIFGSM = declare("PIFGSM", PIFGSMParams, eps_field="max_epsilon")
PIFGSMPP = declare("PIFGSMPP", PIFGSMPPParams, eps_field="max_epsilon")
Jitter = declare("Jitter", JitterParams)
PGDRS = declare("PGDRS", PGDRSParams)
PGDRSL2 = declare("PGDRSL2", PGDRSL2Params, default_norm="L2")
SPSA = declare("SPSA", SPSAParams, uses_gradients=False)
SparseFool = declare("SparseFool", SparseFoolParams, bounded=False, objectives=CLASSIFICATION)
Pixle = declare("Pixle", PixleParams, bounded=False, uses_gradients=False, objectives=CLASSIFICATION)
EADL1 = declare("EADL1", EADParams, bounded=False, clip_output=True)
EADEN = declare("EADEN", EADParams, bounded=False, clip_output=True)
LGV = refused("LGV", "it fine-tunes copies of the victim with SGD on a training loader to build "
              "surrogates, which needs an image classifier and its training data, not a VLM's "
              "zero-shot head; to attack from surrogates, craft any attack on another model "
              "with the attack's `source`")
MultiAttack = refused("MultiAttack", "it keeps, per sample, the first attack that succeeds; list "
                      "the attacks in the spec instead: the worst-case-robust-accuracy metric "
                      "counts a sample as robust only if every attack of its task fails")



def signal_attacks(modality: str) -> list[str]:
    """The registry names of the wrapped attacks that attack ``modality``."""
    return [f"torchattacks/{name.lower()}" for name, d in globals().items()
            if isinstance(d, type) and issubclass(d, TorchAttackDeclared)
            and d is not TorchAttackDeclared and modality in d.signals]
