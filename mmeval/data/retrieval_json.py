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


def entries(params: RetrievalJsonParams) -> list[tuple[str, tuple[str, ...]]]:
    """The (image, cleaned captions) pairs of the annotation, each checked: a relative image path
    inside ``image_root``, listed once, with a non-empty list of non-empty string captions (or one
    such string). DataError naming the entry otherwise."""
    path, root = Path(params.annotation).expanduser(), Path(params.image_root).expanduser()
    if not path.is_file():
        raise DataError(f"annotation '{path}' does not exist; expected {LAYOUT}")
    if not root.is_dir():
        raise DataError(f"image_root '{root}' does not exist")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read annotation '{path}': {exc.strerror}; expected {LAYOUT}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"annotation '{path}' is not valid UTF-8 JSON ({type(exc).__name__}); "
                        f"expected {LAYOUT}") from None
    if not isinstance(raw, list) or not raw:
        raise DataError(f"annotation '{path}' must be a non-empty list; expected {LAYOUT}")
    inside, seen = root.resolve(), set()
    items = []
    for i, e in enumerate(raw):
        where = f"annotation '{path}' entry {i}"
        if not isinstance(e, dict) or not isinstance(e.get("image"), str) or not e["image"]:
            raise DataError(f"{where} has no image path; expected {LAYOUT}")
        image, caps = e["image"], e.get("caption")
        if Path(image).is_absolute() or not (root / image).resolve().is_relative_to(inside):
            raise DataError(f"{where}: image '{image}' is not a relative path inside image_root "
                            f"'{root}'")
        if image in seen:
            raise DataError(f"{where}: image '{image}' is listed more than once; ids must be "
                            "unique")
        seen.add(image)
        caps = [caps] if isinstance(caps, str) else caps
        if (not isinstance(caps, list) or not caps
                or not all(isinstance(c, str) and c.strip() for c in caps)):
            raise DataError(f"{where}: caption must be a non-empty string or a non-empty list of "
                            f"them (got {json.dumps(e.get('caption'))[:60]})")
        items.append((image, tuple(pre_caption(c, params.max_words) for c in caps)))
    return items


class RetrievalJson:
    """Images with their ground-truth captions; sample id = the image's relative path."""

    Params = RetrievalJsonParams
    objectives: ClassVar[tuple[str, ...]] = ("retrieval",)
    modality: ClassVar[str] = "image"
    class_names = None

    @classmethod
    def preflight(cls, params: RetrievalJsonParams) -> None:
        """The annotation is well-formed and the image root exists (run by ``plan()``, so a bad
        annotation fails before any compute)."""
        entries(params)

    def __init__(self, params: RetrievalJsonParams) -> None:
        self.params = params
        self.root = Path(params.image_root).expanduser()
        self.items = entries(params)

    def __len__(self) -> int:
        return len(self.items)

    def sample_id(self, index: int) -> str:
        return self.items[index][0]

    def texts(self, index: int) -> tuple[str, ...]:
        return self.items[index][1]

    def __getitem__(self, index: int) -> Sample:
        image, captions = self.items[index]
        return Sample(image, load_image(self.root / image, self.params.image_size), None, captions)
