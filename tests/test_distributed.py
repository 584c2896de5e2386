"""Distributed evaluation under real torchrun subprocesses (CPU, gloo): numbers independent of world
size and batch size, resume across world sizes after SIGKILL, and a dead rank failing the run."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from mmeval.spec import load_spec
from mmeval.store import JOURNAL, Store, shard_name
from mmeval.testing import Watched, run_watched

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 24


def _spec(tmp: Path, batch_size: int, steps: int = 10, name: str = "spec") -> Path:
    """The quickstart spec as JSON, with ``batch_size`` and PGD ``steps``."""
    data = load_spec(ROOT / "examples" / "quickstart.py").canonical()
    data["run"].update(batch_size=batch_size, progress=False)
    for attack in data["attacks"]:
        if attack["name"] == "mmeval/pgd":
            attack["params"]["steps"] = steps
    path = tmp / f"{name}-{batch_size}-{steps}.json"
    path.write_text(json.dumps(data))
    return path


def _cmd(spec: Path, out: Path, nproc: int, limit: int = LIMIT) -> list[str]:
    return [sys.executable, "-m", "mmeval", "run", str(spec), "--out", str(out),
            f"--limit={limit}", f"--nproc={nproc}", "--no-progress"]


def _run(spec: Path, out: Path, nproc: int, limit: int = LIMIT) -> dict:
    proc = run_watched(_cmd(spec, out, nproc, limit), watch=[out], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def _outcomes(out: Path) -> dict[tuple[str, str], tuple]:
    with Store(out, create=False) as store:
        return {(r.cell_id, r.sample_id): (r.clean_pred, r.adv_pred, r.adv_correct)
                for c in store.cells() for r in store.records(c["cell_id"])}


def _metrics(results: dict) -> dict[str, dict]:
    return {c["id"]: {k: v["value"] for k, v in c["metrics"].items()} | {"n": c["n"]}
            for c in results["cells"]}


def _assert_same_metrics(got: dict, want: dict, n: int) -> None:
    """Every metric equal to within one image's queries (1/n): batches composed differently round
    differently in CPU matmuls, which PGD's sign steps can turn into another adversarial image
    for a sample near a decision boundary, moving a gallery ranking by that image's captions."""
    assert got.keys() == want.keys()
    for cid, metrics in want.items():
        assert got[cid]["n"] == metrics["n"], cid
        for name, value in metrics.items():
            if value is not None:
                assert abs(got[cid][name] - value) <= 1 / n + 1e-9, (cid, name, got[cid][name], value)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, dict]:
    """World size 1, batch size 32 (under torchrun)."""
    tmp = tmp_path_factory.mktemp("dist")
    out = tmp / "ws1-bs32"
    return out, _run(_spec(tmp, 32), out, 1)


# world size 2 at batch size 8 runs by default as two nodes (test_two_nodes_give_the_numbers_of_one;
# `--nproc 2` is the launcher of the resume and dead-rank tests); these, and each alone, are slow
@pytest.mark.parametrize(("nproc", "batch_size"), [(2, 8), (2, 32), (1, 8)])
@pytest.mark.slow
def test_numbers_do_not_depend_on_world_or_batch_size(baseline, tmp_path, nproc, batch_size):
    out = tmp_path / "run"
    _run(_spec(tmp_path, batch_size), out, nproc)
    _assert_like_baseline(out, nproc, baseline)


