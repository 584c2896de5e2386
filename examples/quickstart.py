"""Quickstart: how robust is the tiny CLIP from the offline zoo on synthetic shapes?

Zero-shot classification (10 shapes; 100 shape x colour classes) and image-text retrieval, clean
and under the reference PGD at eps 1/255, 2/255 and 4/255. The tiny CLIP ships with mmeval (its
weights are packaged); the run takes about a minute on 2 CPU cores.

    mmeval run examples/quickstart.py
"""

from mmeval import EvalSpec

SPEC = EvalSpec(
    name="quickstart",
    models=[{"name": "zoo/tiny-clip-shapes"}],
    tasks=[
        {"dataset": {"name": "shapes", "params": {"n": 500, "classes": "shape"}},
         "objective": "zero-shot", "label": "shapes-10"},
        {"dataset": {"name": "shapes", "params": {"n": 500, "classes": "shape-color"}},
         "objective": "zero-shot", "label": "shapes-100"},
        {"dataset": {"name": "shapes", "params": {"n": 500}}, "objective": "retrieval",
         "label": "shapes-retrieval"},
    ],
    attacks=[
        "clean",
        *({"name": "mmeval/pgd", "params": {"eps": k / 255, "steps": 10}, "label": f"pgd {k}/255"}
          for k in (1, 2, 4)),
    ],
    run={"batch_size": 100, "seed": 0},
)
