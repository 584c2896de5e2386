"""Contract checks for plugin authors: ``check_model_contract`` and the test classes
``ModelContract``, ``AttackContract`` and ``DefenseContract`` that a plugin's tests subclass."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..protocols import VLModel


def check_model_contract(model: VLModel, *, batch: int = 3, atol: float = 1e-4) -> None:
    """Assert the VLModel contract for every signal the model declares (image: [0, 1] pixels at
    ``input_specs["image"].image_size``; audio: [-1, 1] waveforms of ``input_specs["audio"]``):
    L2-normalized ``[B, D]`` embeddings out, gradients w.r.t. the input, no input mutation,
    batch-size independence, deterministic in eval mode; texts -> ``[T, D]`` unit vectors,
    logit_scale > 0."""
    model.eval()
    signals = [m for m in ("image", "audio") if m in model.capabilities]
    assert signals and "text" in model.capabilities, model.capabilities
    dims = {_check_signal_tower(model, m, batch, atol) for m in signals}
    assert len(dims) == 1, f"the towers embed into different dimensions {sorted(dims)}"
    texts = ["a photo of a red circle", "a blue square", "x"]
    with torch.no_grad():
        t = model.encode_text(texts)
    assert t.shape == (len(texts), dims.pop()), tuple(t.shape)
    assert torch.allclose(t.norm(dim=-1), torch.ones(len(texts), device=t.device), atol=1e-3)
    assert model.logit_scale > 0


def _check_signal_tower(model: VLModel, modality: str, batch: int, atol: float) -> int:
    """Check ``model``'s ``modality`` tower; return its embedding dimension."""
    from ..objectives.signals import encode_signal
    from ..types import BOUNDS

    spec = model.input_specs[modality]
    lo, hi = BOUNDS[modality]
    assert spec.bounds == (lo, hi), f"{modality} inputs must be raw values in [{lo}, {hi}]"
    g = torch.Generator().manual_seed(0)
    device = next(iter(model.parameters())).device
    shape = ((batch, 3, *spec.image_size) if modality == "image"  # type: ignore[union-attr]
             else (batch, spec.length))  # type: ignore[union-attr]
    signal = (lo + (hi - lo) * torch.rand(*shape, generator=g)).to(device)
    if modality == "audio":
        signal = signal * 0.3  # a plausible loudness
    before = signal.clone()
    x = signal.clone().requires_grad_(True)
    emb = encode_signal(model, modality, x)
    assert emb.dim() == 2 and emb.shape[0] == batch, tuple(emb.shape)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(batch, device=device), atol=1e-3)
    (grad,) = torch.autograd.grad(emb[:, 0].sum(), x)
    assert grad.abs().sum() > 0, f"no gradient reaches the input {modality}"
    assert torch.equal(signal, before), f"encoding {modality} mutated its input"
    with torch.no_grad():
        again = encode_signal(model, modality, signal)
        single = torch.cat([encode_signal(model, modality, signal[i:i + 1]) for i in range(batch)])
    assert torch.allclose(emb.detach(), again, atol=atol), "not deterministic in eval mode"
    assert torch.allclose(single, again, atol=atol), "embedding depends on the batch"
    return int(emb.shape[1])


class _OnHost:
    """Components are looked up, and built with their stages, on ``host`` (default: the
    process-wide host)."""

    host: ClassVar[Any] = None

    def _host(self) -> Any:
        from ..plugins import get_host

        return self.host or get_host()

    def registry(self) -> Any:
        return self._host().registry

    def build(self, kind: str, name: str, params: dict[str, Any]) -> Any:
        return self._host().create(kind, name, params)


def _unknown_params_rejected(registry: Any, kind: str, name: str, params: dict[str, Any]) -> None:
    from ..errors import SpecError

    component = registry.get(kind, name)
    component.validate_params(params, f"{kind} '{name}' params")  # the valid ones pass
    try:
        component.validate_params({**params, "no_such_param": 1}, f"{kind} '{name}' params")
    except SpecError as exc:
        assert "no_such_param" in str(exc), str(exc)
    else:
        raise AssertionError(f"{kind} '{name}' accepted an unknown parameter")


class ModelContract(_OnHost):
    """Subclass as ``class TestMine(ModelContract): model = "my/model"`` (``params``: its params);
    pytest then runs every check below on it."""

    model: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}

    def test_contract(self) -> None:
        check_model_contract(self.build("model", self.model, self.params))

    def test_unknown_params_rejected(self) -> None:
        _unknown_params_rejected(self.registry(), "model", self.model, self.params)


