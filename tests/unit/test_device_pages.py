"""The workbench's Train and Analyze pages offer a device and pass the chosen one to the
job; the offer counts GPUs without loading torch."""

from __future__ import annotations

import pytest

from tdw.analysis.device import visible_gpus
from tdw.jobs import launch
from tdw.store.store import Store
from tdw.training.run import TrainingRun
from tdw.ui.jobs import JobList
from tdw.ui.pages import AnalyzePage, TrainPage


class _Submitted:
    id, variant = 77, "v"


@pytest.fixture
def submitted(monkeypatch):
    calls: list[tuple[str, str, dict]] = []

    def submit(store, kind, variant, params):
        calls.append((kind, variant, params))
        return _Submitted()

    monkeypatch.setattr(launch.jobs, "submit", submit)
    return calls


def test_the_train_page_passes_the_chosen_device(store: Store, submitted, monkeypatch):
    page = TrainPage(store, JobList(store))
    monkeypatch.setattr(page.live, "follow", lambda job_id: None)
    assert list(page.device.options)[:2] == ["auto", "cpu"] and page.device.value == "auto"
    page.device.value = "cpu"
    page._start(None)
    assert [(kind, params["device"]) for kind, _, params in submitted] == [("train", "cpu")]
    page.device.options = [*page.device.options, "cuda:3"]  # a GPU this machine lacks
    page.device.value = "cuda:3"
    assert page.start.disabled  # refused as the form changes, before any job
    page._start(None)
    assert len(submitted) == 1 and page.feedback.alert_type == "danger"


def test_the_analyze_page_passes_the_chosen_device(store: Store, submitted):
    vid = TrainingRun.prepare(family="modulo_addition_1l", params={"p": 7, "n_epochs": 5},
                              schedule="0-5/5", store=store, device="cpu").execute().variant
    page = AnalyzePage(store, JobList(store))
    assert page.variant == vid and not page.start.disabled
    page.device.value = "cpu"
    page._start(None)
    assert [(kind, params["device"]) for kind, _, params in submitted] == [("analyze", "cpu")]


def test_gpus_are_counted_from_the_driver_within_cuda_visible_devices(tmp_path, monkeypatch):
    import sys
    monkeypatch.delitem(sys.modules, "torch")  # as in a dashboard kernel
    driver = tmp_path / "gpus"
    assert visible_gpus(driver, {}) == 0
    for bus in ("0000:01:00.0", "0000:02:00.0", "0000:03:00.0"):
        (driver / bus).mkdir(parents=True)
    assert visible_gpus(driver, {}) == 3
    assert visible_gpus(driver, {"CUDA_VISIBLE_DEVICES": "1"}) == 1
    assert visible_gpus(driver, {"CUDA_VISIBLE_DEVICES": ""}) == 0
    assert visible_gpus(driver, {"CUDA_VISIBLE_DEVICES": "-1"}) == 0
