"""Other TextAttack recipes that run fully offline, with mmeval goals in place of their
classification goal: DeepWordBug (Gao et al., 2018) and Pruthi et al. (2019), character-level.
Their transformations, constraints and search come from ``Recipe.build``; their random character
edits are seeded from the batch's sample seeds.

Recipes that need downloads (sentence encoders, word embeddings, HowNet, LanguageTool, hub models)
are known by name and refused before any compute with the reason.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from .base import Result, TextAttackBase
from .declared import DeepWordBugDeclared, PruthiDeclared, RecipeDeclared
from .offline import import_textattack
from .scores import Scorer


class OfflineRecipe(RecipeDeclared, TextAttackBase):
    """Base of the offline TextAttack recipes."""

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


class DeepWordBug(DeepWordBugDeclared, OfflineRecipe):
    """TextAttack's DeepWordBug (Gao et al., 2018): character swaps/substitutions/deletions/insertions."""


class Pruthi(PruthiDeclared, OfflineRecipe):
    """TextAttack's Pruthi et al. (2019) recipe: one-word keyboard/character typos."""
