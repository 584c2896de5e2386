"""Every example spec's report renders as well-formed HTML and Markdown: each example is planned
(no model is built), its cells are journaled with fabricated records, and the built-in reporters
render the results — transfer tables, eps curves and worst-case rows included."""

from pathlib import Path

import pytest
import torch
from test_report import well_formed

from mmeval import SampleRecord, Store, load_spec, plan
from mmeval.reporters.html import render_html
from mmeval.reporters.markdown import render_markdown
from mmeval.results import build_results

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPECS = ["quickstart", "multimodal_shapes", "transfer_shapes", "advclip_shapes",
         "multi_shield_shapes", "text_attacks_shapes", "tecoa_protocol", "audio_shapes"]


def _records(cell, n: int) -> list[SampleRecord]:
    g = torch.Generator().manual_seed(len(cell.id))
    out = []
    for i in range(n):
        arrays = {}
        if cell.info.objective_kind == "retrieval":
            arrays = {f"{w}_{k}": torch.randn(*s, generator=g)
                      for w in ("clean", "adv") for k, s in (("image", (8,)), ("text", (2, 8)))}
        ok = bool(torch.rand(1, generator=g) < 0.7)
        out.append(SampleRecord(cell.id, f"s{i}", 0, 0, 0 if ok else 1, True, ok, 0.01, 0.1,
                                {}, arrays))
    return out


@pytest.mark.parametrize("name", SPECS)
def test_example_report_is_well_formed(tmp_path, name):
    the_plan = plan(load_spec(EXAMPLES / f"{name}.py"), limit=6)
    with Store(tmp_path) as store:
        store.set_meta(spec=the_plan.spec.canonical(), spec_hash="h", seed=0, warnings=[],
                       cells=[c.id for c in the_plan.cells], versions={"mmeval": "0"},
                       environment={"device": "cpu", "torch": torch.__version__})
        for cell in the_plan.cells:
            store.register_cell(cell.id, group=cell.group, info=cell.info.to_json(),
                                definition=cell.definition(), total=6)
            store.append(_records(cell, 6))
            store.set_status(cell.id, "done")
        results = build_results(store, the_plan.metrics)
    tags = well_formed(render_html(results))
    markdown = render_markdown(results)
    tables = sum(line.startswith("|---") for line in markdown.splitlines())
    assert tags.count("table") == tables >= 1
    if name == "transfer_shapes":  # 5 attacks x 4 metrics, each a source x target table
        assert markdown.count("| source \\ target |") == 20