class AttackContract(_OnHost):
    """Subclass as ``class TestMine(AttackContract): attack = "my/attack"`` (``params``, and the
    victim: ``model`` / ``model_params`` / ``dataset`` / ``dataset_params`` / ``objective``, the toy
    world by default; an audio attack names an audio victim, e.g. ``zoo/tiny-clap-shapes`` on
    ``sounds``). Checks: the signal's bounds ([0, 1] images, [-1, 1] audio) and the declared threat
    model (eps-ball, SNR floor, word budget) for batch size 1 and N, no mutation of the batch,
    determinism under a seed, the same output with its steps compiled (``run.compile``), the
    model's training mode and parameter flags restored, that the attack lowers the victim's
    accuracy at its declared budget (unless it declares itself a no-op), unknown params
    rejected."""

    attack: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    model: ClassVar[str] = "mmeval/toy-vlm"
    model_params: ClassVar[dict[str, Any]] = {}
    dataset: ClassVar[str] = "mmeval/toy"
    dataset_params: ClassVar[dict[str, Any]] = {"n": 6}
    objective: ClassVar[str] = "zero-shot"

    def setup(self) -> tuple[Any, Any, Any, Any]:
        from ..types import Batch

        model = self.build("model", self.model, self.model_params).eval()
        data = self.build("dataset", self.dataset, self.dataset_params)
        objective = self.build("objective", self.objective, {})
        objective.prepare(model, data)
        attack = self.build("attack", self.attack, self.params)
        return model, objective, attack, Batch.collate([data[i] for i in range(len(data))])

    @staticmethod
    def run(attack: Any, model: Any, batch: Any, objective: Any, seed: int = 0) -> Any:
        from ..seeding import BatchRandom, sample_seed

        rng = BatchRandom([sample_seed(seed, "contract", s) for s in batch.sample_ids])
        return attack(model, batch, objective, rng)

    @staticmethod
    def check_output(attack: Any, batch: Any, out: Any) -> None:
        from ..attacks.base import _words_changed, snr_db
        from ..types import BOUNDS, signal_of

        tm = attack.threat_model
        modality, clean = batch.modality, batch.signal
        adv = out.signal(modality)
        adv = clean if adv is None else adv
        assert adv.shape == clean.shape
        lo, hi = BOUNDS[modality]
        assert adv.min() >= lo and adv.max() <= hi, f"{modality} leaves [{lo}, {hi}]"
        delta = (adv - clean).flatten(1)
        if signal_of(tm.modality) != modality:
            assert delta.abs().max() == 0, f"a {tm.modality} attack changed the {modality}"
        else:
            if tm.norm is not None and tm.eps is not None:
                size = delta.abs().amax(1) if tm.norm == "linf" else delta.norm(dim=1)
                assert (size <= tm.eps * (1 + 1e-5) + 1e-5).all(), f"outside the {tm.norm} ball"
            if tm.snr_db is not None:
                snr = snr_db(clean, adv)
                assert (snr >= tm.snr_db - 1e-3).all(), f"SNR {snr.min():.4g} dB below budget"
        if out.texts is not None and tm.max_words is not None:
            for clean, new in zip(batch.texts, out.texts, strict=True):
                for a, b in zip(clean, new, strict=True):
                    assert _words_changed(a, b) <= tm.max_words, (a, b)

    def test_bounds_and_threat_model_for_batch_sizes_1_and_n(self) -> None:
        model, objective, attack, batch = self.setup()
        for part in (batch, _head(batch, 1)):
            self.check_output(attack, part, self.run(attack, model, part, objective))

    def test_batch_not_mutated_and_deterministic_under_a_seed(self) -> None:
        model, objective, attack, batch = self.setup()
        before = batch.signal.clone()
        first = self.run(attack, model, batch, objective)
        assert torch.equal(batch.signal, before), "the attack mutated the batch"
        second = self.run(attack, model, batch, objective)
        for a, b in ((first.images, second.images), (first.audio, second.audio),
                     (first.texts, second.texts),
                     (first.prompts, second.prompts)):
            if isinstance(a, torch.Tensor):
                assert torch.equal(a, b), "not deterministic under a fixed seed"
            else:
                assert a == b, "not deterministic under a fixed seed"

    def test_compiled_step_gives_the_eager_output(self) -> None:
        """Under ``run.compile`` the attack gives what it gives eagerly: the same texts and the
        signal to float tolerance (the steps it runs through :func:`mmeval.pgd_loop` are one
        compiled graph; anything else runs as it is)."""
        from ..compilation import compiled_steps

        model, objective, attack, batch = self.setup()
        eager = self.run(attack, model, batch, objective)
        with compiled_steps("default"):
            compiled = self.run(attack, model, batch, objective)
        for a, b in ((eager.images, compiled.images), (eager.audio, compiled.audio)):
            if a is not None:
                torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
        assert (eager.texts, eager.prompts) == (compiled.texts, compiled.prompts)

    def test_training_mode_and_parameter_flags_restored(self) -> None:
        model, objective, attack, batch = self.setup()
        model.train()
        flags = [p.requires_grad for p in model.parameters()]
        self.run(attack, model, batch, objective)
        assert model.training, "the attack left the model in eval mode"
        assert flags == [p.requires_grad for p in model.parameters()]

    def test_lowers_accuracy_at_its_budget(self) -> None:
        from dataclasses import replace

        model, objective, attack, batch = self.setup()
        out = self.run(attack, model, batch, objective)
        adv = replace(batch, texts=batch.texts if out.texts is None else out.texts,
                      prompts=out.prompts)
        with torch.no_grad():
            clean = int(objective.evaluate(model, batch.signal, batch).correct.sum())
            signal = out.signal(batch.modality)
            signal = batch.signal if signal is None else signal
            attacked = int(objective.evaluate(model, signal, adv).correct.sum())
        if type(attack).noop:
            assert attacked == clean, "a no-op attack changed the outcome"
        else:
            assert attacked < clean, (f"the attack left {attacked} of {clean} correct samples "
                                      "correct; give the contract a budget it is meant to work at")

    def test_unknown_params_rejected(self) -> None:
        _unknown_params_rejected(self.registry(), "attack", self.attack, self.params)


