"""The bad-input campaign: malformed specs and inputs, each pointed at an existing run directory.
Every one must give its documented error type and exit code 2 (docs/reliability.md) and leave the
run's journal byte-identical."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

import mmeval.plugins
from mmeval import PluginHost, hookimpl
from mmeval.cli import main
from mmeval.runner import evaluate
from mmeval.store import JOURNAL
from mmeval.testing import toy_spec
from mmeval.testing.toy import ToyDataset, ToyDatasetParams
from mmeval.types import Sample


class _Shifted(ToyDataset):
    """Toy samples pushed out of [0, 1] (forgot to un-normalize)."""

    def __getitem__(self, index: int) -> Sample:
        s = super().__getitem__(index)
        return Sample(s.sample_id, s.image * 2 - 0.5, s.label, s.texts)


class _FewNames(ToyDataset):
    """Labels 3..12 but only three class names."""

    def __getitem__(self, index: int) -> Sample:
        s = super().__getitem__(index)
        return Sample(s.sample_id, s.image, s.label + 3, s.texts)

    @property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("red", "green", "blue")

    @class_names.setter
    def class_names(self, value: Any) -> None:
        pass


class _DuplicateIds(ToyDataset):
    def sample_id(self, index: int) -> str:
        return f"s{index // 2}"

    def __getitem__(self, index: int) -> Sample:
        s = super().__getitem__(index)
        return Sample(self.sample_id(index), s.image, s.label, s.texts)


class _Empty(ToyDataset):
    def __len__(self) -> int:
        return 0


class _BadData:
    @hookimpl
    def mmeval_register_datasets(self, registry: Any) -> None:
        for name, cls in (("shifted", _Shifted), ("few-names", _FewNames),
                          ("duplicate-ids", _DuplicateIds), ("empty", _Empty)):
            registry.add(f"bad/{name}", f"{__name__}:{cls.__name__}")


@pytest.fixture(scope="module")
def existing(tmp_path_factory) -> Path:
    """A finished run whose journal every case must leave untouched."""
    run_dir = tmp_path_factory.mktemp("existing") / "run"
    evaluate(toy_spec(), out=run_dir)
    return run_dir


@pytest.fixture()
def host(monkeypatch) -> PluginHost:
    host = PluginHost()
    host.register(_BadData(), "bad-data")
    monkeypatch.setattr(mmeval.plugins, "_default", host)
    return host


def _spec(tmp: Path, **changes: Any) -> Path:
    spec = toy_spec()
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(leaf) if leaf.isdigit() else leaf] = value
    path = tmp / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


class _Exploit:
    """A pickle payload that would run code when unpickled."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, ("touch pwned",))


def _pickle_checkpoint(tmp: Path) -> Path:
    path = tmp / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"weights": _Exploit()}, f)
    return path


def _corrupt_safetensors(tmp: Path) -> Path:
    good = tmp / "good.safetensors"
    save_file({"w": torch.zeros(4)}, str(good))
    return _file(tmp, "corrupt.safetensors", good.read_bytes()[:20])


def _retrieval(tmp: Path, entries: Any, raw: bytes | None = None) -> dict[str, Any]:
    (tmp / "images").mkdir(exist_ok=True)
    ann = tmp / "ann.json"
    ann.write_bytes(raw if raw is not None else json.dumps(entries).encode())
    return {"name": "retrieval-json", "params": {"annotation": str(ann),
                                                  "image_root": str(tmp / "images")}}


def _task(dataset: dict[str, Any], objective: str = "zero-shot") -> list[dict[str, Any]]:
    return [{"dataset": dataset, "objective": objective}]


def _read_only(tmp: Path) -> Path:
    ro = tmp / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return ro


ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


# (case id, argv builder (tmp dir, existing run dir) -> argv, expected error type)


