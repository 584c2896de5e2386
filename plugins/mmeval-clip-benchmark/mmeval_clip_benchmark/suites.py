"""Suites of CLIP_benchmark datasets: the zero-shot lists robustness papers report, expanded by
``plan()`` into one task per dataset. Given one data root, each dataset is read from its
sub-folder named as CLIP_benchmark's ``--dataset_root root/{dataset_cleaned}`` names it
(``root/cifar10``, ``root/imagenet-a``); ``roots`` overrides that per dataset."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from mmeval import Params, SuiteMember

from .catalog import ENTRIES, IMAGENET_SHIFTS, RETRIEVAL_SETS, TECOA


class SuiteParams(Params):
    root: str | None = Field(default=None, description="one data root holding a sub-folder per "
                             "dataset (root/cifar10, root/imagenet1k, ...)")
    roots: dict[str, str] = Field(default_factory=dict, description="a root per dataset, "
                                  "overriding root/<dataset>")
    datasets: list[str] | None = Field(default=None, description="only these of the suite's "
                                       "datasets (default: all)")
    image_size: int = Field(default=224, ge=8, description="every dataset's image size: the "
                            "model's resolution")
    interpolation: Literal["bicubic", "bilinear", "nearest"] = "bicubic"
    resize_mode: Literal["shortest", "longest", "squash"] = "shortest"
    verify_checksums: bool = Field(default=True, description="see the datasets' own parameter")


class CLIPBenchmarkSuite:
    """A fixed list of CLIP_benchmark datasets; subclasses name it."""

    Params = SuiteParams
    objective_kind: ClassVar[str] = "classification"
    members: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: SuiteParams) -> None:
        self.params = params

    @classmethod
    def check(cls, params: SuiteParams) -> None:
        """ValueError unless the params name only the suite's datasets and give each a root."""
        for field, names in (("datasets", params.datasets or []), ("roots", params.roots)):
            unknown = [n for n in names if n not in cls.members]
            if unknown:
                raise ValueError(f"{field}: {unknown} not in this suite; it holds "
                                 f"{list(cls.members)}")
        rootless = [n for n in params.datasets or cls.members
                    if params.root is None and n not in params.roots]
        if rootless:
            raise ValueError(f"no root for {rootless}: give `root` (one folder per dataset "
                             "under it) or `roots` for each")

    def datasets(self) -> list[SuiteMember]:
        p = self.params
        shared = {"image_size": p.image_size, "interpolation": p.interpolation,
                  "resize_mode": p.resize_mode, "verify_checksums": p.verify_checksums}
        return [SuiteMember(name, f"clip-benchmark/{name}", {
            "root": p.roots.get(name) or str(Path(str(p.root)) / ENTRIES[name].folder), **shared})
            for name in (p.datasets or self.members)]


def _suite(name: str, members: tuple[str, ...], kind: str, doc: str) -> type[CLIPBenchmarkSuite]:
    def _valid(self: SuiteParams) -> SuiteParams:
        suite.check(self)
        return self

    params = type(f"{name}Params", (SuiteParams,), {
        "__module__": __name__, "_valid": model_validator(mode="after")(_valid)})
    suite = type(name, (CLIPBenchmarkSuite,), {
        "__module__": __name__, "__doc__": doc, "Params": params, "members": members,
        "objective_kind": kind})
    return suite


TeCoA = _suite("TeCoA", TECOA, "classification",
               "The 16 zero-shot classification datasets of TeCoA (Mao et al., ICLR 2023) and "
               "MMCoA (Zhou et al., 2024).")
FARE = _suite("FARE", ("cifar10", "cifar100", "stl10", "cars", "caltech101", "pets", "flowers",
                       "dtd", "eurosat", "fgvc_aircraft", "pcam", "imagenet-r", "imagenet_sketch"),
              "classification", "The 13 zero-shot datasets of FARE (Schlarmann et al., ICML 2024).")
ImageNetShifts = _suite("ImageNetShifts", IMAGENET_SHIFTS, "classification",
                        "ImageNet and its distribution shifts V2, Sketch, A and R.")
RetrievalSuite = _suite("RetrievalSuite", RETRIEVAL_SETS, "retrieval",
                        "CLIP_benchmark's retrieval sets: Flickr8k, Flickr30k and MS-COCO "
                        "(Karpathy test splits).")
