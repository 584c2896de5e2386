"""The journal: cells with their descriptions, records all-or-nothing, shards merged, and a journal
from before cells carried descriptions is migrated in place."""

import sqlite3

import pytest
import torch

from mmeval import SampleRecord, Store, StoreError
from mmeval.store import shard_name

INFO = {"label": "m | none | t | a", "model": "m", "defense": "none", "task": "t", "attack": "a"}


def _record(cid: str, sid: str, correct: bool = True) -> SampleRecord:
    return SampleRecord(cid, sid, 0, 0, 0, True, correct, 0.0, 0.0, {"k": sid},
                        {"emb": torch.ones(2)})


def test_cells_keep_their_description_and_a_new_one_replaces_it(tmp_path):
    with Store(tmp_path) as store:
        store.register_cell("c-1", group="g", info=INFO, definition={"x": 1}, total=3)
        store.register_cell("c-1", group="g", info={**INFO, "attack": "b"}, definition={"x": 1},
                            total=5)
        (row,) = store.cells()
    assert row["info"]["attack"] == "b" and row["attack"] == "b" and row["total"] == 5
    assert row["definition"] == {"x": 1} and row["status"] == "pending"


def test_records_round_trip_and_a_batch_is_all_or_nothing(tmp_path):
    with Store(tmp_path) as store:
        store.append([_record("c", "a"), _record("c", "b", False)])
        with pytest.raises(sqlite3.IntegrityError):
            store.append([_record("c", "z"), _record("c", "a")])  # "a" is journaled already
        got = store.records("c")
    assert [r.sample_id for r in got] == ["a", "b"]
    assert [r.adv_correct for r in got] == [True, False] and got[0].extra == {"k": "a"}
    assert torch.equal(got[1].arrays["emb"], torch.ones(2))


def test_rank_journals_are_merged_and_removed(tmp_path):
    with Store(tmp_path, name=shard_name(1)) as shard:
        shard.append([_record("c", "x")])
    with Store(tmp_path) as store:
        assert store.merge_shards() == 1
        assert store.completed("c") == {"x"}
    assert not (tmp_path / shard_name(1)).exists()


def test_an_old_journal_gains_the_description_column(tmp_path):
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("""CREATE TABLE cells (cell_id TEXT PRIMARY KEY, grp TEXT NOT NULL,
        label TEXT NOT NULL, model TEXT NOT NULL, defense TEXT NOT NULL, task TEXT NOT NULL,
        attack TEXT NOT NULL, definition TEXT NOT NULL, total INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', error TEXT, updated REAL NOT NULL)""")
    db.execute("INSERT INTO cells VALUES ('c', 'g', 'l', 'm', 'none', 't', 'a', '{}', 1, 'done',"
               " NULL, 0)")
    db.commit()
    db.close()
    with Store(tmp_path) as store:
        assert store.cells()[0]["info"] is None
        store.register_cell("c", group="g", info=INFO, definition={}, total=1)
        assert store.cells()[0]["info"] == INFO


def test_a_directory_without_a_journal_is_refused(tmp_path):
    with pytest.raises(StoreError, match="holds no journal.sqlite"):
        Store(tmp_path, create=False)