def _run(spec: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["run", str(spec), "--out", str(run_dir), *extra]


CASES: list[Any] = [
    ("models-not-a-list", lambda t, r: _run(_spec(t, models="mmeval/toy-vlm"), r), "SpecError"),
    ("empty-models", lambda t, r: _run(_spec(t, models=[]), r), "SpecError"),
    ("empty-attacks", lambda t, r: _run(_spec(t, attacks=[]), r), "SpecError"),
    ("unknown-top-level-field", lambda t, r: _run(_spec(t, budget=3), r), "SpecError"),
    ("unknown-model", lambda t, r: _run(_spec(t, models=["mmeval/toy-vlmm"]), r),
     "UnknownComponentError"),
    ("unknown-attack", lambda t, r: _run(_spec(t, attacks=["mmeval/pgdd"]), r),
     "UnknownComponentError"),
    ("unknown-dataset", lambda t, r: _run(_spec(t, tasks=["imagenet-9000"]), r),
     "UnknownComponentError"),
    ("unknown-objective", lambda t, r: _run(_spec(t, tasks__0__objective="zero-shoot"), r),
     "UnknownComponentError"),
    ("unknown-metric", lambda t, r: _run(_spec(t, metrics=["robust-acuracy"]), r),
     "UnknownComponentError"),
    ("unknown-defense", lambda t, r: _run(_spec(t, models=[
        {"name": "mmeval/toy-vlm", "defenses": ["defenses/nope"]}]), r), "UnknownComponentError"),
    ("unknown-transfer-source", lambda t, r: _run(_spec(t, attacks=[
        {"name": "mmeval/pgd", "source": "mmeval/nope"}]), r), "UnknownComponentError"),
    ("unknown-attack-param", lambda t, r: _run(_spec(t, attacks__1__params__epsilon=0.1), r),
     "SpecError"),
    ("negative-eps", lambda t, r: _run(_spec(t, attacks__1__params__eps=-0.01), r), "SpecError"),
    ("eps-above-1", lambda t, r: _run(_spec(t, attacks__1__params__eps=4.0), r), "SpecError"),
    ("eps-wrong-type", lambda t, r: _run(_spec(t, attacks__1__params__eps="4/255"), r),
     "SpecError"),
    ("negative-steps", lambda t, r: _run(_spec(t, attacks__1__params__steps=-1), r), "SpecError"),
    ("batch-size-zero", lambda t, r: _run(_spec(t, run__batch_size=0), r), "SpecError"),
    ("batch-size-string", lambda t, r: _run(_spec(t, run__batch_size="lots"), r), "SpecError"),
    ("bad-precision", lambda t, r: _run(_spec(t, run__precision="fp8"), r), "SpecError"),
    ("bad-device", lambda t, r: _run(_spec(t, run__device="gpu:nine"), r), "SpecError"),
    ("limit-zero", lambda t, r: _run(_spec(t, tasks__0__limit=0), r), "SpecError"),
    ("cli-limit-negative", lambda t, r: _run(_spec(t), r, "--limit", "-1"), "SpecError"),
    ("bad-run-name", lambda t, r: _run(_spec(t, name="../escape"), r), "SpecError"),
    ("bad-gate-setting", lambda t, r: _run(_spec(t, run__checks={"masking_samples": 0}), r),
     "SpecError"),
    ("spec-file-missing", lambda t, r: _run(t / "nope.py", r), "SpecError"),
    ("spec-wrong-suffix", lambda t, r: _run(_file(t, "spec.yaml", b"name: x"), r), "SpecError"),
    ("spec-invalid-json", lambda t, r: _run(_file(t, "spec.json", b"{models: ["), r), "SpecError"),
    ("spec-json-not-utf8", lambda t, r: _run(_file(t, "spec.json", b'{"name": "\xff\xfe"}'), r),
     "SpecError"),
    ("spec-py-syntax-error", lambda t, r: _run(_file(t, "spec.py", b"SPEC = {"), r), "SpecError"),
    ("spec-py-without-SPEC", lambda t, r: _run(_file(t, "spec.py", b"OTHER = 1"), r), "SpecError"),
    ("weight-defense-without-checkpoint", lambda t, r: _run(_spec(t, models=[
        {"name": "mmeval/toy-vlm", "defenses": ["defenses/tecoa"]}]), r), "SpecError"),
    ("checkpoint-missing", lambda t, r: _run(_spec(t, models=[
        {"name": "mmeval/toy-vlm", "params": {"pretrained": str(t / "none.safetensors")}}]), r),
     "SpecError"),
    ("checkpoint-corrupt", lambda t, r: _run(_spec(t, models=[
        {"name": "mmeval/toy-vlm", "params": {"pretrained": str(_corrupt_safetensors(t))}}]), r),
     "SpecError"),
    ("checkpoint-pickle-exploit", lambda t, r: _run(_spec(t, models=[
        {"name": "mmeval/toy-vlm", "params": {"pretrained": str(_pickle_checkpoint(t))}}]), r),
     "SpecError"),
    ("dataset-root-missing", lambda t, r: _run(_spec(t, tasks=_task(
        {"name": "cifar10", "params": {"root": str(t / "no-cifar")}})), r), "SpecError"),
    ("dataset-empty-folder", lambda t, r: _run(_spec(t, tasks=_task(
        {"name": "image-folder", "params": {"root": str(t)}})), r), "SpecError"),
    ("annotation-missing", lambda t, r: _run(_spec(t, tasks=_task(
        {"name": "retrieval-json", "params": {"annotation": str(t / "none.json"),
                                              "image_root": str(t)}}, "retrieval")), r),
     "SpecError"),
    ("retrieval-data-under-zero-shot", lambda t, r: _run(_spec(t, tasks=_task(_retrieval(
        t, [{"image": "a.png", "caption": ["x"]}]))), r), "IncompatibleComponentsError"),
    ("dataset-empty", lambda t, r: _run(_spec(t, tasks=["bad/empty"]), r), "DataError"),
    ("images-outside-0-1", lambda t, r: _run(_spec(t, tasks=["bad/shifted"]), r), "DataError"),
    ("class-names-do-not-cover-labels", lambda t, r: _run(_spec(t, tasks=["bad/few-names"]), r),
     "DataError"),
    ("duplicate-sample-ids", lambda t, r: _run(_spec(t, tasks=["bad/duplicate-ids"]), r),
     "DataError"),
    ("captions-not-utf8", lambda t, r: _run(_spec(t, tasks=_task(_retrieval(
        t, None, raw=b'[{"image": "a.png", "caption": ["a \xff shape"]}]'), "retrieval")), r),
     "SpecError"),
    ("annotation-duplicate-images", lambda t, r: _run(_spec(t, tasks=_task(_retrieval(
        t, [{"image": "a.png", "caption": ["x"]}, {"image": "a.png", "caption": ["y"]}]),
        "retrieval")), r), "SpecError"),
    ("annotation-malformed", lambda t, r: _run(_spec(t, tasks=_task(_retrieval(
        t, [{"picture": "a.png"}]), "retrieval")), r), "SpecError"),
    ("annotation-image-missing", lambda t, r: _run(_spec(t, tasks=_task(_retrieval(
        t, [{"image": "missing.png", "caption": ["a red square"]}]), "retrieval")), r),
     "DataError"),
    ("output-dir-under-a-file", lambda t, r: _run(_spec(t), _file(t, "f", b"") / "run"),
     "StoreError"),
    pytest.param("output-dir-read-only", lambda t, r: _run(_spec(t), _read_only(t) / "run"),
                 "StoreError", marks=pytest.mark.skipif(ROOT_USER, reason="root writes anywhere")),
    ("report-of-a-non-run", lambda t, r: ["report", str(t)], "StoreError"),
]


def _digest(run_dir: Path) -> str:
    return hashlib.sha256((run_dir / JOURNAL).read_bytes()).hexdigest()


def _params(case: Any) -> Any:
    if hasattr(case, "marks"):  # already a pytest.param
        return pytest.param(*case.values[1:], id=case.values[0], marks=case.marks)
    return pytest.param(*case[1:], id=case[0])


@pytest.mark.parametrize(("build", "expected"), [_params(c) for c in CASES])
def test_bad_input_exits_2_and_leaves_the_run_untouched(existing, host, tmp_path, monkeypatch,
                                                         capsys, build, expected):
    monkeypatch.chdir(tmp_path)
    before = _digest(existing)
    files_before = sorted(p.name for p in existing.iterdir())
    code = main(build(tmp_path, existing))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.split(":", 1)[0] == expected, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert _digest(existing) == before
    assert sorted(p.name for p in existing.iterdir()) == files_before
    assert not (tmp_path / "pwned").exists()


def test_the_campaign_is_at_least_30_cases():
    ids = [_params(c).id for c in CASES]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)


