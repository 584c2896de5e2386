"""Karpathy-style retrieval annotations (Flickr30k / COCO test splits as used by ALBEF, Co-Attack
and SGA): a JSON list of ``{"image": relative path, "caption": [captions]}`` plus an image root.
Captions get the standard clean-up (``pre_caption``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ..errors import DataError
from ..registry import INPUT, INPUT_LISTING, Params
from ..types import Sample
from .images import load_image


def pre_caption(caption: str, max_words: int = 30) -> str:
    """Lower-case; drop ``,.'!?"()*#:;~``; ``-`` and ``/`` to spaces; ``<person>`` to ``person``;
    collapse whitespace; keep the first ``max_words`` words."""
    caption = re.sub(r"([,.'!?\"()*#:;~])", "", caption.lower())
    caption = caption.replace("-", " ").replace("/", " ").replace("<person>", "person")
    words = re.sub(r"\s{2,}", " ", caption).strip().split(" ")
    return " ".join(words[:max_words])


LAYOUT = 'a JSON list of {"image": "relative/path.jpg", "caption": ["...", ...]}'


class RetrievalJsonParams(Params):
    annotation: str = Field(description="Karpathy-style JSON, e.g. flickr30k_test.json",
                            json_schema_extra=INPUT)
    image_root: str = Field(description="folder the annotation's image paths are relative to",
                            json_schema_extra=INPUT_LISTING)
    image_size: int = Field(default=224, ge=8)
    max_words: int = Field(default=30, ge=1)


class RetrievalJson:
    """Images with their ground-truth captions; sample id = the image's relative path."""

    Params = RetrievalJsonParams
    objectives: ClassVar[tuple[str, ...]] = ("retrieval",)
    modality: ClassVar[str] = "image"
    class_names = None

    @classmethod
    def preflight(cls, params: RetrievalJsonParams) -> None:
        """The annotation file and the image root exist (run by ``plan()``)."""
        path, root = Path(params.annotation).expanduser(), Path(params.image_root).expanduser()
        if not path.is_file():
            raise DataError(f"annotation '{path}' does not exist; expected {LAYOUT}")
        if not root.is_dir():
            raise DataError(f"image_root '{root}' does not exist")

    def __init__(self, params: RetrievalJsonParams) -> None:
        self.params = params
        self.preflight(params)
        path = Path(params.annotation).expanduser()
        self.root = Path(params.image_root).expanduser()
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"cannot read annotation '{path}': {exc.strerror}; expected {LAYOUT}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"annotation '{path}' is not valid UTF-8 JSON ({exc}); "
                            f"expected {LAYOUT}") from None
        if not isinstance(entries, list) or not entries:
            raise DataError(f"annotation '{path}' must be a non-empty list; expected {LAYOUT}")
        self.items: list[tuple[str, tuple[str, ...]]] = []
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or not isinstance(e.get("image"), str) or "caption" not in e:
                raise DataError(f"annotation '{path}' entry {i} is malformed; expected {LAYOUT}")
            caps = e["caption"] if isinstance(e["caption"], list) else [e["caption"]]
            self.items.append((e["image"], tuple(pre_caption(str(c), params.max_words) for c in caps)))
        ids = [img for img, _ in self.items]
        if len(set(ids)) != len(ids):
            raise DataError(f"annotation '{path}' lists an image more than once; ids must be unique")

    def __len__(self) -> int:
        return len(self.items)

    def sample_id(self, index: int) -> str:
        return self.items[index][0]

    def texts(self, index: int) -> tuple[str, ...]:
        return self.items[index][1]

    def __getitem__(self, index: int) -> Sample:
        image, captions = self.items[index]
        return Sample(image, load_image(self.root / image, self.params.image_size), None, captions)
