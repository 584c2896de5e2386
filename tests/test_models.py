"""Model adapters: open_clip (any arch, local checkpoints) and transformers CLIP/SigLIP."""

import json

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mmeval import ModelLoadError, SpecError, create_model, plan
from mmeval.models.open_clip import OpenCLIPModel, OpenCLIPParams, import_open_clip
from mmeval.testing import toy_spec
from mmeval.testing.contracts import check_model_contract

TINY_ARCH = "mmeval-tiny-clip"


def test_open_clip_adapter_passes_the_contract():
    model = OpenCLIPModel(OpenCLIPParams(), variant=TINY_ARCH)
    assert model.input_specs["image"].image_size == (48, 48)
    check_model_contract(model)


def test_open_clip_checkpoint_roundtrip_through_pretrained_path(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(3)
    source = OpenCLIPModel(OpenCLIPParams(), variant=TINY_ARCH).eval()
    ckpt = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in source.model.state_dict().items()}, ckpt)
    loaded = create_model(f"openclip/{TINY_ARCH}", pretrained=str(ckpt)).eval()
    images = torch.rand(4, 3, 48, 48)
    texts = ["a red circle", "a small blue star in the top left"]
    with torch.no_grad():
        assert torch.equal(source.encode_image(images), loaded.encode_image(images))
        assert torch.equal(source.encode_text(texts), loaded.encode_text(texts))
    # a torch checkpoint goes through torch.load(weights_only=True)
    pt = tmp_path / "model.pt"
    torch.save(source.model.state_dict(), pt)
    again = create_model(f"openclip/{TINY_ARCH}", pretrained=str(pt)).eval()
    with torch.no_grad():
        assert torch.equal(source.encode_image(images), again.encode_image(images))


def test_pickled_checkpoint_that_runs_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("open('pwned', 'w').write('x')",))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(SpecError, match=r"pretrained: .*weights_only"):  # refused at validation
        create_model(f"openclip/{TINY_ARCH}", pretrained=str(path))
    assert not (tmp_path / "pwned").exists()


def test_attack_resolution_differs_from_model_resolution():
    model = OpenCLIPModel(OpenCLIPParams(image_size=32), variant=TINY_ARCH).eval()
    assert model.input_specs["image"].image_size == (32, 32)
    check_model_contract(model)


def test_missing_checkpoint_and_unknown_arch_are_clear_errors(tmp_path):
    with pytest.raises(SpecError, match="pretrained: .*does not exist"):
        create_model(f"openclip/{TINY_ARCH}", pretrained=str(tmp_path / "nope.safetensors"))
    spec = toy_spec(models=[{"name": "openclip/ViT-B-33"}])
    with pytest.raises(SpecError, match=r"models\[0\]\.name: open_clip has no architecture"):
        plan(spec)
    assert plan(toy_spec(models=[{"name": "openclip/ViT-B-32"}])).cells


def test_uncached_pretrained_tag_fails_with_offline_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="offline"):
        create_model("openclip/RN50", pretrained="openai", cache_dir=str(tmp_path))


def _tiny_hf_dir(tmp_path, kind: str):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["[PAD]", "[UNK]", "a", "photo", "of", "red", "blue", "green", "circle", "square",
             "star", "small", "in", "the", "top", "left"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    text = {"vocab_size": len(words), "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 16}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 2, "image_size": 32, "patch_size": 8}
    torch.manual_seed(0)
    if kind == "clip":
        from transformers import CLIPConfig, CLIPModel

        text["eos_token_id"] = 1
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24))
    else:
        from transformers import SiglipConfig, SiglipModel

        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    out = tmp_path / kind
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_hf_adapter_passes_the_contract_with_a_random_model(tmp_path, kind):
    path = _tiny_hf_dir(tmp_path, kind)
    model = create_model(f"hf/{kind}", model=str(path))
    assert model.input_specs["image"].image_size == (32, 32)
    check_model_contract(model)
    # a different attack resolution is resized inside the forward
    model64 = create_model(f"hf/{kind}", model=str(path), image_size=64)
    check_model_contract(model64)


def test_hf_missing_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="local directory"):
        create_model("hf/clip", model=str(tmp_path / "nothing-here"))


