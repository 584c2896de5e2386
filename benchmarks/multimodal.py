"""Time per 100 image-caption pairs of each joint attack, and the share spent in its text stage.

Same model (zoo/tiny-clip-shapes), same 100 shapes pairs (one caption per image, retrieval over
their gallery), attacks at their defaults (eps 2/255, one word per caption), run side by side in
one process; each repetition times every attack once, in turn, and the medians are printed. The
text-stage time is measured around the registered text attack each joint attack calls (SGA calls
it twice); the single-modality baselines are PGD (image) and BERT-Attack (text).

    python benchmarks/multimodal.py [--device cpu] [--batch 25] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mmeval import Batch, BatchRandom, get_host
from mmeval.data.shapes import ShapesDataset, ShapesParams
from mmeval.objectives.retrieval import Retrieval
from mmeval.zoo.tiny_clip import TinyCLIP

PAIRS = 100
ATTACKS = {
    "PGD": ("mmeval/pgd", {"eps": 2 / 255, "steps": 10, "step_size": 0.5 / 255}),
    "BERT-Attack": ("textattack/bert-attack-vlm", {}),
    "Sep-Attack": ("multimodal/sep-attack", {}),
    "Co-Attack": ("multimodal/co-attack", {}),
    "SGA": ("multimodal/sga", {}),
}


class Timed:
    """Wraps an attack's text stage and adds up the time spent in it."""

    def __init__(self, stage, device: torch.device) -> None:
        self.stage, self.device, self.seconds = stage, device, 0.0

    @property
    def threat_model(self):
        return self.stage.threat_model

    def __call__(self, *args):
        sync(self.device)
        t0 = time.perf_counter()
        out = self.stage(*args)
        sync(self.device)
        self.seconds += time.perf_counter() - t0
        return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    device = torch.device(args.device)
    model = TinyCLIP().to(device).eval()
    data = ShapesDataset(ShapesParams(n=PAIRS, captions_per_image=1))
    objective = Retrieval()
    objective.prepare(model, data)
    batches = [Batch.collate([data[i] for i in range(s, min(s + args.batch, PAIRS))]).to(device)
               for s in range(0, PAIRS, args.batch)]
    registry = get_host().registry
    attacks = {label: registry.get("attack", name).build(params)
               for label, (name, params) in ATTACKS.items()}
    totals: dict[str, list[float]] = {label: [] for label in attacks}
    text: dict[str, list[float]] = {label: [] for label in attacks}
    for _ in range(args.reps + 1):  # the first round warms up (MLM load, caches) and is dropped
        for label, attack in attacks.items():
            timer = None
            if hasattr(attack, "text_stage"):
                timer = attack.text_stage = Timed(getattr(attack.text_stage, "stage",
                                                          attack.text_stage), device)
            sync(device)
            t0 = time.perf_counter()
            for i, b in enumerate(batches):
                attack(model, b, objective, BatchRandom(range(i * args.batch, i * args.batch + len(b)),
                                                        device))
            sync(device)
            totals[label].append(time.perf_counter() - t0)
            text[label].append(timer.seconds if timer else (totals[label][-1] if "BERT" in label
                                                            else 0.0))
    print(f"{PAIRS} image-caption pairs, batch {args.batch}, device {device}, torch {torch.__version__}, "
          f"median of {args.reps}")
    print(f"{'attack':<12} {'s / 100 pairs':>14} {'text stage s':>13} {'text share':>11}")
    for label in attacks:
        total = statistics.median(totals[label][1:])
        stage = statistics.median(text[label][1:])
        print(f"{label:<12} {total:>14.2f} {stage:>13.2f} {100 * stage / total:>10.0f}%")


if __name__ == "__main__":
    main()
