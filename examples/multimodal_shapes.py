"""Joint image+text attacks on the tiny CLIP (Co-Attack and SGA's comparison, on shapes):
retrieval over a 1000-caption gallery and 10-class zero-shot classification, each attack at the
seed papers' budget (eps 2/255, one word per text).

    mmeval run examples/multimodal_shapes.py
"""

from mmeval import EvalSpec

PGD = {"name": "mmeval/pgd", "params": {"eps": 2 / 255, "steps": 10, "step_size": 0.5 / 255},
       "label": "PGD"}

SPEC = EvalSpec(
    name="multimodal-shapes",
    models=[{"name": "zoo/tiny-clip-shapes"}],
    tasks=[
        {"dataset": {"name": "shapes", "params": {"n": 200}}, "objective": "retrieval",
         "label": "retrieval"},
        {"dataset": {"name": "shapes", "params": {"n": 200, "classes": "shape"}},
         "label": "shapes-10"},
    ],
    attacks=[
        "clean",
        PGD,
        {"name": "textattack/bert-attack-vlm", "label": "BERT-Attack"},
        {"name": "multimodal/sep-attack", "label": "Sep-Attack"},
        {"name": "multimodal/co-attack", "label": "Co-Attack"},
        {"name": "multimodal/sga", "label": "SGA"},
    ],
    metrics=["clean-accuracy", "robust-accuracy", "tr@1", "ir@1",
             {"name": "asr-absolute", "params": {"direction": "tr"}, "label": "tr@1 asr-absolute"},
             {"name": "asr-relative", "params": {"direction": "tr"}, "label": "tr@1 asr-relative"},
             {"name": "asr-absolute", "params": {"direction": "ir"}, "label": "ir@1 asr-absolute"},
             {"name": "asr-relative", "params": {"direction": "ir"}, "label": "ir@1 asr-relative"},
             "words-perturbed"],
    run={"batch_size": 25, "seed": 0},
)
