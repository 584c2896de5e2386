"""The BERT-Attack variant of Co-Attack (Zhang et al., ACM MM 2022), SGA (Lu et al., ICCV 2023) and
MMCoA (Zhou et al., 2024), implemented natively and batched.

Per text: the masked LM runs once on the unmasked text (top-k ids and raw logits at every
position); word importance is KL(softmax(e) || softmax(e_i)) with e_i the embedding of the text
whose i-th word is replaced by ``[UNK]``; words are visited in importance order, skipping stop
words; the candidates of a single-sub-word word are its top-k MLM tokens in rank order, stopping at
the first raw logit below ``threshold``; a multi-sub-word word gets up to 24 combinations of the
top-4 tokens of its sub-words, ranked by the MLM's own cross-entropy on them. The current text and
every candidate text are scored by the goal and the best one is kept (the current text is always a
candidate); the search stops after ``max_words`` changes.

Batched: the MLM runs once for all texts of a call, the importance pass embeds every masked
variant of every text in one encoder call (stop words, never replaced, are not scored), and each
greedy step embeds the candidates of all still-active texts together; the current text's
embedding is carried along instead of being re-encoded.

``reference_offset=True`` reproduces the reference code's off-by-one: candidates for word j are
taken from the MLM's prediction at the token *before* it (``[CLS]`` for the first word). The
default, aligned, is what BERT-Attack and TextAttack do. The reference's BERT decode round trip of
every text before encoding is not reproduced.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from mmeval import INPUT, ThreatModel

from .base import Result, TaskParams, TextAttackBase
from .mlm import load_mlm
from .offline import STOPWORDS
from .scores import Scorer

UNK = "[UNK]"


@dataclass
class _State:
    words: list[str]
    order: list[int]
    goal: Scorer
    position: int = 0  # next entry of ``order`` to visit
    changed: int = 0
    queries: int = 0
    top_ids: torch.Tensor | None = None  # [L, k] MLM top-k ids of the unmasked text
    top_logits: torch.Tensor | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)  # word -> [start, end) sub-words
    current: torch.Tensor | None = None  # embedding of the current text


class VLMBertAttackEngine:
    """The search engine; ``encode(texts) -> [N, D]`` is the victim text encoder."""

    def __init__(self, mlm, tokenizer, encode: Callable[[list[str]], torch.Tensor], *, k: int = 10,
                 max_words: int = 1, threshold: float = 0.3, max_length: int = 30,
                 stopwords: Sequence[str] = (), reference_offset: bool = False) -> None:
        self.mlm, self.tok, self.encode = mlm, tokenizer, encode
        self.k, self.max_words, self.threshold = k, max_words, threshold
        self.max_length, self.reference_offset = max_length, reference_offset
        self.stopwords = set(stopwords)
        self.special = set(tokenizer.all_special_tokens)
        # where the words sit in the MLM's input: after the tokenizer's leading specials ([CLS])
        # and before its trailing ones ([SEP]), which truncation keeps
        framed = tokenizer.build_inputs_with_special_tokens([-1])
        self._prefix, self._suffix = framed.index(-1), len(framed) - framed.index(-1) - 1
        self._pieces: dict[str, int] = {}  # word -> number of sub-words

    def _embed(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of ``texts``; each distinct text is encoded once per attack call (masked
        variants and candidates often coincide across prompts built from the same template)."""
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            with torch.no_grad():
                self._cache.update(zip(new, self.encode(new).float(), strict=True))
        return torch.stack([self._cache[t] for t in texts]) if texts else torch.empty(0)

    def _mlm_topk(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tok(texts, max_length=self.max_length, truncation=True, padding="max_length",
                       return_tensors="pt")
        with torch.no_grad():
            logits = self.mlm(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        values, ids = logits.topk(self.k, dim=-1)
        return ids, values  # [N, L, k]

    def _spans(self, words: list[str]) -> list[tuple[int, int]]:
        spans, start = [], 0
        for w in words:
            if w not in self._pieces:
                self._pieces[w] = len(self.tok.tokenize(w))
            spans.append((start, start + self._pieces[w]))
            start += self._pieces[w]
        return spans

    def _candidates(self, s: _State, i: int) -> list[str]:
        shift = self._prefix - 1 if self.reference_offset else self._prefix
        start, end = (p + shift for p in s.spans[i])
        end = min(end, self.max_length - self._suffix)
        if start < 0 or end <= start:
            return []
        if end - start == 1:
            out = []
            for tid, logit in zip(s.top_ids[start].tolist(), s.top_logits[start].tolist(),
                                  strict=True):
                if logit < self.threshold:
                    break
                out.append(self.tok.convert_ids_to_tokens(tid))
        else:
            out = self._combinations(s.top_ids[start:min(end, start + 12), :4])
        original = s.words[i]
        # a word is replaced by one word: decoded combinations with spaces ("arrow," -> ", left")
        # would change more words than the budget allows
        return [c for c in dict.fromkeys(out)
                if c != original and c and "##" not in c and " " not in c
                and c not in self.stopwords and c not in self.special]

    def _combinations(self, ids: torch.Tensor) -> list[str]:
        combos = torch.tensor(list(itertools.product(*ids.tolist()))[:24])
        with torch.no_grad():
            logits = self.mlm(input_ids=combos).logits
        ce = F.cross_entropy(logits.transpose(1, 2), combos, reduction="none").mean(dim=1)
        ranked = combos[ce.argsort()]
        return [self.tok.convert_tokens_to_string(self.tok.convert_ids_to_tokens(c)).strip()
                for c in ranked.tolist()]

    def candidates_for(self, text: str) -> list[list[str]]:
        """The candidate substitutes of every word of ``text`` (``[]`` for stop words)."""
        ids, values = self._mlm_topk([text])
        words = text.split(" ")
        s = _State(words, [], lambda e: e, top_ids=ids[0], top_logits=values[0],
                   spans=self._spans(words))
        return [[] if w in self.stopwords else self._candidates(s, i) for i, w in enumerate(words)]

    def attack(self, texts: Sequence[str], goals: Sequence[Scorer]) -> list[Result]:
        """(adversarial text, words changed, encoder queries) for each text and its goal."""
        self._cache: dict[str, torch.Tensor] = {}
        states = [_State(t.split(" "), [], g) for t, g in zip(texts, goals, strict=True)]
        clean = self._embed(list(texts))
        # stop words are never replaced, so only the others need an importance score
        slots = [[i for i, w in enumerate(s.words) if w not in self.stopwords] for s in states]
        masked = [" ".join([*s.words[:i], UNK, *s.words[i + 1:]])
                  for s, idx in zip(states, slots, strict=True) for i in idx]
        masked_emb = self._embed(masked)
        ids, values = self._mlm_topk(list(texts))
        row = 0
        for n, (s, idx) in enumerate(zip(states, slots, strict=True)):
            e = masked_emb[row:row + len(idx)]
            row += len(idx)
            log_p = F.log_softmax(clean[n], dim=-1)
            kl = (log_p.exp() * (log_p - F.log_softmax(e, dim=-1))).sum(dim=-1)
            s.order = [idx[j] for j in kl.argsort(descending=True).tolist()]
            s.queries = 1 + len(idx)
            s.top_ids, s.top_logits, s.spans = ids[n], values[n], self._spans(s.words)
            s.current = clean[n]
        active = list(states)
        while active:
            batch: list[tuple[_State, int, list[str]]] = []
            for s in active:
                while s.position < len(s.order):
                    i = s.order[s.position]
                    s.position += 1
                    if s.words[i] in self.stopwords:
                        continue
                    candidates = self._candidates(s, i)
                    if candidates:
                        batch.append((s, i, candidates))
                        break
            if not batch:
                break
            texts_step = [" ".join([*s.words[:i], c, *s.words[i + 1:]])
                          for s, i, candidates in batch for c in candidates]
            emb = self._embed(texts_step)
            offset = 0
            for s, i, candidates in batch:
                # the current text (known embedding) competes with its candidates
                options = torch.cat([s.current[None], emb[offset:offset + len(candidates)]])
                offset += len(candidates)
                s.queries += len(candidates)
                best = int(s.goal(options).argmax())
                if best > 0:
                    s.words[i] = candidates[best - 1]
                    s.current = options[best]
                    s.changed += 1
            active = [s for s in active if s.changed < self.max_words and s.position < len(s.order)]
        return [(" ".join(s.words), s.changed, s.queries) for s in states]


class VLMBertAttackParams(TaskParams):
    mlm: str = Field(default="zoo/tiny-mlm-shapes",
                     description="masked LM: zoo/tiny-mlm-shapes, a local directory or a cached HF id",
                     json_schema_extra=INPUT)
    k: int = Field(default=10, ge=1, description="MLM candidates per word")
    max_words: int = Field(default=1, ge=1, description="words changed at most (num_perturbation)")
    threshold: float = Field(default=0.3, description="minimum raw MLM logit of a candidate")
    max_length: int = Field(default=30, ge=4, description="masked-LM tokens (77 in SGA)")
    reference_offset: bool = Field(
        default=False, description="reproduce the Co-Attack/SGA/MMCoA off-by-one: candidates for "
        "word j come from the MLM's prediction for the token before it")


class VLMBertAttack(TextAttackBase):
    """The Co-Attack / SGA / MMCoA BERT-Attack variant (k = 10, one word, logit threshold 0.3,
    [UNK]-masked KL importance), batched over all texts of a call."""

    Params = VLMBertAttackParams
    params: VLMBertAttackParams

    @property
    def language_model(self) -> str:
        return self.params.mlm

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("text", max_words=self.params.max_words)

    def attack_texts(self, model: Any, texts: list[str], goals: list[Scorer],
                     successes: list[Scorer | None], seed: int) -> list[Result]:
        p = self.params
        mlm, tokenizer = load_mlm(p.mlm)
        engine = VLMBertAttackEngine(
            mlm, tokenizer, lambda t: model.encode_text(t).cpu(), k=p.k, max_words=p.max_words,
            threshold=p.threshold, max_length=min(p.max_length, mlm.config.max_position_embeddings),
            stopwords=STOPWORDS, reference_offset=p.reference_offset)
        return engine.attack(texts, goals)
