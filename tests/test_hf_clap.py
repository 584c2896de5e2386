"""hf/clap: a transformers ClapModel from a local directory, its features computed in torch exactly
as ClapFeatureExtractor computes them, and the VLModel contract, on a small random model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmeval import SpecError, create_model, plan
from mmeval.testing import check_model_contract

RATE = 8000


def _tiny_clap_dir(tmp_path, truncation: str = "fusion"):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        PreTrainedTokenizerFast,
    )

    words = ["[PAD]", "[UNK]", "this", "is", "the", "sound", "of", "a", "circle", "square", "star"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    text = {"vocab_size": len(words), "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 24,
            "pad_token_id": 0}
    audio = {"hidden_size": 64, "patch_embeds_hidden_size": 8, "depths": [1, 1, 1, 1],
             "num_attention_heads": [1, 1, 2, 2], "window_size": 8, "spec_size": 256,
             "num_mel_bins": 64, "enable_fusion": truncation == "fusion"}
    torch.manual_seed(0)
    model = ClapModel(ClapConfig(text_config=text, audio_config=audio, projection_dim=24)).eval()
    extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=RATE, hop_length=80,
                                     max_length_s=1, fft_window_size=256, frequency_max=RATE // 2,
                                     truncation=truncation)
    out = tmp_path / f"clap-{truncation}"
    model.save_pretrained(out)
    fast.save_pretrained(out)
    extractor.save_pretrained(out)
    return out, model, extractor


@pytest.mark.parametrize("truncation", ["fusion", "rand_trunc"])
def test_features_and_embeddings_equal_the_processors(tmp_path, truncation):
    path, clap, extractor = _tiny_clap_dir(tmp_path, truncation)
    model = create_model("hf/clap", model=str(path))
    assert model.input_specs["audio"].sample_rate == RATE
    assert model.input_specs["audio"].length == RATE
    g = torch.Generator().manual_seed(1)
    waves = [0.3 * torch.randn(n, generator=g).clamp(-3, 3) / 3 for n in (RATE, RATE // 3)]
    for wave in waves:  # one at full length, one repeat-padded
        ref = extractor(wave.numpy(), sampling_rate=RATE, return_tensors="pt")
        ours = model.features(wave[None])
        assert ours.shape == ref["input_features"].shape
        assert torch.allclose(ours, ref["input_features"].float(), atol=1e-3)
        # the extractor flags a random sample of an all-short batch as longer (LAION-CLAP's
        # training quirk); the adapter passes is_longer False throughout, deterministically
        assert ref["is_longer"].all() == (truncation == "fusion")
        ref["is_longer"] = torch.zeros_like(ref["is_longer"])
        with torch.no_grad():
            expected = F.normalize(clap.get_audio_features(**ref), dim=-1)
            assert torch.allclose(model.encode_audio(wave[None]), expected, atol=1e-4)


def test_the_adapter_meets_the_vlmodel_contract(tmp_path):
    path, _, _ = _tiny_clap_dir(tmp_path)
    check_model_contract(create_model("hf/clap", model=str(path)))


def test_a_directory_without_the_feature_extractor_fails_at_plan_time(tmp_path):
    path, _, _ = _tiny_clap_dir(tmp_path)
    (path / "preprocessor_config.json").unlink()
    spec = {"models": [{"name": "hf/clap", "params": {"model": str(path)}}],
            "tasks": [{"dataset": "sounds"}], "attacks": ["clean"]}
    with pytest.raises(SpecError, match=r"models\[0\]\.params: .*no feature extractor config"):
        plan(spec)
