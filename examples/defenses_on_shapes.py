"""Adversarial fine-tuning on shapes, evaluated like Table I of MMCoA (Zhou et al. 2024).

FT-standard, TeCoA and MMCoA fine-tune the tiny CLIP of the offline zoo on 2000 shapes images
(dataset seed 5000: disjoint from the zoo's training seeds and from the evaluation seed 0), then
the undefended and the three fine-tuned models are scored on zero-shot classification (10 shapes;
100 shape x colour classes), clean and under MMCoA's test attacks: image (PGD-100 at eps 1/255,
step 1/255), text (the BERT-Attack variant on every class prompt, 1 word) and multimodal (both: the
image attacked against the clean prompts, scored against the adversarial ones).

    python examples/defenses_on_shapes.py        # trains the three (resumes if already there), evaluates
    mmeval train examples/defenses_on_shapes.py:TECOA    # one training run alone

Training hyperparameters follow each method's reference (TeCoA: SGD with momentum, eps 1/255 and 2
PGD steps; MMCoA: Adam with betas (0.9, 0.98), eps 1/255 and 10 PGD steps, loss weights 0.5/0.5)
with a learning rate sized for a small model trained from scratch (the references fine-tune
ViT-B/32 at 1e-6 to 1e-7) and no weight decay.
"""

from __future__ import annotations

from pathlib import Path

from mmeval import EvalSpec, TrainSpec, evaluate, train, trained_model

OUT = Path("runs/defenses-shapes")
EPS = 1 / 255
COMMON = {
    "model": {"name": "zoo/tiny-clip-shapes"},
    "dataset": {"name": "shapes", "params": {"n": 2000, "seed": 5000}},
    "epochs": 2, "batch_size": 64, "seed": 0,
}
ADAM = {"name": "adam", "lr": 1e-4, "betas": (0.9, 0.98), "eps": 1e-6}

FT_STANDARD = TrainSpec(name="ft-standard", defense="defenses/ft-standard", optimizer=ADAM,
                        output_dir=str(OUT / "ft-standard"), **COMMON)
TECOA = TrainSpec(name="tecoa", defense="defenses/tecoa",
                  optimizer={"name": "sgd", "lr": 1e-3, "momentum": 0.9},
                  output_dir=str(OUT / "tecoa"), **COMMON)
MMCOA = TrainSpec(name="mmcoa", defense="defenses/mmcoa", optimizer=ADAM,
                  output_dir=str(OUT / "mmcoa"), **COMMON)
TRAINED = {"FT-standard": FT_STANDARD, "TeCoA": TECOA, "MMCoA": MMCOA}

IMAGE = {"name": "mmeval/pgd", "params": {"eps": EPS, "steps": 100, "step_size": EPS}}
TEXT = {"name": "textattack/bert-attack-vlm", "params": {"mode": "class-prompts"}}


def eval_spec() -> EvalSpec:
    """The evaluation of the undefended CLIP and the three checkpoints (after training)."""
    defenses = [{"name": spec.defense.name, "label": label,
                 "params": {"checkpoint": trained_model(spec.output_dir)["params"]["pretrained"]}}
                for label, spec in TRAINED.items()]
    return EvalSpec(
        name="defenses-shapes",
        models=[{"name": "zoo/tiny-clip-shapes", "label": "tiny CLIP", "defenses": defenses}],
        tasks=[{"dataset": {"name": "shapes", "params": {"n": 200, "classes": c}},
                "label": label} for c, label in (("shape", "shapes-10"),
                                                 ("shape-color", "shapes-100"))],
        attacks=[{"name": "clean", "label": "clean"},
                 {**IMAGE, "label": "image"},
                 {**TEXT, "label": "text"},
                 {"name": "multimodal/sep-attack", "label": "multimodal",
                  "params": {"image_attack": IMAGE, "text_attack": TEXT}}],
        metrics=["clean-accuracy", "robust-accuracy"],
        run={"batch_size": 100, "seed": 0},
        output_dir=str(OUT / "eval"),
    )


if __name__ == "__main__":
    for spec in TRAINED.values():
        result = train(spec)
        print(f"{spec.name}: {[round(e['loss'], 4) for e in result.epochs]} "
              f"({sum(e['seconds'] for e in result.epochs):.0f} s)")
    result = evaluate(eval_spec())
    print((result.run_dir / "report.md").read_text())
