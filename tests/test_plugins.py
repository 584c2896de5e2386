import textwrap
from typing import ClassVar

import pytest
import torch

from mmeval import (
    Attack,
    AttackOutput,
    DuplicateComponentError,
    MissingDependencyError,
    Params,
    PluginHost,
    ThreatModel,
    UnknownComponentError,
    evaluate,
    hookimpl,
    plan,
)
from mmeval.hookspecs import REGISTER_HOOKS
from mmeval.testing import toy_spec


class ShiftParams(Params):
    eps: float = 2 / 255


class Shift(Attack):
    """Moves every pixel towards 0.5 by eps (a deterministic, gradient-free attack)."""

    Params = ShiftParams

    @property
    def threat_model(self):
        return ThreatModel("image", "linf", self.params.eps)

    def run(self, model, batch, objective, rng):
        x = batch.images
        return AttackOutput(images=x + self.params.eps * torch.sign(0.5 - x))


class InTestPlugin:
    events: ClassVar[list[str]] = []

    @hookimpl
    def mmeval_register_attacks(self, registry):
        registry.add("test/shift", Shift, aliases=["shift"])

    @hookimpl
    def mmeval_run_start(self, event):
        self.events.append("start")

    @hookimpl
    def mmeval_batch_end(self, event):
        assert 0 < event.done <= event.total
        self.events.append("batch")

    @hookimpl
    def mmeval_cell_end(self, event):
        self.events.append(f"cell:{event.status}")

    @hookimpl
    def mmeval_run_end(self, event):
        assert event.results.cells
        self.events.append("end")


def test_in_test_plugin_attack_used_by_name_in_a_spec(host):
    plugin = InTestPlugin()
    plugin.events.clear()
    host.register(plugin, "in-test")
    spec = toy_spec(attacks=[{"name": "shift", "params": {"eps": 3 / 255}}])
    result = evaluate(spec, host=host)
    (cell,) = result.cells
    assert cell["status"] == "done" and cell["n"] == 40
    assert cell["definition"]["attack"] == {"name": "test/shift", "params": {"eps": 3 / 255}}
    assert plugin.events == ["start", "batch", "batch", "batch", "cell:done", "end"]
    assert host.registry.get("attack", "test/shift").origin == "in-test"


def test_every_hook_has_a_docstring_and_mmeval_prefix(host):
    for name in host.pm.hook.__dict__:
        if name.startswith("_"):
            continue
        caller = getattr(host.pm.hook, name)
        assert name.startswith("mmeval_"), name
        assert caller.spec.function.__doc__, name
    assert set(REGISTER_HOOKS.values()) <= set(host.pm.hook.__dict__)


def test_a_duplicate_name_is_an_error_only_where_it_is_used(host, capsys):
    class Dup:
        @hookimpl
        def mmeval_register_attacks(self, registry):
            registry.add("mmeval/pgd", Shift)
            registry.add("dup/other", Shift)

    host.register(Dup(), "dup-plugin")
    assert {c.origin for c in host.registry.components("attack")
            if c.name == "mmeval/pgd"} == {"mmeval", "dup-plugin"}  # listed under both
    assert host.registry.get("attack", "dup/other").origin == "dup-plugin"  # the rest works
    assert evaluate(toy_spec(attacks=["clean"]), host=host).cells
    assert {i.status for i in host.plugins()} == {"loaded"}
    with pytest.raises(DuplicateComponentError,
                       match=r"attacks\[1\].name: attack name 'mmeval/pgd' is registered by "
                             r"'mmeval' .* and 'dup-plugin'.*MMEVAL_DISABLE_PLUGINS"):
        plan(toy_spec(), host)


def test_a_misspelt_hook_fails_its_plugin_with_a_suggestion(host):
    class Typo:
        @hookimpl
        def mmeval_register_attack(self, registry):
            registry.add("typo/shift", Shift)

    with pytest.warns(RuntimeWarning, match="did you mean 'mmeval_register_attacks'"):
        host.register(Typo(), "typo")
    (info,) = [i for i in host.plugins() if i.name == "typo"]
    assert info.status == "failed" and "'mmeval_register_attack' is no mmeval hook" in info.error
    with pytest.raises(UnknownComponentError, match="failed to load: typo"):
        host.registry.get("attack", "typo/shift")


