"""What the zoo's contrastive builders share (the tiny CLAP and the tri-modal model): the warm-up +
cosine learning rate, the per-step pick of each sample's caption, the symmetric InfoNCE loss
(Radford et al., ICML 2021) and the compression of the token-embedding rows no training text
uses."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: share of steps on which a sample is paired with a prompt-style partial description rather
#: than a full caption, so zero-shot prompts fall inside the text distribution
PROMPT_SHARE = 0.3
#: open_clip's init std of the token embedding: the scale of the untrained rows' random signs
TOKEN_INIT_STD = 0.02


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``steps``."""
    return peak * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))


def pick_captions(tokens: torch.Tensor, idx: torch.Tensor, n_full: int,
                  g: torch.Generator) -> torch.Tensor:
    """``[B, L]`` one text per sample ``idx`` of ``tokens`` ``[N, texts, L]`` (the first ``n_full``
    full captions, the rest prompt-style): a random full caption, or with probability
    :data:`PROMPT_SHARE` a random prompt."""
    n = len(idx)
    full = torch.randint(0, n_full, (n,), generator=g)
    prompt = torch.randint(n_full, tokens.shape[1], (n,), generator=g)
    which = torch.where(torch.rand(n, generator=g) < PROMPT_SHARE, prompt, full)
    return tokens[idx, which]


def info_nce(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of paired rows of ``a`` and ``b`` (normalized here)."""
    logits = scale * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor,
                   log_scale: nn.Parameter) -> float:
    """One update on ``loss``, the log logit scale then clamped to [0, log 100] (CLIP's cap);
    returns the loss."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        log_scale.clamp_(0, math.log(100))
    return loss.item()


def save_trained(net: nn.Module, tokens: torch.Tensor, seed: int, path: Path) -> int:
    """``net`` in eval mode with its untrained token rows compressed
    (:func:`compress_untrained_rows` of ``net.text.token_embedding``), saved as safetensors at
    ``path``; returns how many token rows were trained."""
    from safetensors.torch import save_file

    net.eval()
    trained = compress_untrained_rows(net.text.token_embedding, tokens, seed)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path)
    return trained


def compress_untrained_rows(embedding: nn.Embedding, used: torch.Tensor, seed: int) -> int:
    """Redraw the rows of ``embedding`` that no training token (``used``) touched as random signs
    times :data:`TOKEN_INIT_STD`: still distinct, so out-of-domain words do not collapse onto one
    embedding, but a few bits per value, so the checkpoint compresses. Returns how many rows were
    trained."""
    untrained = torch.ones(embedding.num_embeddings, dtype=torch.bool)
    untrained[used.unique()] = False
    signs = torch.randint(0, 2, (int(untrained.sum()), embedding.embedding_dim),
                          generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.no_grad():
        embedding.weight[untrained] = TOKEN_INIT_STD * signs.float()
    return int((~untrained).sum())
