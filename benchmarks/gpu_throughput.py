"""GPU throughput of the harness on a CLIP ViT-B/32 (random init: speed does not depend on the
weights), every variant in one run:

  PGD at eps 1/255 on 224 px images through mmeval's PGD and zero-shot objective (10 class
  prompts), one batch size for every variant: eager fp32, eager bf16, bf16 with the image encoder
  torch.compile'd alone (``compile_image_side``), and bf16 with the whole attack step compiled as
  ``run.compile`` does now, in mode ``default`` and in ``reduce-overhead`` (CUDA graphs). Each
  row gives PGD-100 images/s (from the median time of ``--timed-steps``-step attacks), achieved
  TFLOP/s counting 2 x the forward FLOPs per step, the share of the bf16 GEMM peak measured on
  this GPU and of its datasheet dense bf16 peak, and peak memory;

  a check that the compiled step gives the eager step's adversarial images and verdicts (fp32);

  training epoch-equivalents through ``mmeval.training.train`` (the engine behind ``mmeval
  train``): TeCoA and MMCoA (its BERT-Attack needs the textattack plugin, which install.sh
  installs) on 50,000 32 x 32 images upsampled to 224 inside the model, bf16, compiled step.

    bash install.sh && python benchmarks/gpu_throughput.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

ARCH = "ViT-B-32"
SIZE = 224
DEVICE = torch.device("cuda")
#: datasheet dense bf16 tensor-core peaks (TFLOP/s), by a part of the device name
DATASHEET_BF16 = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "GH200": 989.0,
                  "B200": 2250.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
                  "RTX 4090": 165.0}
#: (label, precision, what is compiled, torch.compile mode)
VARIANTS = [("eager fp32", "fp32", None, None), ("eager bf16", "bf16", None, None),
            ("bf16 + compiled image encoder", "bf16", "encoder", "default"),
            ("bf16 + compiled step", "bf16", "step", "default"),
            ("bf16 + compiled step + CUDA graphs", "bf16", "step", "reduce-overhead")]


def datasheet_peak(name: str) -> float | None:
    return next((v for k, v in DATASHEET_BF16.items() if k in name), None)


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def gemm_peak(n: int = 8192, reps: int = 30) -> float:
    """bf16 GEMM TFLOP/s measured on this device (n x n x n, the best of three timings)."""
    a, b = (torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16) for _ in range(2))
    best = 0.0
    for _ in range(3):
        a @ b
        _sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync()
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12)
    return best


class _Classes:
    class_names = tuple(f"class {i}" for i in range(10))


class Attacker:
    """mmeval's PGD with the zero-shot objective on a fresh CLIP, in ``precision``, with nothing,
    the image encoder (``compiled="encoder"``) or the whole step (``"step"``) compiled in
    ``mode``."""

    def __init__(self, precision: str, compiled: str | None, mode: str | None) -> None:
        from mmeval.compilation import compile_image_side
        from mmeval.models.open_clip import OpenCLIPModel, OpenCLIPParams
        from mmeval.objectives.zero_shot import ZeroShotClassification

        torch._dynamo.reset()
        self.precision, self.step_mode = precision, mode if compiled == "step" else None
        self.model = OpenCLIPModel(OpenCLIPParams(), variant=ARCH).to(DEVICE).eval()
        self.flops = forward_flops(self.model)
        if compiled == "encoder":
            compile_image_side(self.model, mode)
        self.objective = ZeroShotClassification()
        self.objective.prepare(self.model, _Classes())

    def __call__(self, batch, steps: int, compiled: bool = True) -> torch.Tensor:
        from mmeval import PGD, BatchRandom, PGDParams
        from mmeval.attacks.base import attack_mode
        from mmeval.compilation import compiled_steps
        from mmeval.devices import autocast

        rng = BatchRandom(range(len(batch)), DEVICE)
        with attack_mode(self.model), autocast(DEVICE, self.precision), \
                compiled_steps(self.step_mode if compiled else None):
            out = PGD(PGDParams(eps=1 / 255, steps=steps))(self.model, batch, self.objective, rng)
        return out.images


def forward_flops(model) -> float:
    """FLOPs of one image's forward through the image tower."""
    x = torch.rand(2, 3, SIZE, SIZE, device=DEVICE)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.encode_image(x)
    return counter.get_total_flops() / 2


def random_batch(n: int):
    from mmeval import Batch

    torch.manual_seed(0)
    return Batch(tuple(str(i) for i in range(n)), torch.rand(n, 3, SIZE, SIZE, device=DEVICE),
                 torch.randint(0, 10, (n,), device=DEVICE))


def throughput(variant: tuple, n: int, steps: int, reps: int) -> dict:
    label, precision, compiled, mode = variant
    attack, batch = Attacker(precision, compiled, mode), random_batch(n)
    t0 = time.perf_counter()
    attack(batch, 3)  # warm-up: compilation, CUDA graph recording, allocator
    _sync()
    warm = time.perf_counter() - t0
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(reps):
        _sync()
        t0 = time.perf_counter()
        attack(batch, steps)
        _sync()
        times.append((time.perf_counter() - t0) / steps)
    step = statistics.median(times)
    memory = torch.cuda.max_memory_allocated() / 2**30 if DEVICE.type == "cuda" else float("nan")
    return {"variant": label, "batch": n, "step_s": step, "warmup_s": warm,
            "images_per_s": n / (100 * step), "tflops": n * 2 * attack.flops / step / 1e12,
            "forward_gflops": attack.flops / 1e9, "peak_mem_gib": memory}