def test_a_name_without_namespace_fails_its_plugin(host):
    class Bare:
        @hookimpl
        def mmeval_register_attacks(self, registry):
            registry.add("noise", Shift)

    host.register(Bare(), "bare")
    with pytest.warns(RuntimeWarning, match="attack name 'noise' has no namespace; register it "
                                            "as 'bare/noise'"):
        host.registry  # noqa: B018
    assert [i.status for i in host.plugins() if i.name == "bare"] == ["failed"]


def test_unknown_name_suggests_close_matches(host):
    with pytest.raises(UnknownComponentError, match="did you mean 'mmeval/pgd'"):
        host.registry.get("attack", "mmeval/pgdd")


def test_lazy_target_is_imported_only_when_used(host):
    class Lazy:
        @hookimpl
        def mmeval_register_attacks(self, registry):
            registry.add("test/missing", "no_such_module_xyz:Attack")

    host.register(Lazy(), "lazy")
    comp = host.registry.get("attack", "test/missing")  # registering did not import it
    with pytest.raises(MissingDependencyError, match="no_such_module_xyz"):
        comp.load()


def _fake_distribution(root, dist, module, body, ep_name):
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[mmeval]\n{ep_name} = {module}\n")


GOOD = """
    import mmeval
    from mmeval.attacks.clean import Clean

    @mmeval.hookimpl
    def mmeval_register_attacks(registry):
        registry.add("good/noop", Clean)
"""


@pytest.fixture()
def fake_plugins(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "good-plugin", "good_plugin_mod", GOOD, "good")
    _fake_distribution(tmp_path, "broken-plugin", "broken_plugin_mod",
                       "raise ImportError('needs libfoo')\n", "broken")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_entry_point_plugins_load_and_a_broken_one_is_reported(fake_plugins):
    with pytest.warns(RuntimeWarning, match="broken-plugin"):
        host = PluginHost()
    infos = {i.name: i for i in host.plugins()}
    assert infos["good"].status == "loaded" and infos["good"].version == "1.2.3"
    assert infos["good"].distribution == "good-plugin"
    assert infos["broken"].status == "failed"
    assert "broken-plugin 1.2.3" in infos["broken"].error and "libfoo" in infos["broken"].error
    assert ("attack", "good/noop") in host.registry
    assert ("attack", "mmeval/pgd") in host.registry
    with pytest.raises(UnknownComponentError, match=r"unknown attack 'broken/noise'.*a plugin "
                                                    r"that failed to load: broken"):
        host.registry.get("attack", "broken/noise")


@pytest.mark.parametrize("body", ["import sys\nsys.exit(0)\n", "raise KeyError('x')\n",
                                  "class Stop(BaseException):\n    pass\nraise Stop()\n"])
def test_a_plugin_that_exits_at_import_is_reported_like_one_that_raises(tmp_path, monkeypatch,
                                                                       body):
    _fake_distribution(tmp_path, "exiting-plugin", "exiting_plugin_mod", body, "exiting")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(RuntimeWarning, match="exiting-plugin 1.2.3.*failed to import"):
        host = PluginHost()
    assert {i.name: i.status for i in host.plugins()}["exiting"] == "failed"
    assert ("attack", "mmeval/pgd") in host.registry


def test_disable_plugins_env(fake_plugins, monkeypatch):
    monkeypatch.setenv("MMEVAL_DISABLE_PLUGINS", "broken, good-plugin")
    host = PluginHost()
    infos = {i.name: i.status for i in host.plugins()}
    assert infos["good"] == infos["broken"] == "disabled"
    assert ("attack", "good/noop") not in host.registry


def test_plugin_whose_hook_raises_is_reported_and_others_still_register(host):
    class Boom:
        @hookimpl
        def mmeval_register_attacks(self, registry):
            raise RuntimeError("kaboom")

    host.register(Boom(), "boom", distribution="boom-dist", version="0.1")
    with pytest.warns(RuntimeWarning, match="boom-dist 0.1.*kaboom"):
        registry = host.registry
    assert ("attack", "mmeval/pgd") in registry
    assert {i.name: i.status for i in host.plugins()}["boom"] == "failed"
