"""Time per 100 image-caption pairs of each joint attack, and the share spent in its text stage.

Same model (zoo/tiny-clip-shapes), same 100 shapes pairs (one caption per image, retrieval over
their gallery), attacks at their defaults (eps 2/255, one word per caption), run side by side in
one process; each repetition times every attack once, in turn, and the medians are printed. The
text-stage time is measured around the registered text attack each joint attack calls (SGA calls
it twice); the single-modality baselines are PGD (image) and BERT-Attack (text).

Co-Attack and SGA also run as a straightforward per-sample loop (the same attack called on one pair
at a time, with the same per-sample seeds): the ratio is what batching buys, and the agreement of
the two runs' adversarial captions and pixels checks that samples do not interact in a batch (up to
float rounding: a batch of one takes other kernels, and a sign step can flip on a near-zero
gradient component).

    python benchmarks/multimodal.py [--device cpu] [--batch 25] [--reps 3] [--no-per-sample]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from reference import sync

from mmeval import AttackOutput, Batch, BatchRandom, get_host
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


def run_batched(attack, model, objective, batches, size: int, device: torch.device) -> list:
    return [attack(model, b, objective, BatchRandom(range(i * size, i * size + len(b)), device))
            for i, b in enumerate(batches)]


def run_per_sample(attack, model, objective, batches, size: int, device: torch.device) -> list:
    """The same attack on one pair at a time: outputs regrouped like the batched run's."""
    outs = []
    for i, b in enumerate(batches):
        ones = [attack(model, b.subset(torch.tensor([j])), objective,
                       BatchRandom([i * size + j], device)) for j in range(len(b))]
        outs.append(AttackOutput(images=torch.cat([o.images for o in ones]),
                                 texts=tuple(t for o in ones for t in o.texts)))
    return outs


def agreement(a: list, b: list) -> tuple[float, float]:
    """Shares of identical adversarial captions and of identical adversarial pixels."""
    texts = [(x == y) for oa, ob in zip(a, b, strict=True)
             for x, y in zip(oa.texts, ob.texts, strict=True)]
    same = torch.cat([(oa.images == ob.images).flatten() for oa, ob in zip(a, b, strict=True)])
    return sum(texts) / len(texts), same.float().mean().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-per-sample", action="store_true", help="skip the per-sample loops")
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
            run_batched(attack, model, objective, batches, args.batch, device)
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
    step_costs(attacks["SGA"], model, batches[0], args.reps, device)
    if args.no_per_sample:
        return
    print(f"\n{'attack':<12} {'batched s':>10} {'per-sample s':>13} {'speed-up':>9} "
          f"{'same captions':>14} {'same pixels':>12}")
    for label in ("Co-Attack", "SGA"):
        attack = attacks[label]
        times: dict[str, list[float]] = {"batched": [], "per-sample": []}
        outs = {}
        for _ in range(args.reps):
            for name, fn in (("batched", run_batched), ("per-sample", run_per_sample)):
                sync(device)
                t0 = time.perf_counter()
                outs[name] = fn(attack, model, objective, batches, args.batch, device)
                sync(device)
                times[name].append(time.perf_counter() - t0)
        batched, single = (statistics.median(times[k]) for k in ("batched", "per-sample"))
        texts, pixels = agreement(outs["batched"], outs["per-sample"])
        print(f"{label:<12} {batched:>10.2f} {single:>13.2f} {single / batched:>8.1f}x "
              f"{100 * texts:>13.0f}% {100 * pixels:>11.2f}%")


def step_costs(sga, model, batch: Batch, reps: int, device: torch.device) -> None:
    """Where one SGA image step goes: the encoder's forward and backward on one view (Co-Attack's
    step) and on SGA's five, and building the rescaled views; medians in ms, interleaved."""
    x = batch.images
    rng = BatchRandom(range(len(batch)), device)

    def encoder(views: int) -> None:
        adv = torch.cat([x] * views).requires_grad_(True)
        model.encode_image(adv).sum().backward()

    def rescaled() -> None:
        adv = x.clone().requires_grad_(True)
        torch.cat(sga.views(adv, rng)).sum().backward()

    parts = {"encoder, 1 view": lambda: encoder(1), "encoder, 5 views": lambda: encoder(5),
             "rescaled views": rescaled}
    times: dict[str, list[float]] = {k: [] for k in parts}
    for _ in range(5 * reps):
        for name, fn in parts.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    print(f"\none SGA image step on a batch of {len(batch)} (forward + backward), median ms:")
    for name, t in times.items():
        print(f"  {name:<18} {1000 * statistics.median(t):8.1f}")


if __name__ == "__main__":
    main()
