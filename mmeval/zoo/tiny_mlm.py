"""``zoo/tiny-mlm-shapes``: a small BERT masked language model (Devlin et al., NAACL 2019) with a
WordPiece tokenizer trained (``tokenizers``) on shapes captions — the candidate generator text
attacks such as BERT-Attack need, built offline. Saved as a transformers model directory and loaded
back with ``AutoModelForMaskedLM`` / ``AutoTokenizer``, like ``bert-base-uncased`` would be.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.shapes import CAPTION_TEMPLATES, COLORS, POSITIONS, SHAPES, SIZES
from ..progress import progress as progress_bar

CORPUS_SENTENCES = 20_000
STEPS = 1500
BATCH = 128
LR = 1e-3
MAX_LEN = 24
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def corpus(seed: int, n: int = CORPUS_SENTENCES) -> list[str]:
    """Captions and prompts over independently drawn attributes (the shapes caption language)."""
    rng = np.random.default_rng([2000, seed])
    prompts = ("this is a photo of a {color} {shape}", "this is a photo of a {shape}",
               "this is a photo of a {size} {color} {shape}")
    templates = CAPTION_TEMPLATES + prompts
    out = []
    for _ in range(n):
        fields = {"shape": SHAPES[rng.integers(len(SHAPES))],
                  "color": list(COLORS)[rng.integers(len(COLORS))],
                  "size": list(SIZES)[rng.integers(len(SIZES))],
                  "position": list(POSITIONS)[rng.integers(len(POSITIONS))]}
        out.append(templates[rng.integers(len(templates))].format(**fields))
    return out


def _mask(ids: torch.Tensor, special: torch.Tensor, mask_id: int, vocab: int,
          g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: 15% of real tokens are targets; of those 80% [MASK], 10% random, 10% kept."""
    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=g) < 0.15) & ~special
    labels[~chosen] = -100
    ids = ids.clone()
    r = torch.rand(ids.shape, generator=g)
    ids[chosen & (r < 0.8)] = mask_id
    rand = chosen & (r >= 0.8) & (r < 0.9)
    ids[rand] = torch.randint(len(SPECIALS), vocab, (int(rand.sum()),), generator=g)
    return ids, labels


def build(out_dir: Path, seed: int, progress: bool = True) -> dict[str, Any]:
    """Train the WordPiece tokenizer and the masked LM; save both with ``save_pretrained``."""
    from tokenizers import BertWordPieceTokenizer
    from tokenizers.processors import BertProcessing
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    torch.manual_seed(seed)
    texts = corpus(seed)
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(texts, vocab_size=500, min_frequency=1, special_tokens=SPECIALS,
                           show_progress=False)
    # like bert-base-uncased: "[CLS] ... [SEP]" (the post-processor is only set up by the
    # constructor when the specials are already in the vocabulary, which before training they are not)
    wp.post_processor = BertProcessing(("[SEP]", wp.token_to_id("[SEP]")),
                                       ("[CLS]", wp.token_to_id("[CLS]")))
    tokenizer = BertTokenizerFast(tokenizer_object=wp._tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                  cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                  model_max_length=MAX_LEN)
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=MAX_LEN,
                    return_tensors="pt", return_special_tokens_mask=True)
    special = enc["special_tokens_mask"].bool()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=128, max_position_embeddings=MAX_LEN,
                        pad_token_id=tokenizer.pad_token_id)
    model = BertForMaskedLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    model.train()
    loss_value = math.nan
    bar = progress_bar(range(STEPS), desc="tiny-mlm: training", unit="step", enabled=progress)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = LR * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / STEPS))
        idx = torch.randint(0, len(texts), (BATCH,), generator=g)
        ids, labels = _mask(enc["input_ids"][idx], special[idx], tokenizer.mask_token_id,
                            len(tokenizer), g)
        loss = model(input_ids=ids, attention_mask=enc["attention_mask"][idx], labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return {"vocab_size": len(tokenizer), "steps": STEPS, "final_loss": round(loss_value, 4)}


def load(seed: int = 0) -> tuple[Any, Any]:
    """The cached masked LM and its tokenizer (built on first use), in eval mode."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from . import ensure

    path = ensure("tiny-mlm-shapes", seed=seed)
    return AutoModelForMaskedLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
