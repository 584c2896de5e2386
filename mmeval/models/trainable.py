"""What the training engine needs from a model (:class:`mmeval.protocols.TrainableModel`): its
parameters split into towers (``image``, ``text``, ``scale``), a differentiable logit scale, and
a checkpoint in the model's own format that the same adapter loads back with ``pretrained=``.
Checkpoints are written as safetensors and read through :func:`~mmeval.checkpoints.load_weights` only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ..checkpoints import load_weights
from ..errors import ModelLoadError

TOWERS = ("image", "audio", "text", "scale")


class Trainable:
    """Mixin for ``nn.Module`` VLModels. Subclasses name the parameters of the image (and audio)
    tower by prefix and the logit-scale parameter(s) by name (the first one holds log(scale));
    everything else is the text tower. ``checkpoint_module`` is the module whose state dict is the native
    checkpoint and ``checkpoint_ref`` the spec entry that loads such a file."""

    image_prefixes: ClassVar[tuple[str, ...]]
    audio_prefixes: ClassVar[tuple[str, ...]] = ()
    scale_names: ClassVar[tuple[str, ...]]
    checkpoint_file: ClassVar[str]

    def checkpoint_module(self) -> nn.Module:
        raise NotImplementedError

    def checkpoint_ref(self, path: Path) -> dict[str, Any]:
        raise NotImplementedError

    def tower_parameters(self) -> dict[str, list[nn.Parameter]]:
        towers: dict[str, list[nn.Parameter]] = {t: [] for t in TOWERS}
        for name, p in self.named_parameters():  # type: ignore[attr-defined]
            tower = ("image" if name.startswith(self.image_prefixes)
                     else "audio" if self.audio_prefixes and name.startswith(self.audio_prefixes)
                     else "scale" if name in self.scale_names else "text")
            towers[tower].append(p)
        return towers

    def trainable_logit_scale(self) -> torch.Tensor:
        """exp of the log-scale parameter, differentiable (what contrastive losses use)."""
        return self.get_parameter(self.scale_names[0]).exp()  # type: ignore[attr-defined]

    def save_checkpoint(self, directory: str | Path) -> dict[str, Any]:
        """Write the native checkpoint into ``directory``; return the model spec that loads it."""
        from safetensors.torch import save_file

        path = Path(directory) / self.checkpoint_file
        path.parent.mkdir(parents=True, exist_ok=True)
        state = self.checkpoint_module().state_dict()
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path))
        return self.checkpoint_ref(path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Load a checkpoint written by :meth:`save_checkpoint` (or any native one) in place."""
        try:
            self.checkpoint_module().load_state_dict(load_weights(path))
        except RuntimeError as exc:
            raise ModelLoadError(f"'{path}' does not fit this model: {exc}") from exc
