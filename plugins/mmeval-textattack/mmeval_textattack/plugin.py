"""Registers ``textattack/bert-attack`` and the text-attack cost metrics (imported on first use)."""

from __future__ import annotations

import mmeval


@mmeval.hookimpl
def mmeval_register_attacks(registry) -> None:
    registry.add("textattack/bert-attack", "mmeval_textattack.bert_attack:BertAttack",
                 declared="mmeval_textattack.declared:BertAttackDeclared",
                 description="BERT-Attack from TextAttack components (K=48, <=40% words), offline")
    registry.add("textattack/bert-attack-vlm", "mmeval_textattack.vlm_variant:VLMBertAttack",
                 declared="mmeval_textattack.declared:VLMBertAttackDeclared",
                 description="Co-Attack/SGA/MMCoA BERT-Attack variant (k=10, 1 word), batched")
    registry.add("textattack/deepwordbug", "mmeval_textattack.recipes:DeepWordBug",
                 declared="mmeval_textattack.declared:DeepWordBugDeclared",
                 description="TextAttack DeepWordBug (character edits), offline")
    registry.add("textattack/pruthi", "mmeval_textattack.recipes:Pruthi",
                 declared="mmeval_textattack.declared:PruthiDeclared",
                 description="TextAttack Pruthi2019 (one-word typos), offline")
    registry.add("textattack/*", "mmeval_textattack.declared:UnavailableRecipe",
                 description="other TextAttack recipes: refused offline, with the reason")


@mmeval.hookimpl
def mmeval_register_metrics(registry) -> None:
    for name, attr in (("words-perturbed", "WordsPerturbed"), ("queries", "Queries")):
        target = f"mmeval_textattack.metrics:{attr}"  # light: its own declaration
        registry.add(f"textattack/{name}", target, declared=target, aliases=[name])