def test_disk_full_is_refused_before_compute(existing, monkeypatch, tmp_path, capsys):
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=10 * 2**20))
    before = _digest(existing)
    code = main(["run", str(_spec(tmp_path)), "--out", str(existing)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("StoreError:") and "MiB free" in err
    assert _digest(existing) == before


def test_pickle_checkpoint_is_refused_by_every_loader(tmp_path, monkeypatch):
    """Neither the params check nor the loader itself unpickles arbitrary objects."""
    from mmeval.checkpoints import check_checkpoint, load_weights
    from mmeval.errors import ModelLoadError

    monkeypatch.chdir(tmp_path)
    evil = _pickle_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="weights_only"):
        check_checkpoint(str(evil))
    with pytest.raises(ModelLoadError, match="weights-only"):
        load_weights(evil)
    assert not (tmp_path / "pwned").exists()
    # the same payload does run code when unpickled without the guard: the test can fail
    with evil.open("rb") as f:
        pickle.load(f)
    assert (tmp_path / "pwned").exists()


def test_toy_datasets_used_here_are_otherwise_valid():
    """The malformed datasets differ from a valid one only in what each case breaks."""
    data = ToyDataset(ToyDatasetParams(n=4))
    assert len(data) == 4 and data[0].image.min() >= 0 and data[0].image.max() <= 1


def test_a_second_run_into_a_busy_directory_is_refused(existing, tmp_path, capsys):
    from mmeval.store import run_lock

    before = _digest(existing)
    with run_lock(existing):
        code = main(["run", str(_spec(tmp_path)), "--out", str(existing)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("StoreError: another mmeval run"), err
    assert _digest(existing) == before


#: the cases ``mmeval validate`` catches: every one but the output directory's and the CLI's own
PLAN_TIME = [c for c in CASES if _params(c).values[1] != "StoreError"
             and _params(c).id != "cli-limit-negative"]


@pytest.mark.parametrize(("build", "expected"), [_params(c) for c in PLAN_TIME])
def test_validate_catches_it_and_writes_nothing(host, tmp_path, monkeypatch, capsys, build,
                                                expected):
    monkeypatch.chdir(tmp_path)
    argv = build(tmp_path, tmp_path / "run")
    assert argv[0] == "run"
    code = main(["validate", argv[1]])
    if code == 0:  # not a plan-time case: the dataset level (--deep) must catch it
        code = main(["validate", "--deep", argv[1]])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.split(":", 1)[0] == expected, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()
    assert not (tmp_path / "pwned").exists()
