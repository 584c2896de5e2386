"""The TeCoA / MMCoA zero-shot evaluation protocol on the offline zoo's tiny CLIP: the prompt
"This is a photo of a {}" (the zero-shot objective's default), images at the model's resolution,
and PGD-100 at eps 1/255 with steps of 1/255 (Mao et al., ICLR 2023; Zhou et al., 2024).

mmeval's own PGD defaults to a step of 2.5 * eps / steps (Madry et al.), which is not this
protocol's: name the step size explicitly, as here, to reproduce their numbers. Swap the model
and the task for your own (e.g. the clip-benchmark/tecoa suite, examples/zero_shot_suite.py).

    mmeval run examples/tecoa_protocol.py
"""

from mmeval import EvalSpec

PROTOCOL_PGD = {"name": "mmeval/pgd", "label": "pgd-100 1/255",
                "params": {"eps": 1 / 255, "steps": 100, "step_size": 1 / 255}}

SPEC = EvalSpec(
    name="tecoa_protocol",
    models=[{"name": "zoo/tiny-clip-shapes"}],
    tasks=[{"dataset": {"name": "shapes", "params": {"n": 200, "classes": "shape"}},
            "objective": "zero-shot", "label": "shapes-10"}],
    attacks=["clean", PROTOCOL_PGD],
    metrics=["clean-accuracy", "robust-accuracy", "attack-success-rate"],
    run={"batch_size": 100},
)
