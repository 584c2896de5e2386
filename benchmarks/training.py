"""Adversarial training-step throughput, side by side in one run, on the same model and data:

  TeCoA (Mao et al., ICLR 2023): mmeval's engine (``mmeval.training.train`` with
  ``defenses/tecoa``) vs a hand-written loop of the same step (PGD 2 x 1/255 on the zero-shot CE
  over frozen class-prompt embeddings, then CE on the adversarial images, SGD on the image tower);

  MMCoA (Zhou et al., arXiv 2404.19287): the engine (``defenses/mmcoa``: PGD 10 x 1/255 on the
  zero-shot CE, BERT-Attack on each image's class prompt, the two contrastive losses, both towers
  and the scale train) vs a loop that runs the same step but attacks the texts one at a time, as
  the reference code does.

Each variant passes once over the same ``--n`` shapes images in the same order (one warm-up pass
first); the time covers data, attacks and updates, not checkpoint writing. Prints samples/s and the
ratio of the engine over the loop (medians over ``--reps`` interleaved repetitions).

    python benchmarks/training.py [--device cpu] [--n 256] [--batch 32] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from reference import hand_pgd, sync

from mmeval import Batch, BatchRandom, InBatchMatching, contrastive_loss, create_model, get_host, train
from mmeval.attacks.base import attack_mode
from mmeval.data.shapes import ShapesDataset, ShapesParams

MODEL = "zoo/tiny-clip-shapes"
TEMPLATE = "This is a photo of a {}"
LR = 1e-3
EPS = 1 / 255  # TeCoA and MMCoA train at eps 1/255 with steps of 1/255


def engine(defense: str, args: argparse.Namespace) -> float:
    """Seconds of one epoch of ``defense`` through the training engine."""
    with tempfile.TemporaryDirectory() as out:
        result = train({"model": {"name": MODEL}, "dataset": {"name": "shapes",
                                                                "params": {"n": args.n}},
                        "defense": defense, "epochs": 1, "batch_size": args.batch,
                        "optimizer": {"name": "sgd", "lr": LR}, "device": args.device,
                        "progress": False, "output_dir": out})
    return result.epochs[0]["seconds"]


def _batches(data: ShapesDataset, batch: int, device: torch.device):
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0)).tolist()
    for s in range(0, len(order), batch):
        yield Batch.collate([data[i] for i in order[s:s + batch]]).to(device)


def tecoa_loop(args: argparse.Namespace) -> float:
    """Seconds of one epoch of the hand-written TeCoA loop."""
    device = torch.device(args.device)
    model = create_model(MODEL).to(device)
    data = ShapesDataset(ShapesParams(n=args.n))
    towers = model.tower_parameters()
    for name, params in towers.items():
        for p in params:
            p.requires_grad_(name == "image")
    opt = torch.optim.SGD(towers["image"], lr=LR, momentum=0.9)
    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        text = model.encode_text([TEMPLATE.format(c) for c in data.class_names])
    for b in _batches(data, args.batch, device):
        model.eval()
        with attack_mode(model):
            adv = hand_pgd(model, b.images, b.labels, text, EPS, EPS, 2)
        model.train()
        loss = F.cross_entropy(model.logit_scale * model.encode_image(adv) @ text.T, b.labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - t0


def mmcoa_loop(args: argparse.Namespace) -> float:
    """Seconds of one epoch of MMCoA's step with the texts attacked one at a time."""
    device = torch.device(args.device)
    model = create_model(MODEL).to(device)
    data = ShapesDataset(ShapesParams(n=args.n))
    text_attack = get_host().registry.get("attack", "textattack/bert-attack-vlm").build(
        {"caption_goal": "kl"})
    matching = InBatchMatching()
    params = [p for ps in model.tower_parameters().values() for p in ps]
    opt = torch.optim.SGD(params, lr=LR, momentum=0.9)
    prompts = [TEMPLATE.format(c) for c in data.class_names]
    sync(device)
    t0 = time.perf_counter()
    for i, b in enumerate(_batches(data, args.batch, device)):
        texts = [prompts[y] for y in b.labels.tolist()]
        model.eval()
        with attack_mode(model):
            with torch.no_grad():
                class_text = model.encode_text(prompts)
            adv = hand_pgd(model, b.images, b.labels, class_text, EPS, EPS, 10)
            adv_texts = []
            for j, t in enumerate(texts):
                one = replace(b.subset(torch.tensor([j], device=device)), texts=((t,),), prompts=None)
                out = text_attack(model, one, matching, BatchRandom([i * args.batch + j], device))
                adv_texts.append(out.texts[0][0] if out.texts is not None else t)
        model.train()
        scale = model.trainable_logit_scale()
        loss = 0.5 * contrastive_loss(model.encode_image(adv), model.encode_text(texts), scale) + \
            0.5 * contrastive_loss(model.encode_image(b.images), model.encode_text(adv_texts), scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - t0


VARIANTS = {
    "TeCoA": {"engine": lambda a: engine("defenses/tecoa", a), "loop": tecoa_loop},
    "MMCoA": {"engine": lambda a: engine("defenses/mmcoa", a), "loop": mmcoa_loop},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=256, help="training images per epoch")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    times = {(d, v): [] for d, fns in VARIANTS.items() for v in fns}
    for rep in range(args.reps + 1):  # the first round warms up (MLM load, caches), dropped
        for (defense, variant), seconds in times.items():
            t = VARIANTS[defense][variant](args)
            if rep:
                seconds.append(t)
    print(f"{args.n} shapes images, batch {args.batch}, {MODEL}, device {args.device}, "
          f"torch {torch.__version__}, median of {args.reps}")
    print(f"{'defense':<8}{'engine samples/s':>18}{'loop samples/s':>16}{'engine / loop':>15}")
    rows = {}
    for defense in VARIANTS:
        e, lp = (statistics.median(times[(defense, v)]) for v in ("engine", "loop"))
        rows[defense] = {"engine_s": e, "loop_s": lp, "speedup": lp / e}
        print(f"{defense:<8}{args.n / e:>18.1f}{args.n / lp:>16.1f}{lp / e:>14.2f}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
