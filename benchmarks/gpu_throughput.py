"""GPU throughput of the harness on a CLIP ViT-B/32 (random init: speed does not depend on the
weights), side by side in one run:

  PGD-100 at eps 1/255 on 224 px images through mmeval's PGD and zero-shot objective, batch size
  found by ``mmeval.autobatch``, in fp32 and bf16 (and with ``--compile``, the image encoder
  torch.compile'd as ``run.compile`` does): images/s, achieved TFLOP/s counting 2 x the forward
  FLOPs per step, and the share of a bf16 dense peak (``--peak``, TFLOP/s);

  training epoch-equivalents through ``mmeval.training.train`` (the engine behind ``mmeval
  train``): TeCoA and MMCoA on 50,000 32 x 32 images upsampled to 224 inside the model, bf16
  (compiled with ``--compile``).

    python benchmarks/gpu_throughput.py [--peak 989] [--compile] [--skip-training]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

ARCH = "ViT-B-32"


def _model(image_size: int | None = None):
    from mmeval.models.open_clip import OpenCLIPModel, OpenCLIPParams

    return OpenCLIPModel(OpenCLIPParams(image_size=image_size), variant=ARCH).cuda().eval()


class _Classes:
    class_names = tuple(f"class {i}" for i in range(10))


def forward_flops(model) -> float:
    """FLOPs of one image's forward through the image tower."""
    x = torch.rand(8, 3, 224, 224, device="cuda")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.encode_image(x)
    return counter.get_total_flops() / 8


def pgd_throughput(precision: str, compile_tower: bool, steps: int, n: int | None = None) -> dict:
    from mmeval import PGD, Batch, BatchRandom, PGDParams
    from mmeval.autobatch import largest_fitting
    from mmeval.compilation import compile_image_side
    from mmeval.devices import autocast
    from mmeval.objectives.zero_shot import ZeroShotClassification

    model = _model()
    flops = forward_flops(model)
    if compile_tower:
        compile_image_side(model, "default")
    objective = ZeroShotClassification()
    objective.prepare(model, _Classes())
    device = torch.device("cuda")

    def batch_of(n: int) -> Batch:
        return Batch(tuple(str(i) for i in range(n)), torch.rand(n, 3, 224, 224, device=device),
                     torch.randint(0, 10, (n,), device=device))

    def attack(n: int, k: int) -> None:
        b = batch_of(n)
        with autocast(device, precision):
            PGD(PGDParams(eps=1 / 255, steps=k))(model, b, objective, BatchRandom(range(n), device))

    if n is None:
        n = int(0.9 * largest_fitting(lambda m: attack(m, 1), start=64))
    attack(n, 2)  # warm-up (and compilation)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    attack(n, steps)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    images_s = n / seconds
    tflops = images_s * steps * 2 * flops / 1e12
    return {"precision": precision, "compile": compile_tower, "batch": n, "seconds": seconds,
            "images_per_s": images_s, "tflops": tflops, "forward_gflops": flops / 1e9,
            "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30}


def train_epoch(defense: dict, batch_size: int, compiled: bool) -> dict:
    from mmeval import train

    with tempfile.TemporaryDirectory() as out:
        spec = {"model": {"name": f"openclip/{ARCH}", "params": {"image_size": 32}},
                "dataset": {"name": "mmeval/toy", "params": {"n": 50_000, "image_size": 32}},
                "defense": defense, "epochs": 1, "batch_size": batch_size, "precision": "bf16",
                "device": "cuda", "progress": False, "output_dir": out, "compile": compiled,
                "optimizer": {"name": "sgd", "lr": 1e-5, "momentum": 0.9}}
        result = train(spec)
        return {"defense": defense["name"], "batch": batch_size, **result.epochs[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--peak", type=float, default=989.0, help="bf16 dense peak TFLOP/s of the GPU")
    p.add_argument("--compile", action="store_true",
                   help="also time PGD with a torch.compile'd image encoder; compile for training")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--train-batch", type=int, default=256)
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
    print(f"# {torch.cuda.get_device_name()} · torch {torch.__version__}")
    print(f"| PGD-{args.steps} | batch | images/s | ratio vs fp32 | TFLOP/s | share of "
          f"{args.peak:g} | peak GiB |\n|---|---|---|---|---|---|---|", flush=True)
    rows: list[dict] = []
    variants = [("fp32", False), ("bf16", False)] + ([("bf16", True)] if args.compile else [])
    for precision, compiled in variants:
        try:
            r = pgd_throughput(precision, compiled, args.steps, rows[-1]["batch"] if compiled else None)
        except torch.OutOfMemoryError as exc:
            print(f"| {precision} + compile | failed: {str(exc)[:80]} |")
            continue
        finally:
            torch.cuda.empty_cache()
        rows.append(r)
        name = r["precision"] + (" + compile" if r["compile"] else "")
        print(f"| {name} | {r['batch']} | {r['images_per_s']:.0f} | "
              f"{r['images_per_s'] / rows[0]['images_per_s']:.2f} | {r['tflops']:.0f} | "
              f"{100 * r['tflops'] / args.peak:.1f}% | {r['peak_mem_gib']:.1f} |", flush=True)
    print(f"forward: {rows[0]['forward_gflops']:.2f} GFLOP per image")
    if not args.skip_training:
        for defense in ({"name": "defenses/tecoa"}, {"name": "defenses/mmcoa"}):
            try:
                r = train_epoch(defense, args.train_batch, args.compile)
                print(f"{r['defense']}: 50,000 images in {r['seconds']:.1f} s "
                      f"({r['samples_per_s']:.0f} samples/s, batch {r['batch']}, bf16)", flush=True)
            except Exception as exc:  # report and go on to the next measurement
                print(f"{defense['name']}: failed: {type(exc).__name__}: {exc}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
