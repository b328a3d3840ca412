"""Where an analysis runs (tdw.analysis.device, the engine's workers, tdw analyze --device),
tested without a GPU by injecting the CUDA device count."""

from __future__ import annotations

import multiprocessing
import queue
import shutil

import pytest
import torch

from tdw.analysis import device as device_mod
from tdw.analysis import engine, worker
from tdw.analysis.device import DevicePlan, device_choices, device_queue, plan_devices
from tdw.analysis.engine import AnalysisRunConfig, make_plan
from tdw.analysis.run import AnalysisRun
from tdw.errors import ParameterError, TdwError
from tdw.jobs import launch
from tdw.jobs.parameters import check_parameters
from tdw.store.store import Store
from tdw.training.run import TrainingRun


def test_the_cpu_gets_one_single_threaded_worker_per_core_and_a_lone_worker_every_thread():
    assert plan_devices("cpu", tasks=10, cpu_count=4, cuda_count=2) == DevicePlan(("cpu",) * 4, 1)
    assert plan_devices("auto", tasks=10, cpu_count=4) == DevicePlan(("cpu",) * 4, 1)
    assert plan_devices("auto", tasks=3, cpu_count=4).workers == 3  # never more than tasks
    assert plan_devices("cpu", workers=1, tasks=9, cpu_count=4, lone_threads=3).threads == 3
    assert plan_devices("cpu", workers=1, tasks=9, cpu_count=4).threads == 4
    assert plan_devices("cpu", tasks=0, cpu_count=4).workers == 1


def test_cuda_gets_one_worker_per_gpu_with_a_share_of_the_cores():
    auto = plan_devices("auto", tasks=10, cpu_count=8, cuda_count=2)
    assert auto == DevicePlan(("cuda:0", "cuda:1"), 4) and auto.accelerated
    assert plan_devices("cuda", tasks=10, cpu_count=8, cuda_count=3).devices == (
        "cuda:0", "cuda:1", "cuda:2")
    assert plan_devices("cuda:1", tasks=10, cpu_count=8, cuda_count=2).devices == ("cuda:1",)
    assert plan_devices("auto", tasks=1, cpu_count=8, cuda_count=2).devices == ("cuda:0",)
    # --workers overrides the count; extra workers take the GPUs in turn
    assert plan_devices("auto", workers=3, tasks=10, cpu_count=6, cuda_count=2) == DevicePlan(
        ("cuda:0", "cuda:1", "cuda:0"), 2)


@pytest.mark.parametrize(("choice", "gpus", "words"), [
    ("cuda", 0, "no CUDA device"), ("cuda:2", 2, "has 2 CUDA devices"),
    ("gpu", 1, "is not a device"), ("cuda:x", 1, "is not a device")])
def test_a_device_the_machine_lacks_is_refused_with_the_fix(choice, gpus, words):
    with pytest.raises(ParameterError, match=words) as caught:
        plan_devices(choice, tasks=4, cpu_count=2, cuda_count=gpus)
    assert "--device auto" in str(caught.value)


def test_each_pool_worker_takes_its_own_gpu_from_a_queue():
    assert device_queue(multiprocessing.get_context("spawn"), DevicePlan(("cpu",) * 2, 1)) is None
    shared = device_queue(multiprocessing.get_context("spawn"),
                          DevicePlan(("cuda:0", "cuda:1"), 1))
    assert [shared.get(timeout=5), shared.get(timeout=5)] == ["cuda:0", "cuda:1"]


def test_forms_offer_auto_cpu_and_each_gpu():
    assert device_choices(0) == ["auto", "cpu"]
    assert device_choices(2) == ["auto", "cpu", "cuda:0", "cuda:1"]


def test_the_config_refuses_a_bad_or_absent_device_before_any_work():
    with pytest.raises(ParameterError, match="device must be"):
        AnalysisRunConfig("v", device="")
    with pytest.raises(TdwError, match="not a torch device"):
        AnalysisRunConfig("v", device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(TdwError, match="not available on this machine"):
            AnalysisRunConfig("v", device="cuda:0")
    assert AnalysisRunConfig("v").device == "auto"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("device") / "store"
    result = TrainingRun.prepare(family="modulo_addition_1l", params={"p": 7, "n_epochs": 10},
                                 schedule="0-10/5", store=root, device="cpu").execute()
    return root, result.variant


@pytest.fixture
def copied(trained, tmp_path):
    root, vid = trained
    shutil.copytree(root, tmp_path / "copy")
    return Store(tmp_path / "copy"), vid


class _Booted(Exception):
    pass


def test_a_lone_worker_boots_the_model_on_the_planned_gpu(copied, monkeypatch):
    store, vid = copied
    seen = []

    def machine(choice, **kwargs):
        seen.append(choice)
        return plan_devices(choice, cpu_count=2, cuda_count=2, **kwargs)

    def boot(family, values, folder, device):
        seen.append(device)
        raise _Booted

    monkeypatch.setattr(engine, "device_plan", machine)
    monkeypatch.setattr(worker, "boot_variant", boot)
    plan = make_plan(store, AnalysisRunConfig(vid, analyzers=("dominant_frequencies",)))
    with pytest.raises(_Booted):
        engine.execute(store, plan, workers=1, device="auto")
    assert seen == ["auto", "cuda:0"]


def test_a_pool_worker_takes_its_device_from_the_queue(copied):
    store, vid = copied
    sha = store.stored_probe_sha256(vid)
    devices: queue.Queue[str] = queue.Queue()
    devices.put("cpu")
    worker.init_worker(str(store.root), vid, sha, torch.get_num_threads(), "cuda:5", devices)
    state = worker.STATE.pop("worker")
    assert devices.empty() and next(state.model.parameters()).device == torch.device("cpu")
    assert {p.device.type for p in state.model.parameters()} == {"cpu"}


def test_the_device_reaches_the_job_parameters_and_a_bad_one_no_job(copied):
    store, vid = copied
    run, record = launch.start_analysis(store, vid, workers=1, device="cpu")
    assert record is not None and record.params["device"] == "cpu"
    assert run.config.device == "cpu"
    check_parameters(store, "analyze", vid, record.params)  # the template declares it
    with pytest.raises(TdwError, match="not a torch device"):
        check_parameters(store, "analyze", vid, {**record.params, "device": "gpu"})
    with pytest.raises(TdwError, match="not a torch device"):
        AnalysisRun.prepare(variant=vid, device="gpu", store=store)


def test_device_plan_asks_torch_for_this_machines_gpus(monkeypatch):
    monkeypatch.setattr(device_mod, "cuda_count", lambda: 2)
    assert device_mod.device_plan("auto", tasks=5).devices == ("cuda:0", "cuda:1")
    assert device_mod.device_plan("cpu", tasks=1).devices == ("cpu",)
