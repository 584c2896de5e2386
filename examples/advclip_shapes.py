"""AdvCLIP's universal patch on the tiny CLIP: one 8x8 patch (3% of a 48-px image) trained on 512
held-out shapes pairs, pasted on every evaluation image.

    mmeval run examples/advclip_shapes.py
"""

from mmeval import EvalSpec

SPEC = EvalSpec(
    name="advclip-shapes",
    models=[{"name": "zoo/tiny-clip-shapes"}],
    tasks=[
        {"dataset": {"name": "shapes", "params": {"n": 200, "classes": "shape"}},
         "label": "shapes-10"},
        {"dataset": {"name": "shapes", "params": {"n": 200}}, "objective": "retrieval",
         "label": "retrieval"},
    ],
    attacks=["clean", {"name": "multimodal/advclip", "label": "AdvCLIP"}],
    metrics=["clean-accuracy", "robust-accuracy", "accuracy-drop", "fooling-rate", "tr@1", "ir@1"],
    run={"batch_size": 50, "seed": 0},
)
