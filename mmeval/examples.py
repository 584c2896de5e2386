"""A few samples of every cell kept for people to look at: the clean and adversarial image, the
perturbation amplified, the predictions, and a text attack's clean and adversarial text. Saved
in ``<run dir>/examples/<cell id>/`` while the cell runs (a bounded number, ``run.examples``) and
shown by report.html. For audio the three pictures are log-magnitude spectrograms, and the clean
and adversarial waveforms and the amplified perturbation are saved beside them as 16-bit WAV
files to listen to."""

from __future__ import annotations

import io
import json
import wave as wave_module
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .store import refuse_link, write_output
from .types import Batch, SampleRecord

if TYPE_CHECKING:
    import torch

FOLDER = "examples"


def _png(image: torch.Tensor) -> bytes:
    pixels = (image.detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255).round()
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, format="png")
    return buf.getvalue()


def _spectrogram(wave: torch.Tensor) -> torch.Tensor:
    """A ``[3, F, T]`` picture in [0, 1] of ``wave``'s log-magnitude spectrogram (low frequencies
    at the bottom), normalized to its own 80 dB range."""
    import torch

    x = wave.detach().float().cpu()
    spec = torch.stft(x, n_fft=256, hop_length=64, window=torch.hann_window(256),
                      return_complex=True).abs()
    db = 20 * torch.log10(spec.clamp_min(1e-6))
    db = (db - db.max() + 80).clamp_min(0) / 80
    return db.flip(0).expand(3, -1, -1)


def _wav(wave: torch.Tensor, sample_rate: int) -> bytes:
    samples = (wave.detach().float().clamp(-1, 1).cpu().numpy() * 32767).round().astype("<i2")
    buf = io.BytesIO()
    with wave_module.open(buf, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(samples.tobytes())
    return buf.getvalue()


def _name(names: Sequence[str] | None, index: int | None) -> str | None:
    if index is None:
        return None
    return names[index] if names is not None and 0 <= index < len(names) else f"#{index}"


def saved(run_dir: Path, cell_id: str) -> int:
    """How many examples of ``cell_id`` are saved."""
    return len(list((run_dir / FOLDER / cell_id).glob("*.json")))


def save(run_dir: Path, cell_id: str, batch: Batch, adv_signal: torch.Tensor,
         records: Sequence[SampleRecord], class_names: Sequence[str] | None,
         clean_prompts: Sequence[str], count: int) -> None:
    """Save up to ``count`` examples of ``batch`` (after those already saved)."""
    folder = run_dir / FOLDER / cell_id
    start = saved(run_dir, cell_id)
    take = min(count - start, len(batch))
    if take <= 0:
        return
    folder.mkdir(parents=True, exist_ok=True)
    refuse_link(folder)
    for j in range(take):
        k, r = start + j, records[j]
        clean, adv = batch.signal[j], adv_signal[j]
        delta = (adv.float() - clean.float())
        peak = float(delta.abs().max())
        if batch.modality == "audio":
            assert batch.sample_rate is not None
            for kind, wave in (("clean", clean), ("adv", adv),
                               ("delta", delta / peak if peak > 0 else delta)):
                write_output(folder, f"{k}-{kind}.wav", _wav(wave, batch.sample_rate))
                write_output(folder, f"{k}-{kind}.png", _png(_spectrogram(wave)))
        else:
            write_output(folder, f"{k}-clean.png", _png(clean))
            write_output(folder, f"{k}-adv.png", _png(adv))
            write_output(folder, f"{k}-delta.png",
                         _png(0.5 + delta / (2 * peak) if peak > 0 else delta + 0.5))
        entry: dict[str, Any] = {
            "sample_id": r.sample_id, "label": _name(class_names, r.label),
            "clean_pred": _name(class_names, r.clean_pred) if class_names else None,
            "adv_pred": _name(class_names, r.adv_pred) if class_names else None,
            "clean_correct": r.clean_correct, "adv_correct": r.adv_correct,
            "amplification": round(1 / (2 * peak), 1) if peak > 0 else None,
            "linf": r.linf, "texts": [], "adv_texts": []}
        if "adv_texts" in r.extra:
            entry["texts"], entry["adv_texts"] = list(batch.texts[j]), list(r.extra["adv_texts"])
        prompts = r.extra.get("adv_prompts", {})
        if r.label is not None and str(r.label) in prompts and clean_prompts:
            entry["texts"], entry["adv_texts"] = [clean_prompts[r.label]], [prompts[str(r.label)]]
        write_output(folder, f"{k}.json", json.dumps(entry))


def load(run_dir: Path, cell_id: str) -> list[dict[str, Any]]:
    """The saved examples of ``cell_id``, each with the paths of its three images."""
    folder = run_dir / FOLDER / cell_id
    out = []
    for path in sorted(folder.glob("*.json"), key=lambda p: int(p.stem)):
        entry = json.loads(path.read_text())
        entry["images"] = {kind: folder / f"{path.stem}-{kind}.png"
                           for kind in ("clean", "delta", "adv")}
        out.append(entry)
    return out
