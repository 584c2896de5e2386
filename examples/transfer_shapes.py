"""Transfer between two tiny CLIPs trained with different seeds (SGA's transfer setting, on
shapes): every attack is crafted on each model and scored on both, so the report's source x target
tables hold the white-box results on the diagonal and the transfer results off it.

    mmeval run examples/transfer_shapes.py
"""

from mmeval import EvalSpec

MODELS = [{"name": "zoo/tiny-clip-shapes", "params": {"seed": s}, "label": f"tiny-clip seed {s}"}
          for s in (0, 1)]
ATTACKS = {
    "PGD": {"name": "mmeval/pgd", "params": {"eps": 2 / 255, "steps": 10, "step_size": 0.5 / 255}},
    "BERT-Attack": {"name": "textattack/bert-attack-vlm"},
    "Sep-Attack": {"name": "multimodal/sep-attack"},
    "Co-Attack": {"name": "multimodal/co-attack"},
    "SGA": {"name": "multimodal/sga"},
}

SPEC = EvalSpec(
    name="transfer-shapes",
    models=MODELS,
    tasks=[{"dataset": {"name": "shapes", "params": {"n": 200}}, "objective": "retrieval",
            "label": "retrieval"}],
    attacks=["clean"] + [{**attack, "source": source, "label": f"{name} from {source['label']}"}
                         for name, attack in ATTACKS.items() for source in MODELS],
    metrics=["tr@1", "ir@1",
             {"name": "asr-relative", "params": {"direction": "tr"}, "label": "tr@1 asr-relative"},
             {"name": "asr-relative", "params": {"direction": "ir"}, "label": "ir@1 asr-relative"}],
    run={"batch_size": 25, "seed": 0},
)
