"""Multi-Shield on shapes: the zoo's shapes classifier alone vs guarded by the tiny CLIP.

Non-adaptive: PGD crafted on the classifier alone (eps 4/255 and 8/255, 20 steps), scored on the
classifier and on Multi-Shield — the same adversarial points, since a transfer attack's seeds
derive from what crafts it. Adaptive: PGD on CE(true) + CE(reject) against Multi-Shield itself.

    mmeval run examples/multi_shield_shapes.py
"""

from mmeval import EvalSpec

CLASSIFIER = {"name": "zoo/tiny-classifier-shapes", "label": "classifier"}

SPEC = EvalSpec(
    name="multi-shield-shapes",
    models=[CLASSIFIER,
            {"name": "zoo/tiny-clip-shapes", "label": "tiny CLIP", "include_undefended": False,
             "defenses": [{"name": "defenses/multi-shield", "label": "Multi-Shield"}]}],
    tasks=[{"dataset": {"name": "shapes", "params": {"n": 200}}, "label": "shapes-10"}],
    attacks=["clean"]
    + [{"name": "mmeval/pgd", "params": {"eps": k / 255, "steps": 20}, "source": CLASSIFIER,
        "label": f"pgd {k}/255 on the classifier"} for k in (4, 8)]
    + [{"name": "multi-shield/adaptive-pgd", "params": {"eps": k / 255, "steps": 20},
        "label": f"adaptive pgd {k}/255"} for k in (4, 8)],
    metrics=["clean-accuracy", "robust-accuracy", "robust-accuracy-with-rejection",
             "rejection-rate", {"name": "rejection-rate", "params": {"on": "clean"},
                                "label": "clean rejection-rate"}],
    run={"batch_size": 100, "seed": 0},
)
