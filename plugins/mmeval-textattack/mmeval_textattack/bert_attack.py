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

from .base import Result, TextAttackBase
from .declared import BertAttackDeclared
from .mlm import load_mlm
from .offline import STOPWORDS, import_textattack
from .scores import Scorer


class BertAttack(BertAttackDeclared, TextAttackBase):
    """BERT-Attack through TextAttack's search on class prompts or captions."""

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
