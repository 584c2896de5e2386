"""Zero-shot robustness over the 16 datasets of TeCoA and MMCoA, laid out as their tables: one row
per model x attack, one column per dataset, and the average over the datasets.

Point MMEVAL_DATA_ROOT at a folder holding one sub-folder per dataset, named as CLIP_benchmark's
``--dataset_root root/{dataset_cleaned}`` names them (root/cifar10, root/imagenet1k, root/pets,
...; every expected layout is in docs/models-and-data.md). ``validate`` lists the 16 tasks, or
every dataset whose folder is missing or incomplete, before anything is computed:

    MMEVAL_DATA_ROOT=/data/clip_benchmark mmeval validate examples/zero_shot_suite.py
    MMEVAL_DATA_ROOT=/data/clip_benchmark mmeval run examples/zero_shot_suite.py

The model is OpenAI's CLIP ViT-B/32 (open_clip's ``openai`` weights, which must already be in the
open_clip cache; or give a local checkpoint path). Class embeddings average CLIP_benchmark's own
templates per dataset, so the clean row equals CLIP_benchmark's zero-shot accuracy; drop
``templates`` for TeCoA's single prompt "This is a photo of a {}". The attack is TeCoA's and
MMCoA's headline setting: PGD-100 at eps 1/255.
"""

import os

from mmeval import EvalSpec

ROOT = os.environ.get("MMEVAL_DATA_ROOT", "data")

SPEC = EvalSpec(
    name="zero_shot_suite",
    models=[{"name": "openclip/ViT-B-32", "params": {"pretrained": "openai"},
             "label": "CLIP ViT-B/32"}],
    tasks=[{"suite": {"name": "clip-benchmark/tecoa", "params": {"root": ROOT, "image_size": 224}},
            "objective": {"name": "zero-shot", "params": {"templates": "dataset"}}}],
    attacks=["clean",
             {"name": "mmeval/pgd", "params": {"eps": 1 / 255, "steps": 100},
              "label": "pgd-100 1/255"}],
    metrics=["clean-accuracy", "robust-accuracy", "attack-success-rate"],
    run={"batch_size": 128},
)
