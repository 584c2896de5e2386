"""What every text attack of this plugin shares: which texts a task exposes, with which goal.

- zero-shot classification, ``per-image``: the prompt of each image's true class, goal: best
  other-class logit minus true-class logit (success: the prediction flips);
- zero-shot classification, ``class-prompts`` (MMCoA's protocol): every class prompt once, image
  free, goal: KL(softmax(clean emb) || softmax(adv emb)); the adversarial set replaces the
  classifier's text side for all images (computed once per cell);
- retrieval: every caption, goal: lower its cosine similarity to its paired image (SGA), or with
  ``caption_goal="kl"`` maximize KL from its clean embedding (Co-Attack).

Subclasses implement :meth:`TextAttackBase.attack_texts`, the search itself.
"""

from __future__ import annotations

from typing import Any, cast

import torch

from mmeval import Attack, AttackOutput, Batch, Objective, PromptObjective, encode_signal

from .declared import TextAttackDeclared
from .scores import Scorer, away_from, kl_from, margin_against

Result = tuple[str, int, int]  # (adversarial text, words changed, victim queries)


class TextAttackBase(TextAttackDeclared, Attack):
    #: the class-prompt attack of the cell's prompts: (clean prompts, results), computed once
    _memo: tuple[tuple[str, ...], list[Result]] | None = None

    def attack_texts(self, model: Any, texts: list[str], goals: list[Scorer],
                     successes: list[Scorer | None], seed: int) -> list[Result]:
        """The search: one result per text, maximizing its goal (``seed`` for random edits)."""
        raise NotImplementedError

    def embed(self, model: Any, texts: list[str]) -> torch.Tensor:
        """fp32 clean embeddings of ``texts`` that KL goals measure from: the victim's own."""
        return model.encode_text(texts).float().cpu()

    def run(self, model: Any, batch: Batch, objective: Objective, rng: Any) -> AttackOutput:
        seed = rng.batch_seed()
        with torch.no_grad():
            if objective.kind == "retrieval":
                return self._captions(model, batch, seed)
            prompted = cast(PromptObjective, objective)  # classification: over class prompts
            if self.params.mode == "class-prompts":
                return self._class_prompts(model, prompted, len(batch))
            return self._per_image(model, batch, prompted, seed)

    def _per_image(self, model: Any, batch: Batch, objective: PromptObjective,
                   seed: int) -> AttackOutput:
        assert objective.text_features is not None, "prepare() the objective first"
        images = encode_signal(model, batch.modality, batch.signal).float().cpu()
        texts = objective.text_features.float().cpu()
        labels = objective.labels(model, batch).tolist()
        goals, successes = [], []
        for i, y in enumerate(labels):
            score, success = margin_against(images[i], torch.cat([texts[:y], texts[y + 1:]]),
                                            model.logit_scale)
            goals.append(score)
            successes.append(success)
        results = self.attack_texts(model, [objective.prompts[y] for y in labels], goals, successes,
                                    seed)
        sets = []
        for y, (adv, _, _) in zip(labels, results, strict=True):
            prompts = list(objective.prompts)
            prompts[y] = adv
            sets.append(tuple(prompts))
        return AttackOutput(prompts=tuple(sets), info={"words_changed": [r[1] for r in results],
                                                       "queries": [r[2] for r in results]})

    def _class_prompts(self, model: Any, objective: PromptObjective, n: int) -> AttackOutput:
        if self._memo is None or self._memo[0] != objective.prompts:  # deterministic: once per cell
            goals = [kl_from(e) for e in self.embed(model, list(objective.prompts))]
            results = self.attack_texts(model, list(objective.prompts), goals, [None] * len(goals), 0)
            self._memo = (objective.prompts, results)
        results = self._memo[1]
        changed, queries = sum(r[1] for r in results), sum(r[2] for r in results)
        # one prompt set serves every image; its cost is reported on each record
        return AttackOutput(prompts=(tuple(r[0] for r in results),) * n,
                            info={"words_changed": [changed] * n, "queries": [queries] * n})

    def _captions(self, model: Any, batch: Batch, seed: int) -> AttackOutput:
        texts = [c for caps in batch.texts for c in caps]
        if self.params.caption_goal == "kl":
            goals = [kl_from(e) for e in self.embed(model, texts)]
        else:
            images = encode_signal(model, batch.modality, batch.signal).float().cpu()
            goals = [away_from(images[i]) for i, caps in enumerate(batch.texts) for _ in caps]
        results = iter(self.attack_texts(model, texts, goals, [None] * len(texts), seed))
        adv, changed, queries = [], [], []
        for caps in batch.texts:
            out = [next(results) for _ in caps]
            adv.append(tuple(o[0] for o in out))
            changed.append(sum(o[1] for o in out))
            queries.append(sum(o[2] for o in out))
        return AttackOutput(texts=tuple(adv), info={"words_changed": changed, "queries": queries})
