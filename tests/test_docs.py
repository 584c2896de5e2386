"""Generated reference pages are current, and every hook is documented and actually called."""

from __future__ import annotations

import inspect
from typing import ClassVar

from mmeval import evaluate, hookimpl, hookspecs
from mmeval.docgen import DOCS, main
from mmeval.testing import toy_spec

HOOKS = [n for n, _ in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("mmeval_")]


def test_generated_pages_are_current():
    assert main(["--check"]) == 0, "run: python -m mmeval.docgen"


def test_every_hook_is_on_the_hooks_page():
    page = (DOCS / "plugin-hooks.md").read_text()
    for name in HOOKS:
        assert f"## `{name}`" in page and inspect.getdoc(getattr(hookspecs, name)), name


class Recorder:
    called: ClassVar[set[str]] = set()


def _recording(name: str):
    def impl(self, **kwargs):
        Recorder.called.add(name)

    impl.__name__ = name
    params = inspect.signature(getattr(hookspecs, name)).parameters
    impl.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params.values()])
    return hookimpl(impl)


for _name in HOOKS:
    setattr(Recorder, _name, _recording(_name))


def test_every_hook_is_called_by_a_run(host):
    Recorder.called.clear()
    host.register(Recorder(), "recorder")
    evaluate(toy_spec(tasks=[{"dataset": {"name": "mmeval/toy", "params": {"n": 8}}}]), host=host)
    assert Recorder.called == set(HOOKS), set(HOOKS) - Recorder.called
