"""TextAttack goal functions that speak mmeval's objectives.

The model wrapper maps texts to the victim's L2-normalized text embeddings; each goal scores a
candidate's embedding against a context set before every example (the clean embedding, the paired
image, the other class prompts). Embedding-space scores are computed in fp32.
"""

from __future__ import annotations

import torch

from .offline import import_textattack
from .scores import Scorer

import_textattack()

from textattack.constraints import Constraint  # noqa: E402
from textattack.goal_function_results import GoalFunctionResult  # noqa: E402
from textattack.goal_functions import GoalFunction  # noqa: E402
from textattack.models.wrappers import ModelWrapper  # noqa: E402


class TextEncoderWrapper(ModelWrapper):
    """TextAttack model wrapper: a list of texts -> ``[N, D]`` victim text embeddings."""

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, text_input_list: list[str]) -> torch.Tensor:
        with torch.no_grad():
            return self.model.encode_text(list(text_input_list)).float().cpu()


class EmbeddingGoalResult(GoalFunctionResult):
    def get_text_color_input(self) -> str:
        return "red"

    def get_text_color_perturbed(self) -> str:
        return "blue"

    def get_colored_output(self, color_method=None) -> str:
        return f"{self.score:.4f}"


class EmbeddingGoal(GoalFunction):
    """Maximizes ``score(embedding)``; the attack succeeds when ``success(embedding)`` holds (never,
    when no success test is set: the search then spends its whole budget, as in MMCoA/Co-Attack)."""

    def __init__(self, model_wrapper: TextEncoderWrapper, batch_size: int = 64) -> None:
        super().__init__(model_wrapper, maximizable=False, model_batch_size=batch_size)
        self.score_fn: Scorer | None = None
        self.success_fn: Scorer | None = None

    def set_context(self, score: Scorer, success: Scorer | None = None) -> None:
        self.score_fn, self.success_fn = score, success

    def _process_model_outputs(self, inputs, outputs):
        return outputs

    def _is_goal_complete(self, model_output, attacked_text) -> bool:
        return self.success_fn is not None and bool(self.success_fn(model_output[None])[0])

    def _get_score(self, model_output, attacked_text) -> float:
        assert self.score_fn is not None, "set_context() before attacking"
        return float(self.score_fn(model_output[None])[0])

    def _goal_function_result_type(self):
        return EmbeddingGoalResult


class NoSpecialTokens(Constraint):
    """Rejects substitutes that bring in a tokenizer special token (``[MASK]``, ``[UNK]``, ...),
    which TextAttack's masked-LM swap can propose."""

    def __init__(self, special_tokens: list[str]) -> None:
        super().__init__(compare_against_original=True)
        self.special_tokens = [t for t in special_tokens if t]

    def _check_constraint(self, transformed_text, reference_text) -> bool:
        return not any(t in transformed_text.text and t not in reference_text.text
                       for t in self.special_tokens)


def run_attack(attack, goal: EmbeddingGoal, texts: list[str], scores: list[Scorer],
               successes: list[Scorer | None]) -> list[tuple[str, int, int]]:
    """Run a TextAttack ``Attack`` on each text with its goal: (adversarial text, words changed,
    victim queries). A skipped example (goal already met) keeps its text."""
    from textattack.attack_results import SkippedAttackResult

    results = []
    for text, score, success in zip(texts, scores, successes, strict=True):
        goal.set_context(score, success)
        result = attack.attack(text, 0)
        if isinstance(result, SkippedAttackResult):
            results.append((text, 0, result.original_result.num_queries))
            continue
        adv = result.perturbed_result.attacked_text
        changed = len(adv.all_words_diff(result.original_result.attacked_text))
        results.append((adv.text, changed, result.perturbed_result.num_queries))
    return results
