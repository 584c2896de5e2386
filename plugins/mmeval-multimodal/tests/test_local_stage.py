"""A joint attack whose text stage is registered only on the run's own host (one that loads no
entry points) is planned and run from that host: stages are built from the plan's registry."""

from typing import ClassVar

import mmeval_multimodal.plugin

from mmeval import Attack, AttackOutput, PluginHost, ThreatModel, evaluate, hookimpl


class FirstWord(Attack):
    """Replaces the first word of every caption (a one-word text attack)."""

    modality: ClassVar = "text"

    @property
    def threat_model(self):
        return ThreatModel("text", max_words=1)

    def run(self, model, batch, objective, rng):
        return AttackOutput(texts=tuple(tuple(" ".join(["zzz", *c.split()[1:]]) for c in caps)
                                        for caps in batch.texts))


class Local:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        registry.add("local/first-word", FirstWord)


def test_joint_attack_with_a_local_text_stage_on_a_bare_host(tmp_path):
    host = PluginHost(load_entry_points=False)
    host.register(mmeval_multimodal.plugin, "multimodal")
    host.register(Local(), "local")
    spec = {"models": ["zoo/tiny-clip-shapes"],
            "tasks": [{"dataset": {"name": "shapes", "params": {"n": 8}}, "objective": "retrieval"}],
            "attacks": [{"name": "multimodal/co-attack",
                         "params": {"steps": 2, "text_attack": "local/first-word"}}],
            "metrics": ["tr@1"], "run": {"progress": False}, "output_dir": str(tmp_path / "run")}
    result = evaluate(spec, host=host)
    (cell,) = result.cells
    assert cell["status"] == "done", cell["error"]
    assert cell["n"] == 8
