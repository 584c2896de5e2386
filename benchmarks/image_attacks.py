"""PGD-10 and PGD-100 three ways on the same model and data, timed side by side in one run:

  (a) a hand-written torch PGD loop (class-prompt embeddings computed once, parameters frozen);
  (b) raw torchattacks.PGD on a naive logits wrapper that re-encodes the class prompts in every
      forward (what wrapping a CLIP for torchattacks looks like without mmeval);
  (c) mmeval's torchattacks adapter (torchattacks/pgd through the zero-shot objective);
  (d) with ``--compile``: (c) on the model with its image encoder torch.compile'd, as
      ``run.compile`` does for attacks that step in their own code;
  (e) mmeval's own PGD (``mmeval/pgd``: per-sample uniform random start, step 1/255, as (a));
  (f) with ``--compile``: (e) with the whole attack step compiled as one graph, as
      ``run.compile`` does for mmeval's PGD-family attacks.

Prints time ratios against (a) (median over interleaved repetitions) and the peak extra memory of
each variant (measured in a fresh subprocess: peak RSS on CPU, max allocated on CUDA).

    python benchmarks/image_attacks.py [--device cpu] [--batch 64] [--reps 7] [--steps 10 100]
                                       [--compile]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import threading
import time

import torch
from reference import hand_pgd, sync

EPS, ALPHA = 4 / 255, 1 / 255


def setup(device: str, batch: int, compiled: bool = False):
    from mmeval import Batch, BatchRandom
    from mmeval.compilation import compile_image_side
    from mmeval.data.shapes import ShapesDataset, ShapesParams
    from mmeval.objectives.zero_shot import ZeroShotClassification
    from mmeval.zoo.tiny_clip import TinyCLIP

    model = TinyCLIP().to(device).eval()
    if compiled:
        model = compile_image_side(model, "default")
    data = ShapesDataset(ShapesParams(n=batch, classes="shape-color"))  # 100 class prompts
    b = Batch.collate([data[i] for i in range(batch)]).to(device)
    objective = ZeroShotClassification()
    objective.prepare(model, data)
    return model, b, objective, BatchRandom(range(batch), device)


def hand_loop(model, b, objective, rng, steps):
    """(a): the loop a careful user writes by hand, parameters frozen."""
    for p in model.parameters():
        p.requires_grad_(False)
    adv = hand_pgd(model, b.images, b.labels, objective.text_features, EPS, ALPHA, steps)
    for p in model.parameters():
        p.requires_grad_(True)
    return adv


class NaiveLogits(torch.nn.Module):
    """(b): re-encodes the class prompts in every forward."""

    def __init__(self, model, prompts):
        super().__init__()
        self.model, self.prompts = model, list(prompts)

    def forward(self, x):
        return self.model.logit_scale * self.model.encode_image(x) @ self.model.encode_text(
            self.prompts).T


def raw_torchattacks(model, b, objective, rng, steps):
    import torchattacks

    atk = torchattacks.PGD(NaiveLogits(model, objective.prompts), eps=EPS, alpha=ALPHA, steps=steps)
    return atk(b.images, b.labels)


def mmeval_adapter(model, b, objective, rng, steps):
    from mmeval import get_host

    attack = get_host().registry.get("attack", "torchattacks/pgd").build(
        {"eps": EPS, "alpha": ALPHA, "steps": steps})
    return attack(model, b, objective, rng).images


def mmeval_pgd(model, b, objective, rng, steps):
    from mmeval import PGD, PGDParams

    attack = PGD(PGDParams(eps=EPS, step_size=ALPHA, steps=steps))
    return attack(model, b, objective, rng).images


def mmeval_pgd_compiled(model, b, objective, rng, steps):
    from mmeval.compilation import compiled_steps

    with compiled_steps("default"):
        return mmeval_pgd(model, b, objective, rng, steps)


VARIANTS = {"a: hand-written loop": hand_loop,
            "b: raw torchattacks, naive wrapper": raw_torchattacks,
            "c: mmeval adapter": mmeval_adapter,
            "e: mmeval PGD": mmeval_pgd}
COMPILED = "d: mmeval adapter, compiled encoder"  # the only variant on the compiled-encoder model
COMPILED_VARIANTS = {COMPILED: mmeval_adapter, "f: mmeval PGD, compiled step": mmeval_pgd_compiled}


def _run(name: str, setups: dict, steps: int):
    model, b, objective, rng = setups[name == COMPILED]
    return {**VARIANTS, **COMPILED_VARIANTS}[name](model, b, objective, rng, steps)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _memory_child(name: str, device: str, batch: int, steps: int, queue) -> None:
    """Peak memory of one run of a variant above what the process held before it."""
    setups = {name == COMPILED: setup(device, batch, compiled=name == COMPILED)}
    _run(name, setups, steps)  # warm-up: lazy imports, allocator caches, compilation
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _run(name, setups, steps)
        torch.cuda.synchronize()
        queue.put((torch.cuda.max_memory_allocated() - base) / 2**20)
        return
    base, peak, done = _rss_mib(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _run(name, setups, steps)
    done.set()
    sampler.join()
    queue.put(max(0.0, peak[0] - base))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--compile", action="store_true", help="also time (d) and (f)")
    args = ap.parse_args()
    names = sorted([*VARIANTS, *(COMPILED_VARIANTS if args.compile else [])])
    setups = {False: setup(args.device, args.batch)}
    if args.compile:
        setups[True] = setup(args.device, args.batch, compiled=True)
    rows: dict[str, dict] = {}
    for steps in args.steps:
        times: dict[str, list[float]] = {k: [] for k in names}
        for name in names:  # warm-up (and compilation)
            _run(name, setups, steps)
        for _ in range(args.reps):
            for name in names:
                sync(args.device)
                t0 = time.perf_counter()
                _run(name, setups, steps)
                sync(args.device)
                times[name].append(time.perf_counter() - t0)
        ctx = mp.get_context("spawn")
        memory = {}
        for name in names:
            queue = ctx.Queue()
            proc = ctx.Process(target=_memory_child,
                               args=(name, args.device, args.batch, steps, queue))
            proc.start()
            memory[name] = queue.get()
            proc.join()
        base = statistics.median(times["a: hand-written loop"])
        print(f"PGD-{steps} eps {EPS * 255:.0f}/255, tiny CLIP, 100 class prompts, batch "
              f"{args.batch}, {args.device}, {args.reps} interleaved reps, torch {torch.__version__}")
        print(f"{'variant':<38}{'median s':>10}{'ratio vs a':>12}{'peak extra MiB':>16}")
        for name in names:
            med = statistics.median(times[name])
            rows[f"PGD-{steps} {name}"] = {"median_s": med, "ratio": med / base,
                                           "peak_mib": memory[name]}
            print(f"{name:<38}{med:>10.3f}{med / base:>12.3f}{memory[name]:>16.1f}", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
