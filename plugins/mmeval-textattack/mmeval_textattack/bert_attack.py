"""BERT-Attack (Li et al., "BERT-ATTACK: Adversarial Attack Against BERT Using BERT", EMNLP 2020)
assembled from TextAttack's components, fully offline:

- ``WordSwapMaskedLM(method="bert-attack")`` with a local masked LM and tokenizer,
- ``GreedyWordSwapWIR(wir_method="unk")``,
- ``RepeatModification``, ``StopwordModification`` (an explicit stop-word list), ``MaxWordsPerturbed``,
- goal functions from :mod:`mmeval_textattack.goals`.

The paper's settings are pinned explicitly: K = 48 candidates (TextAttack 0.3.11 changed its
recipe default to 8) and at most 40% of the words perturbed. The Universal Sentence Encoder
constraint of TextAttack's recipe needs TF-hub and is not used. The goal follows the task:

- zero-shot classification, ``mode="per-image"``: the prompt of each image's true class is attacked
  until that image's prediction flips (score: best other-class logit minus true-class logit);
- zero-shot classification, ``mode="class-prompts"`` (MMCoA's protocol): every class prompt is
  attacked once, image-free, maximizing KL(softmax(clean emb) || softmax(adv emb)); the adversarial
  prompt set replaces the classifier's text side for all images;
- retrieval: each caption is attacked to lower its cosine similarity to its paired image.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from mmeval import Attack, AttackOutput, Batch, MissingDependencyError, Params, ThreatModel

from .goals import (
    EmbeddingGoal,
    NoSpecialTokens,
    TextEncoderWrapper,
    away_from,
    kl_from,
    margin_against,
)
from .offline import STOPWORDS, import_textattack


@cache
def load_mlm(name: str) -> tuple[Any, Any]:
    """A masked LM and its tokenizer: ``zoo/tiny-mlm-shapes`` (built offline on first use), a
    local directory, or a transformers id already in the local cache."""
    if name == "zoo/tiny-mlm-shapes":
        from mmeval.zoo.tiny_mlm import load

        return load()
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    try:
        return AutoModelForMaskedLM.from_pretrained(name).eval(), AutoTokenizer.from_pretrained(name)
    except OSError as exc:
        raise MissingDependencyError(
            f"masked LM '{name}' is neither a local directory nor in the local HF cache ({exc}); "
            "use zoo/tiny-mlm-shapes or a directory saved with save_pretrained") from exc


class BertAttackParams(Params):
    mlm: str = Field(default="zoo/tiny-mlm-shapes",
                     description="masked LM: zoo/tiny-mlm-shapes, a local directory or a cached HF id")
    max_candidates: int = Field(default=48, ge=1, description="K, candidates per word (paper: 48)")
    max_percent_words: float = Field(default=0.4, gt=0, le=1,
                                     description="at most this share of words perturbed (paper: 40%)")
    mode: Literal["per-image", "class-prompts"] = Field(
        default="per-image", description="zero-shot classification only: see the module docstring")
    max_length: int | None = Field(default=None, ge=8,
                                   description="masked-LM tokens; default the MLM's position limit")
    batch_size: int = Field(default=64, ge=1, description="texts per victim text-encoder call")


class BertAttack(Attack):
    """BERT-Attack on class prompts (zero-shot classification) or captions (retrieval)."""

    Params = BertAttackParams
    params: BertAttackParams
    modality: ClassVar = "text"
    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("text", max_word_fraction=self.params.max_percent_words)

    def _engine(self, model: Any) -> tuple[Any, EmbeddingGoal]:
        ta = import_textattack()
        from textattack.constraints.overlap import MaxWordsPerturbed
        from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
        from textattack.search_methods import GreedyWordSwapWIR
        from textattack.transformations import WordSwapMaskedLM

        p = self.params
        mlm, tokenizer = load_mlm(p.mlm)
        goal = EmbeddingGoal(TextEncoderWrapper(model), batch_size=p.batch_size)
        # TextAttack's stop-word check is case-sensitive: "This" must be protected as "this" is
        stopwords = {v for w in STOPWORDS for v in (w, w.capitalize(), w.upper())}
        attack = ta.Attack(
            goal,
            [RepeatModification(), StopwordModification(stopwords=stopwords),
             MaxWordsPerturbed(max_percent=p.max_percent_words),
             NoSpecialTokens(tokenizer.all_special_tokens)],
            WordSwapMaskedLM(method="bert-attack", masked_language_model=mlm, tokenizer=tokenizer,
                             max_length=p.max_length or mlm.config.max_position_embeddings,
                             max_candidates=p.max_candidates),
            GreedyWordSwapWIR(wir_method="unk"),
        )
        return attack, goal

    @staticmethod
    def _attack_one(attack: Any, text: str) -> tuple[str, int, int]:
        """(adversarial text, words changed, victim queries) for one text."""
        from textattack.attack_results import SkippedAttackResult

        result = attack.attack(text, 0)
        if isinstance(result, SkippedAttackResult):
            return text, 0, result.original_result.num_queries
        adv = result.perturbed_result.attacked_text
        changed = len(adv.all_words_diff(result.original_result.attacked_text))
        return adv.text, changed, result.perturbed_result.num_queries

    def run(self, model: Any, batch: Batch, objective: Any, rng: Any) -> AttackOutput:
        attack, goal = self._engine(model)
        with torch.no_grad():
            if objective.kind == "retrieval":
                return self._captions(attack, goal, model, batch)
            if self.params.mode == "class-prompts":
                return self._class_prompts(attack, goal, objective, len(batch))
            return self._per_image(attack, goal, model, batch, objective)

    def _per_image(self, attack: Any, goal: EmbeddingGoal, model: Any, batch: Batch,
                   objective: Any) -> AttackOutput:
        images = model.encode_image(batch.images).float().cpu()
        texts = objective.text_features.float().cpu()
        sets, changed, queries = [], [], []
        for i, y in enumerate(objective.labels(model, batch).tolist()):
            others = torch.cat([texts[:y], texts[y + 1:]])
            goal.set_context(*margin_against(images[i], others, model.logit_scale))
            adv, n, q = self._attack_one(attack, objective.prompts[y])
            prompts = list(objective.prompts)
            prompts[y] = adv
            sets.append(tuple(prompts))
            changed.append(n)
            queries.append(q)
        return AttackOutput(prompts=tuple(sets), info={"words_changed": changed, "queries": queries})

    def _class_prompts(self, attack: Any, goal: EmbeddingGoal, objective: Any, n: int) -> AttackOutput:
        key = objective.prompts
        if getattr(self, "_cached", (None,))[0] != key:  # deterministic: attack once per prompt set
            results = []
            for prompt, clean in zip(objective.prompts, objective.text_features.float().cpu(),
                                     strict=True):
                goal.set_context(kl_from(clean))
                results.append(self._attack_one(attack, prompt))
            self._cached = (key, results)
        results = self._cached[1]
        prompts = tuple(r[0] for r in results)
        changed = sum(r[1] for r in results)
        queries = sum(r[2] for r in results)
        # the prompt set is shared by every image; its cost is reported on each record
        return AttackOutput(prompts=(prompts,) * n,
                            info={"words_changed": [changed] * n, "queries": [queries] * n})

    def _captions(self, attack: Any, goal: EmbeddingGoal, model: Any, batch: Batch) -> AttackOutput:
        images = model.encode_image(batch.images).float().cpu()
        texts, changed, queries = [], [], []
        for i, captions in enumerate(batch.texts):
            goal.set_context(away_from(images[i]))
            out = [self._attack_one(attack, c) for c in captions]
            texts.append(tuple(o[0] for o in out))
            changed.append(sum(o[1] for o in out))
            queries.append(sum(o[2] for o in out))
        return AttackOutput(texts=tuple(texts), info={"words_changed": changed, "queries": queries})