def _assert_like_baseline(out: Path, world_size: int, baseline: tuple[Path, dict]) -> None:
    """The run in ``out`` did every sample exactly once on ``world_size`` ranks and got the
    baseline's numbers; its rank journals are merged."""
    base_dir, base = baseline
    results = json.loads((out / "results.json").read_text())
    assert results["environment"]["world_size"] == world_size
    assert all(c["status"] == "done" and c["n"] == LIMIT for c in results["cells"])
    _assert_same_metrics(_metrics(results), _metrics(base), LIMIT)
    ours, theirs = _outcomes(out), _outcomes(base_dir)
    assert ours.keys() == theirs.keys() and len(ours) == 12 * LIMIT  # every sample exactly once
    same = sum(ours[k] == theirs[k] for k in ours)
    assert same >= 0.99 * len(ours), f"{same}/{len(ours)} identical outcomes"
    assert not list(out.glob(shard_name("*"))), "rank journals must be merged and removed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_give_the_numbers_of_one(baseline, tmp_path):
    """Two torchrun launchers as two nodes of one process each (``--nnodes 2 --node-rank 0/1``,
    a c10d rendezvous on the loopback address, gloo), as a multi-node job starts them: every
    sample once, the numbers of world size 1."""
    out, port = tmp_path / "run", _free_port()
    run = ["-m", "mmeval", "run", str(_spec(tmp_path, 8)), "--out", str(out), f"--limit={LIMIT}",
           "--no-progress"]
    nodes = [Watched([sys.executable, "-m", "torch.distributed.run", "--nnodes=2",
                      f"--node-rank={rank}", "--nproc-per-node=1", "--rdzv-backend=c10d",
                      f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id=test-{port}", *run],
                     watch=[out], cwd=ROOT) for rank in (0, 1)]
    try:
        done = [node.wait() for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    assert [p.returncode for p in done] == [0, 0], [p.stderr[-2000:] for p in done]
    assert "results:" in done[0].stdout + done[1].stdout  # the node holding rank 0 reports
    _assert_like_baseline(out, 2, baseline)


def _records(out: Path) -> int:
    """Records journaled so far in ``out`` (journal and rank shards), read-only: polling never
    creates a file the run has not."""
    total = 0
    for path in [out / JOURNAL, *out.glob(shard_name("*"))]:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
                total += db.execute("SELECT count(*) FROM records").fetchone()[0]
        except sqlite3.Error:
            pass
    return total


def _kill_midway(cmd: list[str], out: Path, at_least: int) -> None:
    proc = Watched(cmd, watch=[out], cwd=ROOT)
    while _records(out) < at_least:
        assert proc.alive(), proc.stderr()[-3000:]
        time.sleep(0.2)
    proc.kill()
    _kill_workers(out)


def _kill_workers(out: Path) -> None:
    """SIGKILL the torchrun workers of the run writing ``out`` (torchrun starts them in their own
    sessions, so killing the launcher's process group leaves them running)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(out) in cmdline.read_bytes().decode(errors="replace"):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    time.sleep(0.5)


# two ranks killed, one resumes in the default run; the reverse direction, slow
@pytest.mark.parametrize(("first", "second"), [(2, 1), pytest.param(1, 2, marks=pytest.mark.slow)])
def test_resume_across_world_sizes_after_sigkill(tmp_path, first, second):
    spec = _spec(tmp_path, 8, steps=30)
    limit = 40
    reference = _run(spec, tmp_path / "reference", 1, limit)
    out = tmp_path / "killed"
    _kill_midway(_cmd(spec, out, first, limit), out, at_least=3 * 8 * first)
    assert not (out / "results.json").exists(), "killed too late: the run had finished"
    assert 0 < _records(out) < 12 * limit
    resumed = _run(spec, out, second, limit)
    ours, theirs = _outcomes(out), _outcomes(tmp_path / "reference")
    assert ours.keys() == theirs.keys()  # nothing lost, nothing duplicated
    assert all(c["n"] == limit and c["status"] == "done" for c in resumed["cells"])
    assert sum(ours[k] == theirs[k] for k in ours) >= 0.99 * len(ours)
    _assert_same_metrics(_metrics(resumed), _metrics(reference), limit)


DYING_SPEC = '''
import os
from mmeval import PGD, get_host, hookimpl

class DyingPGD(PGD):
    """PGD whose process dies after its first batch on rank 1."""

    def run(self, model, batch, objective, rng):
        out = super().run(model, batch, objective, rng)
        if os.environ.get("RANK") == "1" and getattr(DyingPGD, "ran", False):
            os._exit(17)
        DyingPGD.ran = True
        return out

class Die:
    @hookimpl
    def mmeval_register_attacks(self, registry):
        registry.add("test/dying-pgd", DyingPGD)

get_host().register(Die(), "die")
SPEC = {"name": "dying", "models": ["zoo/tiny-clip-shapes"],
        "tasks": [{"dataset": {"name": "shapes", "params": {"n": 64, "classes": "shape"}}}],
        "attacks": [{"name": "test/dying-pgd", "params": {"eps": 0.004, "steps": 5}}],
        "run": {"batch_size": 8, "progress": False}}
'''


def test_a_dead_rank_fails_the_run_without_hanging(tmp_path):
    spec = tmp_path / "dying.py"
    spec.write_text(DYING_SPEC)
    # the survivor waits at most MMEVAL_DIST_TIMEOUT in a collective, then fails the run; a
    # hang shows as no progress for five times that
    proc = run_watched([sys.executable, "-m", "mmeval", "run", str(spec), "--out",
                        str(tmp_path / "run"), "--nproc=2"], cwd=ROOT, idle=300,
                       env={**os.environ, "MMEVAL_DIST_TIMEOUT": "60"})
    assert proc.returncode != 0
    assert not (tmp_path / "run" / "results.json").exists()
