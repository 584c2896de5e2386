"""What each reference behaviour of the Co-Attack/SGA/MMCoA code changes, measured on shapes.

Retrieval on 100 shapes images x 5 captions with the tiny CLIP and tiny MLM, eps 2/255 and one word:
the text attack alone (`textattack/bert-attack-vlm`, with Co-Attack's KL goal and SGA's image goal)
and the joint attacks, each in `compat: "paper"` and `compat: "reference"`; for the text attack
also the reference mode with one behaviour left out (that behaviour as in paper mode), which shows
what that behaviour alone is worth. Prints TR@1 and IR@1 after the attack (lower: a stronger
attack) and how many of the 500 captions differ from the reference mode's.

    python benchmarks/reference_modes.py [--images 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from typing import Literal

import torch
from mmeval_textattack.compat import PAPER, REFERENCE, Compat
from mmeval_textattack.declared import VLMBertAttackParams
from mmeval_textattack.vlm_variant import VLMBertAttack

from mmeval import PluginHost, Store, evaluate, hookimpl

BEHAVIOURS = tuple(f.name for f in dataclasses.fields(REFERENCE))


class AblationParams(VLMBertAttackParams):
    without: Literal[BEHAVIOURS] = "offset"  # type: ignore[valid-type]


class Ablation(VLMBertAttack):
    """The reference mode with one behaviour as in paper mode."""

    Params = AblationParams
    params: AblationParams

    def compat(self) -> Compat:
        name = self.params.without
        return dataclasses.replace(REFERENCE, **{name: getattr(PAPER, name)})


class Local:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        registry.add("local/reference-without", Ablation)


def rows(images: int) -> list[dict]:
    attacks = ["clean"]
    for goal in ("kl", "image"):
        for mode in ("paper", "reference"):
            attacks.append({"name": "textattack/bert-attack-vlm", "label": f"text {goal} {mode}",
                            "params": {"caption_goal": goal, "compat": mode}})
        for name in BEHAVIOURS:
            attacks.append({"name": "local/reference-without", "label": f"text {goal} -{name}",
                            "params": {"caption_goal": goal, "compat": "reference",
                                       "without": name}})
    for joint in ("co-attack", "sga"):
        for mode in ("paper", "reference"):
            attacks.append({"name": f"multimodal/{joint}", "label": f"{joint} {mode}",
                            "params": {"compat": mode}})
    host = PluginHost()
    host.register(Local(), "local")
    with tempfile.TemporaryDirectory() as out:
        spec = {"name": "reference-modes", "models": ["zoo/tiny-clip-shapes"],
                "tasks": [{"dataset": {"name": "shapes", "params": {"n": images}},
                           "objective": "retrieval", "label": "shapes"}],
                "attacks": attacks, "metrics": ["tr@1", "ir@1"],
                "run": {"batch_size": 25, "seed": 0, "progress": False}, "output_dir": out}
        result = evaluate(spec, host=host)
        with Store(out) as store:
            texts = {c["attack"]: [t for r in store.records(c["id"])
                                   for t in r.extra.get("adv_texts", ())]
                     for c in result.cells}
        table = []
        for c in result.cells:
            label = c["attack"]
            family = " ".join(label.split()[:2]) if label.startswith("text") else label.split()[0]
            ref = texts.get(f"{family} reference") or []
            own = texts[label]
            table.append({"attack": label,
                          "tr@1": result.metric("tr@1", attack=label).value,
                          "ir@1": result.metric("ir@1", attack=label).value,
                          "differ": sum(a != b for a, b in zip(own, ref, strict=False))
                          if ref and own else None})
        return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"| attack | TR@1 | IR@1 | captions differing from reference mode (of {5 * args.images}) |")
    print("|---|---|---|---|")
    for r in rows(args.images):
        differ = "" if r["differ"] is None else str(r["differ"])
        print(f"| {r['attack']} | {100 * r['tr@1']:.1f} | {100 * r['ir@1']:.1f} | {differ} |")


if __name__ == "__main__":
    main()
