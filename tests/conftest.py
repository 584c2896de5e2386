from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import mmeval.plugins
from mmeval import Batch, PluginHost
from mmeval.objectives.zero_shot import ZeroShotClassification
from mmeval.testing.toy import ToyDataset, ToyDatasetParams, ToyVLM


@pytest.fixture()
def toy_model() -> ToyVLM:
    return ToyVLM().eval()


@pytest.fixture()
def toy_data() -> ToyDataset:
    return ToyDataset(ToyDatasetParams(n=100))


@pytest.fixture()
def toy_batch(toy_data: ToyDataset) -> Batch:
    return Batch.collate([toy_data[i] for i in range(len(toy_data))])


@pytest.fixture()
def objective(toy_model: ToyVLM, toy_data: ToyDataset) -> ZeroShotClassification:
    obj = ZeroShotClassification()
    obj.prepare(toy_model, toy_data)
    return obj


@pytest.fixture()
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test runs in its own directory with a fresh default plugin host."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mmeval.plugins, "_default", None)
    torch.manual_seed(0)
    yield
