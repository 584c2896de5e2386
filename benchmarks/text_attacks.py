"""The Co-Attack/SGA/MMCoA BERT-Attack search two ways on the same 200 prompts, side by side:

  (a) TextAttack's engine: ``GreedyWordSwapWIR("unk")``, ``RepeatModification``,
      ``StopwordModification``, ``MaxWordsPerturbed(max_num_words=1)`` and a transformation that
      proposes the variant's candidates (MLM top-k on the unmasked text, raw-logit threshold),
      driven one prompt at a time;
  (b) mmeval's batched implementation (``VLMBertAttackEngine``).

Same MLM (zoo/tiny-mlm-shapes), same k, same goal (KL from the clean embedding, the class-prompts
protocol), no reference offset. Prints the share of identical adversarial texts and the time ratio.

    python benchmarks/text_attacks.py [--k 10] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from mmeval_textattack.goals import EmbeddingGoal, TextEncoderWrapper, run_attack
from mmeval_textattack.mlm import load_mlm
from mmeval_textattack.offline import STOPWORDS, import_textattack
from mmeval_textattack.scores import kl_from
from mmeval_textattack.vlm_variant import VLMBertAttackEngine

from mmeval.data.shapes import COLORS, SHAPES
from mmeval.zoo.tiny_clip import TinyCLIP

ta = import_textattack()
from textattack.constraints.overlap import MaxWordsPerturbed  # noqa: E402
from textattack.constraints.pre_transformation import (  # noqa: E402
    RepeatModification,
    StopwordModification,
)
from textattack.search_methods import GreedyWordSwapWIR  # noqa: E402
from textattack.transformations import WordSwap  # noqa: E402


class VariantCandidates(WordSwap):
    """Proposes, for each word, the variant's candidates computed on the original text."""

    def __init__(self, engine: VLMBertAttackEngine) -> None:
        super().__init__()
        self.engine = engine
        self._cache: dict[str, list[list[str]]] = {}

    def _get_transformations(self, current_text, indices_to_modify):
        original = current_text.attack_attrs.get("previous_attacked_text", current_text)
        while "previous_attacked_text" in original.attack_attrs:
            original = original.attack_attrs["previous_attacked_text"]
        key = original.text
        if key not in self._cache:
            self._cache[key] = self.engine.candidates_for(key)
        per_word = self._cache[key]
        return [current_text.replace_word_at_index(i, c)
                for i in indices_to_modify for c in per_word[i]]


def prompts() -> list[str]:
    return ([f"This is a photo of a {c} {s}" for c in COLORS for s in SHAPES]
            + [f"a {c} {s} in the picture" for c in COLORS for s in SHAPES])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (median)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    model = TinyCLIP().eval()
    mlm, tok = load_mlm("zoo/tiny-mlm-shapes")
    texts = prompts()
    goals = [kl_from(e) for e in model.encode_text(texts).float()]
    engine = VLMBertAttackEngine(mlm, tok, lambda t: model.encode_text(t), k=args.k,
                                 stopwords=STOPWORDS, max_length=mlm.config.max_position_embeddings)

    def textattack_engine() -> list:
        """A fresh attack each time: TextAttack's model-output cache must not carry over."""
        goal = EmbeddingGoal(TextEncoderWrapper(model), batch_size=64)
        attack = ta.Attack(goal, [RepeatModification(),
                                  StopwordModification(stopwords=set(STOPWORDS)),
                                  MaxWordsPerturbed(max_num_words=1)],
                           VariantCandidates(engine), GreedyWordSwapWIR(wir_method="unk"))
        return run_attack(attack, goal, texts, goals, [None] * len(texts))

    times: dict[str, list[float]] = {"ours": [], "ta": []}
    for _ in range(args.reps):
        t0 = time.perf_counter()
        ours = engine.attack(texts, goals)
        times["ours"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        theirs = textattack_engine()
        times["ta"].append(time.perf_counter() - t0)
    t_ours, t_ta = statistics.median(times["ours"]), statistics.median(times["ta"])

    same = sum(a[0] == b[0] for a, b in zip(ours, theirs, strict=True))
    changed = sum(a[0] != t for a, t in zip(ours, texts, strict=True))
    print(f"{len(texts)} prompts, k={args.k}, one word, KL goal, tiny CLIP + tiny MLM, "
          f"torch {torch.__version__}")
    print(f"median of {args.reps}: TextAttack engine {t_ta:.2f} s, batched {t_ours:.2f} s, "
          f"speed-up {t_ta / t_ours:.1f}x")
    print(f"identical adversarial texts: {same}/{len(texts)} ({100 * same / len(texts):.1f}%); "
          f"texts changed by the batched search: {changed}")
    for (a, _, _), (b, _, _), t in zip(ours, theirs, texts, strict=True):
        if a != b:
            print(f"  differs: {t!r}: batched {a!r} vs TextAttack {b!r}")


if __name__ == "__main__":
    main()
