"""``limit`` draws a seeded stratified sample by default: every class is represented as evenly as
the counts allow, a larger limit selects a superset, and ``sampling="first"`` keeps the first N."""

from collections import Counter

from PIL import Image

from mmeval import Store, evaluate
from mmeval.data import select
from mmeval.data.shapes import ShapesDataset, ShapesParams
from mmeval.testing import toy_spec


def test_stratified_covers_every_class_and_grows_as_a_superset():
    data = ShapesDataset(ShapesParams(n=500))
    small, large = select(data, 20, "stratified", 7), select(data, 60, "stratified", 7)
    assert Counter(data.label(i) for i in small) == dict.fromkeys(range(10), 2)
    assert set(small) < set(large) and len(large) == 60
    assert small == select(data, 20, "stratified", 7) != select(data, 20, "stratified", 8)
    assert select(data, 5, "first", 7) == [0, 1, 2, 3, 4]
    assert select(data, None, "stratified", 7) == list(range(500))


def test_without_cheap_labels_a_seeded_uniform_sample():
    class NoLabels:
        class_names = ("a", "b")

        def __len__(self):
            return 100

    picked = select(NoLabels(), 10, "stratified", 0)
    assert len(set(picked)) == 10 and picked != list(range(10)) and picked == sorted(picked)


def test_a_class_sorted_folder_is_sampled_across_its_classes(tmp_path):
    for c in range(10):
        for i in range(5):
            (tmp_path / f"class{c}").mkdir(exist_ok=True)
            Image.new("RGB", (8, 8), (25 * c, 0, 0)).save(tmp_path / f"class{c}" / f"{i}.png")
    task = {"dataset": {"name": "image-folder", "params": {"root": str(tmp_path), "image_size": 16}}}
    result = evaluate(toy_spec(tasks=[task], attacks=["clean"], output_dir=str(tmp_path / "run")),
                      limit=10)
    first = evaluate(toy_spec(tasks=[{**task, "sampling": "first"}], attacks=["clean"],
                              output_dir=str(tmp_path / "run")), limit=10)
    (cell,), (cell_first,) = result.cells, first.cells
    assert cell["id"] != cell_first["id"] and cell["n"] == cell_first["n"] == 10
    with Store(tmp_path / "run", create=False) as store:
        spread = {r.sample_id.split("/")[0] for r in store.records(cell["id"])}
        sorted_ = {r.sample_id.split("/")[0] for r in store.records(cell_first["id"])}
    assert len(spread) == 10 and len(sorted_) == 2
