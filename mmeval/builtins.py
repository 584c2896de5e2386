"""The core's own components, registered through the same hooks a third-party plugin uses."""

from __future__ import annotations

from .hookspecs import hookimpl
from .registry import KindRegistry


@hookimpl
def mmeval_register_models(registry: KindRegistry) -> None:
    registry.add("mmeval/toy-vlm", "mmeval.testing.toy:ToyVLM",
                 declared="mmeval.testing.declared:ToyVLMDeclared", aliases=["toy-vlm"],
                 description="Deterministic toy CLIP-like model for tests and demos")
    registry.add("openclip/*", "mmeval.models.open_clip:OpenCLIPModel",
                 declared="mmeval.models.declared:OpenCLIPDeclared",
                 description="Any open_clip architecture, e.g. openclip/ViT-B-32 (pretrained= tag or path)")
    registry.add("hf/clip", "mmeval.models.hf_clip:HFCLIP", declared="mmeval.models.declared:HFDeclared",
                 description="transformers CLIPModel from a model id or local directory")
    registry.add("hf/siglip", "mmeval.models.hf_clip:HFSigLIP",
                 declared="mmeval.models.declared:HFDeclared",
                 description="transformers SiglipModel from a model id or local directory")
    registry.add("hf/clap", "mmeval.models.hf_clap:HFCLAP",
                 declared="mmeval.models.declared:HFClapDeclared",
                 description="transformers ClapModel (audio-text) from a model id or local "
                 "directory")
    registry.add("zoo/tiny-clip-shapes", "mmeval.zoo.tiny_clip:TinyCLIP",
                 declared="mmeval.zoo.declared:TinyCLIPDeclared",
                 description="Tiny open_clip CLIP trained offline on shapes (seed 0 packaged)")
    registry.add("zoo/tiny-clap-shapes", "mmeval.zoo.tiny_clap:TinyCLAP",
                 declared="mmeval.zoo.declared:TinyCLAPDeclared",
                 description="Tiny audio-text model trained offline on the sounds world (seed 0 "
                 "packaged)")
    registry.add("zoo/tiny-trimodal-shapes", "mmeval.zoo.tiny_trimodal:TinyTriModal",
                 declared="mmeval.zoo.declared:TinyTriModalDeclared",
                 description="Tiny image-audio-text model (ImageBind-style, each signal aligned to "
                 "the captions) on the shapes world seen and heard (seed 0 packaged)")
    registry.add("zoo/tiny-imagetext-shapes", "mmeval.zoo.tiny_trimodal:TinyImageText",
                 declared="mmeval.zoo.declared:TinyImageTextDeclared",
                 description="The tri-modal model's control: same architecture and budget, "
                 "image-text only (trained on first use)")
    registry.add("zoo/tiny-classifier-shapes", "mmeval.zoo.tiny_classifier:TinyClassifier",
                 declared="mmeval.zoo.declared:TinyClassifierDeclared",
                 description="CNN image classifier of the 10 shapes (no text side; seed 0 packaged)")


@hookimpl
def mmeval_register_datasets(registry: KindRegistry) -> None:
    registry.add("mmeval/toy", "mmeval.testing.toy:ToyDataset",
                 declared="mmeval.testing.declared:ToyDatasetDeclared", aliases=["toy"],
                 description="Noisy class prototypes the toy VLM recognises")
    registry.add("shapes", "mmeval.data.shapes:ShapesDataset", aliases=["mmeval/shapes"],
                 description="Procedural shapes with captions (deterministic from a seed)")
    registry.add("sounds", "mmeval.data.sounds:SoundsDataset", aliases=["mmeval/sounds"],
                 description="The shapes world as sound: timbre, pitch, loudness and rhythm "
                 "(8 kHz waveforms with captions)")
    registry.add("cifar10", "mmeval.data.cifar:Cifar10",
                 description="CIFAR-10 from the python batch files in a local root")
    registry.add("cifar100", "mmeval.data.cifar:Cifar100",
                 description="CIFAR-100 (fine labels) from the python files in a local root")
    registry.add("image-folder", "mmeval.data.image_folder:ImageFolder",
                 description="root/<class>/<image> folders")
    registry.add("retrieval-json", "mmeval.data.retrieval_json:RetrievalJson",
                 description="Karpathy-style retrieval annotation JSON (Flickr30k / COCO) + image root")


@hookimpl
def mmeval_register_objectives(registry: KindRegistry) -> None:
    registry.add("zero-shot", "mmeval.objectives.zero_shot:ZeroShotClassification",
                 declared="mmeval.objectives.declared:ZeroShotDeclared",
                 aliases=["mmeval/zero-shot-classification"],
                 description="Zero-shot classification: CE over cached class-prompt embeddings")
    registry.add("retrieval", "mmeval.objectives.retrieval:Retrieval",
                 declared="mmeval.objectives.declared:RetrievalDeclared", aliases=["mmeval/retrieval"],
                 description="Image-text retrieval over the task's caption gallery (TR/IR@K)")


@hookimpl
def mmeval_register_attacks(registry: KindRegistry) -> None:
    registry.add("clean", "mmeval.attacks.clean:Clean", declared="mmeval.attacks.declared:CleanDeclared",
                 aliases=["mmeval/clean"],
                 description="No attack: the adversarial input is the clean input")
    registry.add("mmeval/pgd", "mmeval.attacks.pgd:PGD", declared="mmeval.attacks.declared:PGDDeclared",
                 aliases=["pgd"],
                 description="Reference PGD on the objective's loss (Linf / L2; Madry et al. 2018)")


@hookimpl
def mmeval_register_metrics(registry: KindRegistry) -> None:
    for name, attr in [
        ("clean-accuracy", "CleanAccuracy"),
        ("robust-accuracy", "RobustAccuracy"),
        ("attack-success-rate", "AttackSuccessRate"),
        ("accuracy-drop", "AccuracyDrop"),
        ("fooling-rate", "FoolingRate"),
        ("worst-case-robust-accuracy", "WorstCaseRobustAccuracy"),
        ("tr@1", "TR1"), ("tr@5", "TR5"), ("tr@10", "TR10"),
        ("ir@1", "IR1"), ("ir@5", "IR5"), ("ir@10", "IR10"),
        ("recall@k", "RecallAtK"),
        ("asr-absolute", "ASRAbsolute"),
        ("asr-relative", "ASRRelative"),
    ]:
        # mmeval.metrics imports no torch: each metric is its own declaration
        registry.add(name, f"mmeval.metrics:{attr}", declared=f"mmeval.metrics:{attr}")