def equivalence(n: int, steps: int = 10) -> str:
    """How far the compiled step's fp32 adversarial images are from the eager step's on the same
    model, and how many per-sample verdicts agree."""
    attack, batch = Attacker("fp32", "step", "default"), random_batch(n)
    a, b = attack(batch, steps, compiled=False), attack(batch, steps)
    with torch.no_grad():
        va, vb = (attack.objective.evaluate(attack.model, x, batch).correct for x in (a, b))
    return (f"compiled vs eager step, fp32, PGD-{steps} on {n} images: max |diff| "
            f"{(a - b).abs().max().item():.2e}, pixels differing "
            f"{(a != b).float().mean().item():.3%}, verdicts agreeing {int((va == vb).sum())}/{n}")


def train_epoch(defense: dict, batch_size: int, images: int) -> dict:
    from mmeval import train

    with tempfile.TemporaryDirectory() as out:
        spec = {"model": {"name": f"openclip/{ARCH}", "params": {"image_size": 32}},
                "dataset": {"name": "mmeval/toy", "params": {"n": images, "image_size": 32}},
                "defense": defense, "epochs": 1, "batch_size": batch_size, "precision": "bf16",
                "device": DEVICE.type, "progress": False, "output_dir": out, "compile": True,
                "optimizer": {"name": "sgd", "lr": 1e-5, "momentum": 0.9}}
        result = train(spec)
        return {"defense": defense["name"], "batch": batch_size, **result.epochs[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=1024, help="images per attack, every variant")
    p.add_argument("--timed-steps", type=int, default=20, help="PGD steps per timed attack")
    p.add_argument("--reps", type=int, default=3, help="timed attacks per variant (median)")
    p.add_argument("--peak", type=float, help="datasheet dense bf16 TFLOP/s (default: by name)")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--train-batch", type=int, default=256)
    p.add_argument("--train-images", type=int, default=50_000)
    p.add_argument("--smoke", action="store_true", help="everything on the CPU at toy sizes "
                   "(about 8 minutes on 2 cores, mostly compiling): checks the script, measures "
                   "nothing")
    args = p.parse_args()
    global DEVICE, SIZE
    if args.smoke:
        DEVICE, SIZE = torch.device("cpu"), 64
        args.batch, args.timed_steps, args.reps, args.train_images, args.train_batch = 2, 1, 1, 8, 4
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
    name = torch.cuda.get_device_name() if DEVICE.type == "cuda" else "CPU (smoke run)"
    sheet = args.peak or datasheet_peak(name)
    gemm = gemm_peak(*((256, 2) if args.smoke else ()))
    print(f"# {name} · torch {torch.__version__} · measured bf16 GEMM peak {gemm:.0f} TFLOP/s · "
          f"datasheet {sheet or 'unknown'} TFLOP/s", flush=True)
    print(f"| PGD-100, batch {args.batch} | images/s | ratio vs eager fp32 | TFLOP/s | share of "
          f"measured GEMM peak | share of datasheet peak | peak GiB | warm-up s |\n"
          "|---|---|---|---|---|---|---|---|", flush=True)
    rows: list[dict] = []
    for variant in VARIANTS:
        try:
            r = throughput(variant, args.batch, args.timed_steps, args.reps)
        except Exception as exc:  # report and go on to the next variant
            print(f"| {variant[0]} | failed: {type(exc).__name__}: {str(exc)[:120]} |", flush=True)
            continue
        finally:
            torch.cuda.empty_cache()
        rows.append(r)
        share = f"{100 * r['tflops'] / sheet:.1f}%" if sheet else "—"
        print(f"| {r['variant']} | {r['images_per_s']:.0f} | "
              f"{r['images_per_s'] / rows[0]['images_per_s']:.2f} | {r['tflops']:.0f} | "
              f"{100 * r['tflops'] / gemm:.1f}% | {share} | {r['peak_mem_gib']:.1f} | "
              f"{r['warmup_s']:.0f} |", flush=True)
    if rows:
        print(f"forward: {rows[0]['forward_gflops']:.2f} GFLOP per image")
    try:
        print(equivalence(min(args.batch, 64)), flush=True)
    except Exception as exc:
        print(f"equivalence: failed: {type(exc).__name__}: {exc}")
    if not args.skip_training:
        for defense in ({"name": "defenses/tecoa"}, {"name": "defenses/mmcoa"}):
            try:
                r = train_epoch(defense, args.train_batch, args.train_images)
                print(f"{r['defense']}: {args.train_images:,} images in {r['seconds']:.1f} s "
                      f"({r['samples_per_s']:.0f} samples/s, batch {r['batch']}, bf16, compiled "
                      "step)", flush=True)
            except Exception as exc:  # report and go on to the next measurement
                print(f"{defense['name']}: failed: {type(exc).__name__}: {exc}", flush=True)
    print(json.dumps({"gemm_peak_tflops": gemm, "datasheet_tflops": sheet, "rows": rows}))


if __name__ == "__main__":
    main()
