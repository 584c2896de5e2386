"""What a cell computes on is part of its identity: new weights at the same checkpoint path, or
changed dataset files, start new cells; the old ones stay in the journal, are not mixed in, and
the report says they exist. File digests are cached by path, size and modification time."""

import os

from mmeval import Store, evaluate, plan
from mmeval.data.image_folder import ImageFolderParams
from mmeval.fingerprints import fingerprint, inputs
from mmeval.testing import toy_spec
from mmeval.testing.toy import ToyVLM, ToyVLMParams


def _spec(checkpoint, out):
    return toy_spec(models=[{"name": "mmeval/toy-vlm", "params": {"pretrained": str(checkpoint)},
                             "label": "mine"}],
                    tasks=[{"dataset": {"name": "mmeval/toy", "params": {"n": 12}}}],
                    output_dir=str(out))


def test_new_weights_at_the_same_path_make_new_cells(tmp_path):
    ckpt = ToyVLM().save_checkpoint(tmp_path / "w")["params"]["pretrained"]
    first = evaluate(_spec(ckpt, tmp_path / "run"))
    ToyVLM(ToyVLMParams(seed=3)).save_checkpoint(tmp_path / "w")  # other weights, same path
    second = evaluate(_spec(ckpt, tmp_path / "run"))
    old, new = {c["id"] for c in first.cells}, {c["id"] for c in second.cells}
    assert old.isdisjoint(new) and len(new) == 2
    with Store(tmp_path / "run", create=False) as store:
        assert {r["cell_id"] for r in store.cells()} == old | new  # the old cells are kept
        for cid in new:
            assert len(store.records(cid)) == 12  # computed afresh, nothing reused
    # the report holds only the new cells: the plan's for the new weights
    assert [c["id"] for c in second.cells] == [c.id for c in plan(_spec(ckpt, tmp_path)).cells]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "also holds 2 cell(s) this spec does not plan" in report
    assert second.cells[0]["definition"]["model"]["inputs"]["pretrained"] == fingerprint(
        tmp_path / "w" / ToyVLM.checkpoint_file)


def test_the_same_weights_resume(tmp_path):
    ckpt = ToyVLM().save_checkpoint(tmp_path / "w")["params"]["pretrained"]
    first = evaluate(_spec(ckpt, tmp_path / "run"))
    os.utime(ckpt)  # touched, not changed: same content, same cells
    again = evaluate(_spec(ckpt, tmp_path / "run"))
    assert [c["id"] for c in again.cells] == [c["id"] for c in first.cells]
    assert "does not plan" not in (tmp_path / "run" / "report.md").read_text()


def test_listing_and_content_fingerprints(tmp_path, monkeypatch):
    root = tmp_path / "data" / "cat"
    root.mkdir(parents=True)
    (root / "a.png").write_bytes(b"x")
    listing = fingerprint(tmp_path / "data", "listing")
    content = fingerprint(tmp_path / "data")
    (root / "b.png").write_bytes(b"y")
    assert fingerprint(tmp_path / "data", "listing") != listing
    assert fingerprint(tmp_path / "data") != content
    # cached: an unchanged file is not read again
    monkeypatch.setattr("builtins.open", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert fingerprint(root / "a.png") == fingerprint(root / "a.png")


def test_only_declared_existing_paths_are_inputs(tmp_path):
    assert inputs(ToyVLMParams(pretrained=None)) == {}
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    assert set(inputs(ImageFolderParams(root=str(tmp_path / "imgs")))) == {"root"}
    assert inputs(ImageFolderParams(root=str(tmp_path / "missing"))) == {}
