"""Reporters: results.json, report.md and report.html are plugins rendering the typed results;
HTML is well-formed and escaped; observers that raise change nothing; a third-party reporter is
one hookimpl."""

import json
import warnings
from html.parser import HTMLParser

import pytest

from mmeval import PluginHost, evaluate, hookimpl, recompute
from mmeval.reporters.html import render_html
from mmeval.testing import toy_spec

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Balance(HTMLParser):
    """Fails on any closing tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def well_formed(page: str) -> list[str]:
    """The tags of ``page``; AssertionError unless every element is closed in order."""
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser.tags


def test_well_formed_checker_catches_the_old_malformed_tables():
    with pytest.raises(AssertionError):
        well_formed("<html><body><table><tr><td>x</td></tr></table></table></body></html>")


def _transfer_spec(tmp_path, **over):
    models = [{"name": "mmeval/toy-vlm", "label": "toy <script>alert(1)</script> | a"},
              {"name": "mmeval/toy-vlm", "params": {"seed": 1}, "label": "toy-1"}]
    pgd = {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 3}}
    return toy_spec(models=models, attacks=["clean", pgd, {**pgd, "source": models[1],
                                                           "label": "pgd from toy-1"}],
                    output_dir=str(tmp_path / "run"), **over)


def test_transfer_report_is_well_formed_html_with_escaped_labels(tmp_path, host):
    result = evaluate(_transfer_spec(tmp_path), host=host)
    page = (result.run_dir / "report.html").read_text()
    tags = well_formed(page)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the classification table and the source x target tables
    assert tags.count("table") >= 3 and "source \\ target" in page
    markdown = (result.run_dir / "report.md").read_text()
    assert "toy <script>alert(1)</script> \\| a" in markdown  # | cannot split a table row
    assert "**" not in page  # Markdown emphasis is rendered as HTML, not shown literally
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert saved == result.results and {c["role"] for c in saved["cells"]} == {
        "clean", "white-box", "transfer"}


def test_a_report_without_eps_curves_parses(tmp_path, host):
    """A report of a clean cell alone (no eps curve, no transfer table) parses."""
    result = evaluate(toy_spec(attacks=["clean"], output_dir=str(tmp_path / "r")), host=host)
    well_formed((result.run_dir / "report.html").read_text())


class Raising:
    @hookimpl
    def mmeval_cell_end(self, event):
        raise RuntimeError("observer bug")

    @hookimpl
    def mmeval_batch_end(self, event):
        raise RuntimeError("observer bug")


def test_an_observer_that_raises_leaves_every_cell_done_with_one_warning(tmp_path, host):
    host.register(Raising(), "raising-observer")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = evaluate(toy_spec(output_dir=str(tmp_path / "r")), host=host)
    assert [c["status"] for c in result.cells] == ["done", "done"]
    mine = [w for w in caught if "raising-observer" in str(w.message)]
    assert len(mine) == 2  # one per hook it broke in, not one per event
    assert all("mmeval_cell_end" in str(w.message) or "mmeval_batch_end" in str(w.message)
               for w in mine)
    # a rerun resumes and reports the same cells done
    again = evaluate(toy_spec(output_dir=str(tmp_path / "r")), host=host)
    assert [c["status"] for c in again.cells] == ["done", "done"]


class CellLines:
    """A third-party reporter: one JSON line per finished cell."""

    @hookimpl
    def mmeval_cell_end(self, event):
        with (event.run_dir / "cells.jsonl").open("a") as f:
            f.write(json.dumps({"cell": event.cell_id, "status": event.status}) + "\n")


def test_a_third_party_reporter_is_one_hookimpl(tmp_path, host):
    host.register(CellLines(), "cell-lines")
    result = evaluate(toy_spec(output_dir=str(tmp_path / "r")), host=host)
    lines = (result.run_dir / "cells.jsonl").read_text().splitlines()
    assert [json.loads(x)["cell"] for x in lines] == [c["id"] for c in result.cells]


def test_recompute_renders_the_same_reports_from_the_journal(tmp_path, host):
    result = evaluate(_transfer_spec(tmp_path), host=host)
    before = {n: (result.run_dir / n).read_text() for n in ("report.md", "results.json")}
    for n in before:
        (result.run_dir / n).unlink()
    recompute(result.run_dir, PluginHost())
    assert {n: (result.run_dir / n).read_text() for n in before} == before


def test_render_html_escapes_metric_definitions(tmp_path, host):
    from mmeval import Store
    from mmeval.planning import resolve_metrics
    from mmeval.results import build_results
    from mmeval.spec import validate_spec

    result = evaluate(toy_spec(attacks=["clean"], output_dir=str(tmp_path / "r")), host=host)
    with Store(result.run_dir, create=False) as store:
        metrics = resolve_metrics(validate_spec(store.meta()["spec"]), host)
        page = render_html(build_results(store, metrics))
    assert "<li><strong>clean-accuracy</strong> (cell):" in page


def test_a_journal_without_cell_descriptions_is_refused_in_one_line(tmp_path, host):
    import sqlite3

    from mmeval import StoreError

    result = evaluate(toy_spec(output_dir=str(tmp_path / "r")), host=host)
    db = sqlite3.connect(result.run_dir / "journal.sqlite")
    with db:
        db.execute("UPDATE cells SET info = NULL")  # what a journal of an older mmeval holds
    db.close()
    with pytest.raises(StoreError, match="older mmeval.*2 cell"):
        recompute(result.run_dir, host)
    again = evaluate(toy_spec(output_dir=str(tmp_path / "r")), host=host)  # refreshes them
    assert again.results["cells"] == result.results["cells"]
