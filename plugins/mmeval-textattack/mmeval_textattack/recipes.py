"""Other TextAttack recipes that run fully offline, with mmeval goals in place of their
classification goal: DeepWordBug (Gao et al., 2018) and Pruthi et al. (2019), character-level.
Their transformations, constraints and search come from ``Recipe.build``; their random character
edits are seeded from the batch's sample seeds.

Recipes that need downloads (sentence encoders, word embeddings, HowNet, LanguageTool, hub models)
are known by name and refused before any compute with the reason.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

import numpy as np

from mmeval import ThreatModel

from .base import Result, TaskParams, TextAttackBase
from .offline import import_textattack
from .scores import Scorer

UNAVAILABLE = {
    "textfooler": "counter-fitted word embeddings and the Universal Sentence Encoder (TF-hub)",
    "pwws": "WordNet (NLTK download)",
    "bae": "the Universal Sentence Encoder (TF-hub) and bert-base-uncased from the hub",
    "bert-attack-li2020": "the Universal Sentence Encoder (TF-hub); use textattack/bert-attack",
    "a2t": "sentence-transformers and counter-fitted embeddings from the hub",
    "alzantot": "Google 1B language model and GloVe embeddings (downloads)",
    "faster-alzantot": "Google 1B language model and GloVe embeddings (downloads)",
    "clare": "distilroberta from the hub and the Universal Sentence Encoder",
    "checklist": "NLTK data and a location list (downloads)",
    "iga": "counter-fitted word embeddings (download)",
    "kuleshov": "counter-fitted embeddings, GPT-2 and the Universal Sentence Encoder",
    "pso": "HowNet (OpenHowNet download)",
    "input-reduction": "WordNet (NLTK download)",
    "morpheus": "lemminflect data and BLEU (downloads)",
    "seq2sick": "a translation model from the hub",
    "textbugger": "the Universal Sentence Encoder and GloVe embeddings (downloads)",
}


class RecipeParams(TaskParams):
    pass


class UnavailableRecipe:
    """``textattack/<recipe>`` for any other name: refused by plan() with the reason."""

    @staticmethod
    def check_variant(name: str) -> None:
        if name in UNAVAILABLE:
            raise ValueError(f"TextAttack recipe '{name}' cannot run offline: it needs "
                             f"{UNAVAILABLE[name]}. Offline: textattack/bert-attack, "
                             "textattack/bert-attack-vlm, textattack/deepwordbug, textattack/pruthi")
        raise ValueError(f"no TextAttack recipe '{name}' is registered; see `mmeval list attacks`")


class OfflineRecipe(TextAttackBase):
    """Base of the offline TextAttack recipes."""

    Params = RecipeParams
    recipe: ClassVar[str]

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("text")

    def attack_texts(self, model: Any, texts: list[str], goals: list[Scorer],
                     successes: list[Scorer | None], seed: int) -> list[Result]:
        ta = import_textattack()
        from textattack import attack_recipes

        from .goals import EmbeddingGoal, TextEncoderWrapper, run_attack

        goal = EmbeddingGoal(TextEncoderWrapper(model))
        recipe = getattr(attack_recipes, self.recipe).build(goal.model)
        attack = ta.Attack(goal, recipe.pre_transformation_constraints + recipe.constraints,
                           recipe.transformation, recipe.search_method)
        state, np_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            return run_attack(attack, goal, texts, goals, successes)
        finally:
            random.setstate(state)
            np.random.set_state(np_state)


class DeepWordBug(OfflineRecipe):
    """TextAttack's DeepWordBug (Gao et al., 2018): character swaps/substitutions/deletions/insertions."""

    recipe = "DeepWordBugGao2018"


class Pruthi(OfflineRecipe):
    """TextAttack's Pruthi et al. (2019) recipe: one-word keyboard/character typos."""

    recipe = "Pruthi2019"
