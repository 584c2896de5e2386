"""A folder of class sub-folders (``root/<class>/<image>``), as torchvision's ImageFolder."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ..errors import DataError
from ..registry import INPUT_LISTING, Params
from ..types import Sample
from .images import EXTENSIONS, load_image


class ImageFolderParams(Params):
    root: str = Field(description="folder with one sub-folder of images per class",
                      json_schema_extra=INPUT_LISTING)
    image_size: int = Field(default=224, ge=8, description="images are resized + centre-cropped to this")


class ImageFolder:
    """Classes are the sorted sub-folder names; sample ids are paths relative to ``root``."""

    Params = ImageFolderParams
    objectives: ClassVar[tuple[str, ...]] = ("classification",)
    modality: ClassVar[str] = "image"

    @classmethod
    def preflight(cls, params: ImageFolderParams) -> None:
        """The root exists and holds class sub-folders (run by ``plan()``)."""
        root = Path(params.root).expanduser()
        if not root.is_dir():
            raise DataError(f"image-folder root '{root}' does not exist; expected root/<class>/<image>")
        if not any(d.is_dir() for d in root.iterdir()):
            raise DataError(f"image-folder root '{root}' holds no class sub-folders; expected "
                            "root/<class>/<image>")

    def __init__(self, params: ImageFolderParams) -> None:
        self.params = params
        self.preflight(params)
        root = Path(params.root).expanduser()
        classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        self.items = [(p, label) for label, c in enumerate(classes)
                      for p in sorted((root / c).iterdir()) if p.suffix.lower() in EXTENSIONS]
        if not self.items:
            raise DataError(f"no images ({', '.join(EXTENSIONS)}) under '{root}/<class>/'; expected "
                            "one sub-folder of images per class")
        self.class_names = tuple(classes)
        self.root = root

    def __len__(self) -> int:
        return len(self.items)

    def sample_id(self, index: int) -> str:
        return self.items[index][0].relative_to(self.root).as_posix()

    def label(self, index: int) -> int:
        return self.items[index][1]

    def __getitem__(self, index: int) -> Sample:
        path, label = self.items[index]
        return Sample(self.sample_id(index), load_image(path, self.params.image_size), label)
