"""Faults in component code end in one line, fail only their cell, and leave a journal that a
re-run completes (docs/reliability.md, "Faults")."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from mmeval import StoreError, evaluate, hookimpl
from mmeval.attacks.clean import Clean
from mmeval.store import Store, write_output
from mmeval.testing import toy_spec


class Exits(Clean):
    def run(self, model, batch, objective, rng):
        raise SystemExit(3)


class Poisons(Clean):
    """Adds 1 to a weight in place (a version counter sees it)."""

    def run(self, model, batch, objective, rng):
        with torch.no_grad():
            next(model.parameters()).add_(1.0)
        return super().run(model, batch, objective, rng)


class PoisonsQuietly(Clean):
    """Adds 1 to a weight through ``.data`` (only the fingerprint sees it)."""

    def run(self, model, batch, objective, rng):
        next(model.parameters()).data.add_(1.0)
        return super().run(model, batch, objective, rng)


class Hangs(Clean):
    def run(self, model, batch, objective, rng):
        time.sleep(60)


class Slow(Clean):
    def run(self, model, batch, objective, rng):
        time.sleep(0.4)
        return super().run(model, batch, objective, rng)


class FaultyAttacks:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        for name, cls in (("exits", Exits), ("poisons", Poisons), ("poisons-quietly",
                          PoisonsQuietly), ("hangs", Hangs), ("slow", Slow)):
            registry.add(f"test/{name}", cls)


@pytest.fixture()
def faulty(host):
    host.register(FaultyAttacks(), "faulty")
    return host


def _cells(result) -> dict[str, dict]:
    return {c["label"].split(" / ")[-1]: c for c in result.cells}


def test_an_attack_raising_system_exit_fails_its_cell_and_the_run_goes_on(tmp_path, faulty):
    result = evaluate(toy_spec(attacks=["test/exits", "clean"]), out=tmp_path, host=faulty)
    exits, clean = result.cells
    assert exits["status"] == "failed" and exits["error"].startswith("SystemExit: 3 (at ")
    assert "\n" not in exits["error"] and "fails only its cell" in exits["error"]
    assert clean["status"] == "done" and clean["n"] == 40
    assert (tmp_path / "results.json").is_file()


@pytest.mark.parametrize("attack", ["test/poisons", "test/poisons-quietly"])
def test_an_attack_that_changes_the_weights_fails_and_the_model_is_rebuilt(tmp_path, faulty,
                                                                          attack):
    pgd = {"name": "mmeval/pgd", "params": {"eps": 4 / 255, "steps": 3}}
    reference = evaluate(toy_spec(attacks=["clean", pgd]), out=tmp_path / "ref", host=faulty)
    result = evaluate(toy_spec(attacks=["clean", attack, pgd]), out=tmp_path / "run",
                      host=faulty)
    clean, poisons, after = result.cells
    assert poisons["status"] == "failed" and poisons["n"] == 0
    assert f"attack '{attack}' changed the model's parameters or buffers in place" in \
        poisons["error"]
    assert "\n" not in poisons["error"]
    # the cells after it ran on a rebuilt model: the numbers of a run without the faulty attack
    for ours, theirs in ((clean, reference.cells[0]), (after, reference.cells[1])):
        assert ours["status"] == "done"
        assert {k: v["value"] for k, v in ours["metrics"].items()} == \
            {k: v["value"] for k, v in theirs["metrics"].items()}


def test_a_hanging_attack_fails_its_cell_at_the_batch_timeout(tmp_path, faulty):
    spec = toy_spec(attacks=["test/hangs", "clean"])
    spec["run"]["timeout"] = {"batch": 0.5}
    t0 = time.monotonic()
    hangs, clean = evaluate(spec, out=tmp_path, host=faulty).cells
    assert time.monotonic() - t0 < 30
    assert hangs["status"] == "failed" and "\n" not in hangs["error"]
    assert "a batch of 16 samples ran past run.timeout.batch (0.5 s) in attack 'test/hangs'" in \
        hangs["error"]
    assert clean["status"] == "done" and clean["n"] == 40


def test_a_cell_past_its_timeout_keeps_its_batches_and_a_rerun_completes_it(tmp_path, faulty):
    spec = toy_spec(attacks=["test/slow"])
    spec["run"]["timeout"] = {"cell": 0.6}
    (cell,) = evaluate(spec, out=tmp_path, host=faulty).cells
    assert cell["status"] == "failed" and "ran past run.timeout.cell (0.6 s)" in cell["error"]
    with Store(tmp_path, create=False) as store:
        kept = len(store.records(cell["id"]))
    assert kept == 16  # the first batch was committed; the second was cut short
    del spec["run"]["timeout"]
    (cell,) = evaluate(spec, out=tmp_path, host=faulty).cells
    assert cell["status"] == "done" and cell["n"] == 40


def test_a_spec_file_that_exits_is_one_line_and_exit_2(tmp_path, capsys):
    from mmeval.cli import main

    path = tmp_path / "spec.py"
    path.write_text("import sys\nsys.exit(0)\n")
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("SpecError: running ") and "SystemExit" in err and "\n" not in err


# -- the journal and the run directory ------------------------------------------------------------

def _cli(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mmeval", *args], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, **env}, timeout=600)


def _spec_file(tmp_path, **run) -> Path:
    spec = toy_spec(attacks=["clean", {"name": "mmeval/pgd", "params": {"eps": 4 / 255,
                                                                     "steps": 2}}])
    spec["tasks"][0]["dataset"]["params"]["n"] = 2000
    spec["run"].update(run)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not permitted'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_mid_run_is_one_store_error_and_a_rerun_completes(tmp_path):
    spec = _spec_file(tmp_path, examples=0)
    with _tmpfs(tmp_path / "disk", "8m") as disk:
        (disk / "filler").write_bytes(b"\0" * (8 * 1024 * 1024 - 160 * 1024))  # 160 KiB left
        run = disk / "run"
        proc = _cli(["run", str(spec), "--out", str(run), "--no-progress"], tmp_path,
                    MMEVAL_MIN_FREE_MB="0")
        assert proc.returncode == 2, proc.stderr[-2000:]
        err = proc.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"StoreError: cannot use journal '{run}"), err
        assert "full" in err[0]
        with Store(run, create=False) as store:
            kept = sum(len(store.records(c["cell_id"])) for c in store.cells())
        assert 0 < kept < 4000  # what was committed before the disk filled is there
        (disk / "filler").unlink()
        proc = _cli(["run", str(spec), "--out", str(run), "--no-progress"], tmp_path,
                    MMEVAL_MIN_FREE_MB="0")
        assert proc.returncode == 0, proc.stderr[-2000:]
        results = json.loads((run / "results.json").read_text())
        assert [c["n"] for c in results["cells"]] == [2000, 2000]


def test_a_journal_that_turns_read_only_mid_run_is_one_store_error(tmp_path, monkeypatch):
    """The journal's connection loses write access after the first batch (what a disk remounted
    read-only gives SQLite: SQLITE_READONLY)."""
    spec = toy_spec()
    appended = []
    append = Store.append

    def read_only_after_one(self, records):
        if appended:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        append(self, records)
        appended.append(len(records))

    monkeypatch.setattr(Store, "append", read_only_after_one)
    with pytest.raises(StoreError, match=r"cannot use journal .*readonly database") as info:
        evaluate(spec, out=tmp_path)
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    with Store(tmp_path, create=False) as store:
        assert sum(len(store.records(c["cell_id"])) for c in store.cells()) == 16
    assert [c["n"] for c in evaluate(spec, out=tmp_path).cells] == [40, 40]


@pytest.mark.parametrize("name", ["report.md", "results.json", ".lock", "journal.sqlite"])
def test_a_symlink_in_the_run_directory_is_refused_before_any_compute(tmp_path, name):
    run, target = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    target.write_text("precious\n")
    (run / name).symlink_to(target)
    proc = _cli(["run", str(_spec_file(tmp_path)), "--out", str(run), "--no-progress"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"StoreError: '{run / name}' is a symbolic link; mmeval writes "
                                   "its outputs only as regular files in the run directory: remove "
                                   "the link or choose another directory with --out")
    assert target.read_text() == "precious\n"


def test_mmeval_report_refuses_a_symlink_planted_after_the_run(tmp_path):
    run, target = tmp_path / "run", tmp_path / ".bashrc"
    evaluate(toy_spec(attacks=["clean"]), out=run)
    target.write_text("# shell start-up\n")
    (run / "report.md").unlink()
    (run / "report.md").symlink_to(target)
    proc = _cli(["report", str(run)], tmp_path)
    assert proc.returncode == 2 and "is a symbolic link" in proc.stderr
    assert target.read_text() == "# shell start-up\n"


def test_outputs_are_replaced_atomically(tmp_path, monkeypatch):
    """A failure while writing results.json leaves the previous one whole."""
    evaluate(toy_spec(attacks=["clean"]), out=tmp_path)
    before = (tmp_path / "results.json").read_text()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(StoreError, match="No space left on device.*previous one, if any, is intact"):
        write_output(tmp_path, "results.json", "{}")
    assert (tmp_path / "results.json").read_text() == before
    assert not list(tmp_path.glob(".results.json.*.tmp"))


# -- specs and labels ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nests more than 32 levels deep"),
    ('{"name": "x", "models": ' + "[" * 40 + "]" * 40 + "}", "nests more than 32 levels deep"),
])
def test_a_deeply_nested_json_spec_is_one_line(tmp_path, text, message):
    path = tmp_path / "deep.json"
    path.write_text(text)
    proc = _cli(["validate", str(path)], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["tasks"][0]["dataset"]["params"].update(n=2**63),
     "tasks[0].dataset.params.n: 9223372036854775808 is out of range"),
    (lambda s: s["run"].update(workers=10**29), "run.workers: Input should be less than or equal"),
    (lambda s: s.update(name=".."), "name: Value error, '..' would name a directory above"),
    (lambda s: s.update(attacks=["mmeval/pg\nd\x1b[2J"]), r"unknown attack 'mmeval/pg\nd\x1b[2J'"),
    (lambda s: s.update(attacks=[{"name": "mmeval/pgd", "params": {"step_size": 8}}]),
     "a Linf step_size above 1 is meaningless"),
])
def test_out_of_range_specs_are_one_line_before_any_compute(tmp_path, change, message):
    spec = toy_spec()
    change(spec)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    proc = _cli(["run", str(path), "--out", str(tmp_path / "run")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert message in line, line
    assert not (tmp_path / "run" / "journal.sqlite").exists()


def test_a_label_with_a_newline_and_pipes_cannot_forge_report_rows(tmp_path):
    label = "evil\n| forged | 100.0 |\n<script>alert(1)</script>"
    evaluate(toy_spec(attacks=[{"name": "clean", "label": label}]), out=tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert not any(line.startswith("| forged") for line in md.splitlines())
    assert "evil \\| forged \\| 100.0 \\|" in md
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


# -- silent wrong data -------------------------------------------------------------------------------

def test_a_16_bit_png_is_read_by_its_real_range(tmp_path):
    import numpy as np
    from PIL import Image

    from mmeval.data.image_folder import ImageFolder, ImageFolderParams

    (tmp_path / "grey").mkdir()
    Image.fromarray(np.full((30, 40), 32768, dtype=np.uint16)).save(tmp_path / "grey" / "a.png")
    Image.fromarray(np.full((30, 40, 3), 128, dtype=np.uint8)).save(tmp_path / "grey" / "b.png")
    assert Image.open(tmp_path / "grey" / "a.png").mode == "I;16"
    ds = ImageFolder(ImageFolderParams(root=str(tmp_path), image_size=16))
    deep, shallow = ds[0].image, ds[1].image
    assert deep.shape == (3, 16, 16)
    torch.testing.assert_close(deep, torch.full_like(deep, 32768 / 65535))  # mid-grey, not white
    torch.testing.assert_close(shallow, torch.full_like(shallow, 128 / 255))


@pytest.mark.parametrize(("entry", "message"), [
    ({"image": "a.png", "caption": []}, "caption must be a non-empty string or a non-empty list"),
    ({"image": "a.png", "caption": None}, "caption must be a non-empty string"),
    ({"image": "a.png", "caption": ["ok", ""]}, "caption must be a non-empty string"),
    ({"image": "ABS", "caption": "a cat"}, "is not a relative path inside image_root"),
    ({"image": "../outside.png", "caption": "a cat"}, "is not a relative path inside image_root"),
])
def test_retrieval_json_is_checked_before_any_compute(tmp_path, entry, message):
    from PIL import Image

    root = tmp_path / "images"
    root.mkdir()
    Image.new("RGB", (8, 8)).save(root / "a.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")
    if entry["image"] == "ABS":
        entry = {**entry, "image": str(root / "a.png")}
    (tmp_path / "ann.json").write_text(json.dumps([entry]))
    spec = toy_spec(tasks=[{"dataset": {"name": "retrieval-json", "params": {
        "annotation": str(tmp_path / "ann.json"), "image_root": str(root)}},
        "objective": "retrieval"}], attacks=["clean"])
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    proc = _cli(["validate", str(path)], tmp_path)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("SpecError: tasks[0].dataset.params: annotation ") and "entry 0" in line
    assert message in line, line


# -- journal damage ----------------------------------------------------------------------------------

class _WalDeleter:
    """Deletes the journal's write-ahead log after the second batch; with ``pin``, first opens a
    reader whose snapshot keeps the checkpoint from copying the later batches out of it."""

    def __init__(self, pin: bool) -> None:
        self.pin, self.batches, self.reader = pin, 0, None

    @hookimpl
    def mmeval_batch_end(self, event):
        self.batches += 1
        if self.batches == 1 and self.pin:
            self.reader = sqlite3.connect(event.run_dir / "journal.sqlite", isolation_level=None)
            self.reader.execute("BEGIN")
            self.reader.execute("SELECT count(*) FROM records").fetchone()
        if self.batches == 2:
            os.unlink(event.run_dir / "journal.sqlite-wal")


def _durable(run: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{run / 'journal.sqlite'}?mode=ro",
                                            uri=True)) as db:
        return db.execute("SELECT count(*) FROM records").fetchone()[0]


def test_a_wal_deleted_mid_run_loses_nothing(tmp_path, host):
    host.register(_WalDeleter(pin=False), "wal")
    result = evaluate(toy_spec(), out=tmp_path, host=host)
    assert [c["n"] for c in result.cells] == [40, 40]
    assert _durable(tmp_path) == 80  # checkpointed into journal.sqlite before success


def test_a_run_whose_records_are_not_durable_never_reports_success(tmp_path, host):
    deleter = _WalDeleter(pin=True)
    host.register(deleter, "wal")
    with pytest.raises(StoreError, match="journal") as info:
        evaluate(toy_spec(), out=tmp_path, host=host)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "results.json").exists()
    deleter.reader.close()
    assert [c["n"] for c in evaluate(toy_spec(), out=tmp_path).cells] == [40, 40]
    assert _durable(tmp_path) == 80


@pytest.mark.parametrize("damage", ["truncate", "zero"])
def test_a_damaged_journal_is_one_line(tmp_path, damage):
    run = tmp_path / "run"
    evaluate(toy_spec(), out=run)
    journal = run / "journal.sqlite"
    data = journal.read_bytes()
    assert len(data) > 8192
    journal.write_bytes(data[: len(data) // 2] if damage == "truncate"
                        else data[:4096] + b"\0" * 4096 + data[8192:])
    proc = _cli(["report", str(run)], tmp_path)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("StoreError: ") and str(journal) in line, line


def test_mmeval_report_merges_the_rank_journals_a_killed_run_left(tmp_path):
    from mmeval.store import shard_name

    evaluate(toy_spec(), out=tmp_path)
    with Store(tmp_path, create=False) as store:
        cell = store.cells()[1]["cell_id"]
        records = store.records(cell)
        with Store(tmp_path, name=shard_name(1)) as shard:
            shard.append(records[:10])
        with store.db:
            store.db.executemany("DELETE FROM records WHERE cell_id=? AND sample_id=?",
                                 [(cell, r.sample_id) for r in records[:10]])
    proc = _cli(["report", str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [c["n"] for c in results["cells"]] == [40, 40]
    assert not list(tmp_path.glob(shard_name("*")))


# -- bad input under --nproc --------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["dataset root", "output under a file", "busy directory"])
def test_bad_input_under_nproc_is_one_line_before_any_worker(tmp_path, fault):
    import fcntl

    spec = toy_spec(attacks=["clean"])
    out = tmp_path / "run"
    if fault == "dataset root":
        (tmp_path / "empty").mkdir()
        spec["tasks"] = [{"dataset": {"name": "image-folder",
                                      "params": {"root": str(tmp_path / "empty")}}}]
    elif fault == "output under a file":
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "run"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    with contextlib.ExitStack() as stack:
        if fault == "busy directory":
            out.mkdir()
            lock = stack.enter_context((out / ".lock").open("a+"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        proc = _cli(["run", str(path), "--out", str(out), "--nproc", "2", "--no-progress"],
                    tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(("SpecError: ", "DataError: ", "StoreError: ")), line
    assert "torch.distributed" not in proc.stderr


def _journaled_so_far(run: Path) -> int:
    """Records the run has committed so far, read through an ordinary (query-only) connection,
    as a WAL reader beside the writer."""
    if not (run / "journal.sqlite").exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(run / "journal.sqlite", timeout=1)) as db:
            db.execute("PRAGMA query_only=1")
            return db.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.Error:  # the journal is still being created
        return 0


def test_ctrl_c_stops_the_run_with_exit_130_and_a_rerun_completes(tmp_path):
    spec, run = _spec_file(tmp_path, examples=0), tmp_path / "run"
    data = json.loads(spec.read_text())
    data["attacks"][1]["params"]["steps"] = 40  # a run that lasts long enough to interrupt
    spec.write_text(json.dumps(data))
    cmd = [sys.executable, "-m", "mmeval", "run", str(spec), "--out", str(run), "--no-progress"]
    # as from a terminal: a shell's background jobs (CI runners, `cmd &`) start with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler
    proc = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while _journaled_so_far(run) < 32:  # two batches are journaled
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == ("interrupted; completed batches are in the journal, "
                                            "re-run to resume")
    kept = _durable(run)
    assert 0 < kept < 4000
    done = _cli(["run", str(spec), "--out", str(run), "--no-progress"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [c["n"] for c in json.loads((run / "results.json").read_text())["cells"]] == [2000, 2000]