class DefenseContract(_OnHost):
    """Subclass as ``class TestMine(DefenseContract): defense = "my/defense"`` (``params``;
    ``model``/``dataset`` as for attacks). A weight defense trains one step: only the towers it
    declares change; its checkpoint loads back through ``apply``. Any other defense's ``apply``
    must give a model that scores the task deterministically. Unknown params are rejected."""

    defense: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    model: ClassVar[str] = "mmeval/toy-vlm"
    model_params: ClassVar[dict[str, Any]] = {}
    dataset: ClassVar[str] = "mmeval/toy"
    dataset_params: ClassVar[dict[str, Any]] = {"n": 8}

    def test_behaviour(self, tmp_path: Any) -> None:
        cls = self.registry().get("defense", self.defense).load()
        if cls.kind == "weights":
            self._check_training(tmp_path)
        else:
            self._check_wrapper()

    def _check_training(self, tmp_path: Any) -> None:
        from ..training.engine import train

        defense = self.registry().get("defense", self.defense)
        base = self.build("model", self.model, self.model_params)
        before = {t: [p.detach().clone() for p in ps] for t, ps in base.tower_parameters().items()}
        result = train({"model": {"name": self.model, "params": self.model_params},
                        "dataset": {"name": self.dataset, "params": self.dataset_params},
                        "defense": {"name": self.defense, "params": self.params},
                        "epochs": 1, "batch_size": 8, "optimizer": {"name": "sgd", "lr": 0.05},
                        "progress": False, "output_dir": str(tmp_path / "train")}, host=self.host)
        assert len(result.losses) == 1 and torch.isfinite(torch.tensor(result.losses)).all()
        from ..protocols import dataset_modality

        data = self.build("dataset", self.dataset, self.dataset_params)
        trains = defense.load().towers(dataset_modality(data))
        trained = self.build("defense", self.defense,
                             {**self.params, "checkpoint": result.model["params"]["pretrained"]})
        model = trained.apply(self.build("model", self.model, self.model_params))
        assert set(trains) <= {"image", "audio", "text", "scale"}, trains
        changed = set()
        for tower, params in model.tower_parameters().items():
            if not all(torch.equal(a, b) for a, b in zip(before[tower], params, strict=True)):
                changed.add(tower)
        assert changed <= set(trains), f"towers {sorted(changed - set(trains))} changed, frozen"
        # a step on a zero loss (a saturated model) may legitimately change nothing
        assert changed or result.losses[0] == 0.0, "a training step changed no weight"

    def _check_wrapper(self) -> None:
        from ..types import Batch

        data = self.build("dataset", self.dataset, self.dataset_params)
        model = self.build("defense", self.defense, self.params).apply(
            self.build("model", self.model, self.model_params)).eval()
        objective = self.build("objective", "zero-shot", {})
        objective.prepare(model, data)
        batch = Batch.collate([data[i] for i in range(len(data))])
        with torch.no_grad():
            a = objective.evaluate(model, batch.signal, batch)
            b = objective.evaluate(model, batch.signal, batch)
        assert torch.equal(a.pred, b.pred)

    def test_unknown_params_rejected(self) -> None:
        _unknown_params_rejected(self.registry(), "defense", self.defense, self.params)


def _head(batch: Any, n: int) -> Any:
    return batch.subset(torch.arange(n))
