"""BERT-Attack (Li et al., "BERT-ATTACK: Adversarial Attack Against BERT Using BERT", EMNLP 2020)
assembled from TextAttack's components, fully offline: ``WordSwapMaskedLM(method="bert-attack")``
with a local masked LM and tokenizer, ``GreedyWordSwapWIR(wir_method="unk")``,
``RepeatModification``, ``StopwordModification`` (an explicit list), ``MaxWordsPerturbed``, a guard
against special tokens, and goal functions from :mod:`mmeval_textattack.goals`.

The paper's settings are pinned explicitly: K = 48 candidates (TextAttack 0.3.11 changed its
recipe default to 8) and at most 40% of the words perturbed. The Universal Sentence Encoder
constraint of TextAttack's recipe needs TF-hub and is not used. Which texts are attacked with which
goal follows the task (:mod:`mmeval_textattack.base`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mmeval import INPUT, ThreatModel

from .base import Result, TaskParams, TextAttackBase
from .mlm import load_mlm
from .offline import STOPWORDS, import_textattack
from .scores import Scorer


class BertAttackParams(TaskParams):
    mlm: str = Field(default="zoo/tiny-mlm-shapes",
                     description="masked LM: zoo/tiny-mlm-shapes, a local directory or a cached HF id",
                     json_schema_extra=INPUT)
    max_candidates: int = Field(default=48, ge=1, description="K, candidates per word (paper: 48)")
    max_percent_words: float = Field(default=0.4, gt=0, le=1,
                                     description="at most this share of words perturbed (paper: 40%)")
    max_length: int | None = Field(default=None, ge=8,
                                   description="masked-LM tokens; default the MLM's position limit")
    batch_size: int = Field(default=64, ge=1, description="texts per victim text-encoder call")


class BertAttack(TextAttackBase):
    """BERT-Attack through TextAttack's search on class prompts or captions."""

    Params = BertAttackParams
    params: BertAttackParams

    @property
    def language_model(self) -> str:
        return self.params.mlm

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("text", max_word_fraction=self.params.max_percent_words)

    def _engine(self, model: Any) -> tuple[Any, Any]:
        ta = import_textattack()
        from textattack.constraints.overlap import MaxWordsPerturbed
        from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
        from textattack.search_methods import GreedyWordSwapWIR
        from textattack.transformations import WordSwapMaskedLM

        from .goals import EmbeddingGoal, NoSpecialTokens, TextEncoderWrapper

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

    def attack_texts(self, model: Any, texts: list[str], goals: list[Scorer],
                     successes: list[Scorer | None], seed: int) -> list[Result]:
        from .goals import run_attack

        attack, goal = self._engine(model)
        return run_attack(attack, goal, texts, goals, successes)
