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

``compat="reference"`` reproduces the official code exactly where it changes outputs (see
:mod:`.compat`): the candidate off-by-one, the ``[CLS] x`` framing without ``[SEP]``, the
reference's stop words, its multi-word and special-token candidates, and the BERT decode round trip
of every text before the victim encodes it. The default, ``paper``, is aligned as in BERT-Attack and
TextAttack and keeps the one-word budget.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .base import Result, TextAttackBase
from .compat import PAPER, PIECES, Compat
from .declared import VLMBertAttackDeclared
from .mlm import load_mlm
from .scores import Scorer

UNK = "[UNK]"
#: a multi-sub-word word's candidates: the top-4 tokens at each of its first ``PIECES`` (12)
#: sub-words, at most 24 combinations (BERT-Attack's ``get_bpe_substitues``)
PER_PIECE, COMBINATIONS = 4, 24


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
                 compat: Compat = PAPER) -> None:
        self.mlm, self.tok, self.encode = mlm, tokenizer, encode
        self.k, self.max_words, self.threshold = k, max_words, threshold
        self.max_length, self.compat = max_length, compat
        self.stopwords = set(compat.stopwords)
        self.special = set(tokenizer.all_special_tokens)
        # where the words sit in the MLM's input: after the tokenizer's leading specials ([CLS])
        # and before its trailing ones ([SEP], which truncation keeps; none in the reference framing)
        framed = tokenizer.build_inputs_with_special_tokens([-1])
        self._lead = framed[:framed.index(-1)]
        self._prefix = len(self._lead)
        self._suffix = 0 if compat.framing else len(framed) - self._prefix - 1
        self._pieces: dict[str, int] = {}  # word -> number of sub-words
        self._cache: dict[str, torch.Tensor] = {}

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Victim embeddings of ``texts``; each distinct text is encoded once per attack call (masked
        variants and candidates often coincide across prompts built from the same template)."""
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            seen = self._round_trip(self._mlm_inputs(new)[0]) if self.compat.round_trip else new
            with torch.no_grad():
                self._cache.update(zip(new, self.encode(seen).float(), strict=True))
        return torch.stack([self._cache[t] for t in texts]) if texts else torch.empty(0)

    def _mlm_inputs(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input ids, attention mask) ``[N, max_length]`` of the MLM, in the mode's framing."""
        if not self.compat.framing:
            enc = self.tok(texts, max_length=self.max_length, truncation=True, padding="max_length",
                           return_tensors="pt")
            return enc["input_ids"], enc["attention_mask"]
        rows = [self._lead + self.tok.convert_tokens_to_ids(self.tok.tokenize(t))
                [:self.max_length - self._prefix] for t in texts]
        mask = torch.tensor([[1] * len(r) + [0] * (self.max_length - len(r)) for r in rows])
        pad = self.tok.pad_token_id
        return torch.tensor([r + [pad] * (self.max_length - len(r)) for r in rows]), mask

    def _round_trip(self, ids: torch.Tensor) -> list[str]:
        """What the reference's victim encodes: the MLM input decoded, without padding and the
        ``[CLS]``/``[SEP]`` markers (a special token inside a text goes too)."""
        drop = [t for t in (self.tok.pad_token, self.tok.cls_token, self.tok.sep_token) if t]
        out = []
        for row in ids.tolist():
            text = self.tok.decode(row, clean_up_tokenization_spaces=True)
            for t in drop:
                text = text.replace(t, "")
            out.append(text.strip())
        return out

    def _mlm_topk(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = self._mlm_inputs(texts)
        with torch.no_grad():
            logits = self.mlm(input_ids=ids, attention_mask=mask).logits
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
        first, last = s.spans[i]
        if first + self._prefix >= self.max_length - self._suffix:
            return []  # the word is not in the MLM's input
        shift = self._prefix - 1 if self.compat.offset else self._prefix
        start, end = first + shift, min(last + shift, self.max_length - self._suffix)
        if start < 0 or end <= start:
            return []
        if end - start == 1:
            out = []
            for tid, logit in zip(s.top_ids[start].tolist(), s.top_logits[start].tolist(),
                                  strict=True):
                if self.threshold != 0 and logit < self.threshold:
                    break
                out.append(self.tok.convert_ids_to_tokens(tid))
        else:
            out = self._combinations(s.top_ids[start:min(end, start + PIECES), :PER_PIECE])
        original = s.words[i]
        out = [c for c in dict.fromkeys(out)
               if c != original and "##" not in c and c not in self.stopwords]
        if self.compat.any_candidate:
            return out
        # a word is replaced by one word: decoded combinations with spaces ("arrow," -> ", left")
        # would change more words than the budget allows
        return [c for c in out if c and " " not in c and c not in self.special]

    def _combinations(self, ids: torch.Tensor) -> list[str]:
        combos = torch.tensor(list(itertools.product(*ids.tolist()))[:COMBINATIONS])
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
        self._cache = {}
        states = [_State(t.split(" "), [], g) for t, g in zip(texts, goals, strict=True)]
        clean = self.embed(list(texts))
        # stop words are never replaced, so only the others need an importance score
        slots = [[i for i, w in enumerate(s.words) if w not in self.stopwords] for s in states]
        masked = [" ".join([*s.words[:i], UNK, *s.words[i + 1:]])
                  for s, idx in zip(states, slots, strict=True) for i in idx]
        masked_emb = self.embed(masked)
        ids, values = self._mlm_topk(list(texts))
        row = 0
        for n, (s, idx) in enumerate(zip(states, slots, strict=True)):
            e = masked_emb[row:row + len(idx)]
            row += len(idx)
            log_p = F.log_softmax(clean[n], dim=-1)
            kl = (log_p.exp() * (log_p - F.log_softmax(e, dim=-1))).sum(dim=-1)
            # stable, as the reference's sort: equal scores keep word order
            s.order = [idx[j] for j in kl.argsort(descending=True, stable=True).tolist()]
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
            emb = self.embed(texts_step)
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


class VLMBertAttack(VLMBertAttackDeclared, TextAttackBase):
    """The Co-Attack / SGA / MMCoA BERT-Attack variant (k = 10, one word, logit threshold 0.3,
    [UNK]-masked KL importance), batched over all texts of a call."""

    def engine(self, model: Any) -> VLMBertAttackEngine:
        """The search against ``model``'s text encoder, in this attack's mode."""
        p = self.params
        mlm, tokenizer = load_mlm(p.mlm)
        return VLMBertAttackEngine(
            mlm, tokenizer, lambda t: model.encode_text(t).cpu(), k=p.k, max_words=p.max_words,
            threshold=p.threshold, max_length=min(p.max_length, mlm.config.max_position_embeddings),
            compat=self.compat())

    def embed(self, model: Any, texts: list[str]) -> torch.Tensor:
        """Clean embeddings as the search sees them (through the round trip in reference mode)."""
        return self.engine(model).embed(texts)

    def attack_texts(self, model: Any, texts: list[str], goals: list[Scorer],
                     successes: list[Scorer | None], seed: int) -> list[Result]:
        return self.engine(model).attack(texts, goals)
