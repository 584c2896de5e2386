"""Quickstart: zero-shot robustness of the toy VLM under the reference PGD at 1, 2 and 4/255.

    mmeval run examples/quickstart.py
"""

from mmeval import EvalSpec

SPEC = EvalSpec(
    name="quickstart",
    models=[{"name": "mmeval/toy-vlm"}],
    tasks=[{"dataset": {"name": "mmeval/toy", "params": {"n": 200}}, "objective": "zero-shot"}],
    attacks=[
        "clean",
        *({"name": "mmeval/pgd", "params": {"eps": k / 255, "steps": 10}, "label": f"pgd-{k}/255"}
          for k in (1, 2, 4)),
    ],
    run={"batch_size": 50, "seed": 0},
)
