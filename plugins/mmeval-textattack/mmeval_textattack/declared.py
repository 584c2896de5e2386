"""What the text attacks declare, readable without torch, transformers or TextAttack: their params,
flags, threat models and the language model they propose words with. The attacks in
``bert_attack``, ``vlm_variant`` and ``recipes`` subclass these declarations."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from mmeval import INPUT, AttackDeclaration, Params, ThreatModel

from .compat import MODES, PIECES, Compat, Mode


class TaskParams(Params):
    mode: Literal["per-image", "class-prompts"] = Field(
        default="per-image", description="zero-shot classification only: see the plugin README")
    caption_goal: Literal["image", "kl"] = Field(
        default="image", description="retrieval only: push each caption away from its paired image "
        "(SGA) or from its own clean embedding by KL (Co-Attack)")


class TextAttackDeclared(AttackDeclaration):
    """A text attack on class prompts (zero-shot) or captions (retrieval)."""

    modality: ClassVar = "text"
    objectives: ClassVar[tuple[str, ...] | None] = ("classification", "retrieval")


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


class BertAttackDeclared(TextAttackDeclared):
    """BERT-Attack (Li et al., EMNLP 2020) through TextAttack's search."""

    Params = BertAttackParams
    params: BertAttackParams

    @property
    def language_model(self) -> str:
        return self.params.mlm

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("text", max_word_fraction=self.params.max_percent_words)


class VLMBertAttackParams(TaskParams):
    mlm: str = Field(default="zoo/tiny-mlm-shapes",
                     description="masked LM: zoo/tiny-mlm-shapes, a local directory or a cached HF id",
                     json_schema_extra=INPUT)
    k: int = Field(default=10, ge=1, description="MLM candidates per word")
    max_words: int = Field(default=1, ge=1, description="words changed at most (num_perturbation)")
    threshold: float = Field(default=0.3, description="minimum raw MLM logit of a candidate (0: none)")
    max_length: int = Field(default=30, ge=4, description="masked-LM tokens (77 in SGA)")
    compat: Mode = Field(
        default="paper", description="paper: BERT-Attack's alignment, one word; reference: exactly "
        "the official Co-Attack/SGA/MMCoA code (candidate offset, [CLS] x framing, its stop words "
        "and candidates, BERT decode round trip)")


class VLMBertAttackDeclared(TextAttackDeclared):
    """The Co-Attack / SGA / MMCoA BERT-Attack variant (k = 10, one word, logit threshold 0.3)."""

    Params = VLMBertAttackParams
    params: VLMBertAttackParams

    @property
    def language_model(self) -> str:
        return self.params.mlm

    @property
    def threat_model(self) -> ThreatModel:
        """``max_words`` words; in reference mode a replaced word may decode to one word per
        sub-word ("arrow," -> "cyan circle"), up to 12, as in the reference code."""
        per_word = PIECES if self.compat().any_candidate else 1
        return ThreatModel("text", max_words=self.params.max_words * per_word)

    def compat(self) -> Compat:
        """The reference behaviours the search reproduces: all of them, or none."""
        return MODES[self.params.compat]


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


class RecipeDeclared(TextAttackDeclared):
    """An offline TextAttack recipe: any number of edits, the recipe's own constraints."""

    Params = RecipeParams
    recipe: ClassVar[str]

    @property
    def threat_model(self) -> ThreatModel:
        return ThreatModel("text")


class DeepWordBugDeclared(RecipeDeclared):
    """TextAttack's DeepWordBug (Gao et al., 2018): character swaps/substitutions/deletions/insertions."""

    recipe = "DeepWordBugGao2018"


class PruthiDeclared(RecipeDeclared):
    """TextAttack's Pruthi et al. (2019) recipe: one-word keyboard/character typos."""

    recipe = "Pruthi2019"
