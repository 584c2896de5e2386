"""Text attacks on the tiny CLIP: does BERT-Attack hurt zero-shot accuracy more with 100 classes
than with 10? (The MMCoA paper's finding on CIFAR-10 vs CIFAR-100.)

    mmeval run examples/text_attacks_shapes.py
"""

from mmeval import EvalSpec

SPEC = EvalSpec(
    name="text-attacks-shapes",
    models=[{"name": "zoo/tiny-clip-shapes"}],
    tasks=[
        {"dataset": {"name": "shapes", "params": {"n": 200, "classes": "shape"}},
         "label": "shapes-10"},
        {"dataset": {"name": "shapes", "params": {"n": 200, "classes": "shape-color"}},
         "label": "shapes-100"},
    ],
    attacks=[
        "clean",
        {"name": "textattack/bert-attack", "label": "bert-attack per-image"},
        {"name": "textattack/bert-attack", "params": {"mode": "class-prompts"},
         "label": "bert-attack class-prompts"},
        {"name": "textattack/bert-attack-vlm", "label": "bert-attack-vlm per-image"},
        {"name": "textattack/bert-attack-vlm", "params": {"mode": "class-prompts"},
         "label": "bert-attack-vlm class-prompts"},
    ],
    metrics=["clean-accuracy", "robust-accuracy", "attack-success-rate", "words-perturbed",
             "queries"],
    run={"batch_size": 50, "seed": 0},
)