def test_open_clip_config_of_the_zoo_is_registered():
    assert TINY_ARCH in import_open_clip().list_models()
    cfg = json.loads((import_open_clip().factory._MODEL_CONFIG_PATHS[-1] /
                      f"{TINY_ARCH}.json").read_text())
    assert cfg["vision_cfg"]["image_size"] == 48


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_hf_towers_and_checkpoint_round_trip(tmp_path, kind):
    model = create_model(f"hf/{kind}", model=str(_tiny_hf_dir(tmp_path, kind)))
    towers = model.tower_parameters()
    assert towers["image"] and towers["text"] and towers["scale"]
    named = {id(p): n for n, p in model.named_parameters()}
    assert all("vision" in named[id(p)] or "visual" in named[id(p)] for p in towers["image"])
    assert model.trainable_logit_scale().requires_grad
    with torch.no_grad():
        towers["image"][0].add_(0.5)
    ref = model.save_checkpoint(tmp_path / "ckpt")
    loaded = create_model(ref["name"], **ref["params"])
    assert torch.equal(loaded.tower_parameters()["image"][0], towers["image"][0])
    fresh = create_model(f"hf/{kind}", model=str(tmp_path / kind))
    fresh.load_checkpoint(ref["params"]["model"])
    assert torch.equal(fresh.tower_parameters()["image"][0], towers["image"][0])


def test_open_clip_towers_split_image_text_and_scale():
    model = create_model("openclip/mmeval-tiny-clip")
    towers = model.tower_parameters()
    named = {id(p): n for n, p in model.named_parameters()}
    assert all(named[id(p)].startswith("model.visual.") for p in towers["image"])
    assert [named[id(p)] for p in towers["scale"]] == ["model.logit_scale"]
    assert not any(named[id(p)].startswith("model.visual.") for p in towers["text"])
    assert len(towers["text"]) > 5


def test_models_in_memory_are_wrapped_and_pass_the_contract(tmp_path):
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from mmeval import wrap_hf, wrap_open_clip

    path = _tiny_hf_dir(tmp_path, "clip")
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size=32),
                              tokenizer=AutoTokenizer.from_pretrained(path))
    wrapped = wrap_hf(CLIPModel.from_pretrained(path), processor)
    loaded = create_model("hf/clip", model=str(path))
    assert wrapped.input_specs["image"].image_size == (32, 32)
    check_model_contract(wrapped.eval())
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(wrapped.encode_image(images), loaded.eval().encode_image(images),
                              atol=1e-5)
    open_clip = import_open_clip()
    model = open_clip.create_model(TINY_ARCH)
    mine = wrap_open_clip(model, open_clip.get_tokenizer(TINY_ARCH), image_size=32)
    assert mine.input_specs["image"].image_size == (32, 32) and mine.model is model
    check_model_contract(mine.eval())
    with pytest.raises(ModelLoadError, match="wrap_hf takes a CLIPModel or SiglipModel"):
        wrap_hf(model, processor)


class _Ops(TorchDispatchMode):
    """The ATen operators a block runs."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(str(func))
        return func(*args, **(kwargs or {}))


def _attention_ops(model) -> set[str]:
    """The operators of an image tower's forward and input-gradient backward that attend."""
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    with _Ops() as seen:
        model.encode_image(x).sum().backward()
    return {op for op in seen.ops if "attention" in op or "softmax" in op}


def test_vision_towers_attend_with_fused_scaled_dot_product_attention(tmp_path):
    """The ViT towers of open_clip and transformers run fused SDPA kernels forward and backward
    (what a compiled attack step then keeps), never a softmax of a materialized score matrix."""
    (tmp_path / "mmeval-test-vit.json").write_text(json.dumps({
        "embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2,
                     "layers": 1}}))
    import_open_clip().add_model_config(tmp_path)
    models = {"openclip": create_model("openclip/mmeval-test-vit"),
              "hf/clip": create_model("hf/clip", model=str(_tiny_hf_dir(tmp_path, "clip")))}
    for name, model in models.items():
        ops = _attention_ops(model.eval())
        assert any(op.startswith("aten._scaled_dot_product") and "backward" in op for op in ops), \
            (name, ops)
        assert not any("softmax" in op for op in ops), (name, ops)
