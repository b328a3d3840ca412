"""Sweeps on GPUs, decided without one: at most one job per GPU, each pinned to its own
(local runners), Dask GPU resources, the device carried into every job, and the job
environment for bitwise resume on CUDA."""

from __future__ import annotations

import os

import pytest

from tdw.errors import TdwError
from tdw.jobs import executors
from tdw.jobs.executors import DaskExecutor, ExecutorError, ExecutorSpec, LocalExecutor
from tdw.jobs.gpus import GpuSlots, gpu_slots, pins_gpu, wants_gpu
from tdw.jobs.process import CUBLAS_WORKSPACE, job_environment
from tdw.store.store import Store
from tdw.sweeps import coordinator
from tdw.sweeps import sweep as sweep_mod
from tdw.sweeps.sweep import SweepSpec


def test_a_cuda_sweep_runs_at_most_one_job_per_gpu():
    assert [wants_gpu(d, 2) for d in ("auto", "cpu", "cuda", "cuda:1")] == [1, 0, 1, 1]
    assert not wants_gpu("auto", 0)
    assert pins_gpu("auto", 2) and pins_gpu("cuda", 2)
    assert not pins_gpu("cuda:1", 2) and not pins_gpu("cpu", 2) and not pins_gpu("auto", 0)
    assert gpu_slots("auto", 2, 8) == 2 and gpu_slots("cuda", 3, 2) == 2
    assert gpu_slots("cuda:1", 2, 8) == 1  # every job needs that one GPU
    assert gpu_slots("cpu", 2, 8) == gpu_slots("auto", 0, 8) == 8


def test_gpus_are_handed_out_once_and_returned():
    slots = GpuSlots(2)
    assert slots.take(10) == 0 and slots.take(11) == 1 and slots.take(10) == 0
    with pytest.raises(RuntimeError, match="all 2 GPUs are held"):
        slots.take(12)
    slots.release(10)
    assert slots.take(12) == 0


class _Record:
    def __init__(self, id, variant="v"):
        self.id, self.variant = id, variant


class _Job:
    def __init__(self, state):
        self.state = state


def test_local_runners_are_pinned_to_free_gpus(store: Store, monkeypatch):
    started: list[tuple[int, int | None, int]] = []
    states: dict[int, str] = {}
    monkeypatch.setattr(executors, "spawn", lambda s, job_id, threads, gpu: started.append(
        (job_id, gpu, threads)))
    monkeypatch.setattr(executors.jobs, "reconcile", lambda s: None)
    monkeypatch.setattr(executors.jobs, "job", lambda s, job_id: _Job(states[job_id]))
    local = LocalExecutor(ExecutorSpec("local", workers=4), "auto", gpus=2)
    assert local.slots == 2 and local.gpu

    for job_id in (1, 2):
        states[job_id] = "running"
        local.start(store, _Record(job_id))
    assert [(j, g) for j, g, _ in started] == [(1, 0), (2, 1)]
    states[1] = "succeeded"
    local.poll(store)  # job 1 ended: its GPU is free again
    states[3] = "running"
    local.start(store, _Record(3))
    assert started[-1][:2] == (3, 0)
    cpu = LocalExecutor(ExecutorSpec("local", workers=3), "cpu", gpus=2)
    assert cpu.slots == 3 and not cpu.gpu
    cpu.start(store, _Record(4))
    assert started[-1][:2] == (4, None)
    one = LocalExecutor(ExecutorSpec("local", workers=3), "cuda:1", gpus=2)
    assert one.slots == 1 and one.gpu
    one.start(store, _Record(5))
    assert started[-1][:2] == (5, None)  # the job names cuda:1 itself


def test_a_local_dask_cluster_has_one_gpu_worker_per_gpu(monkeypatch):
    import distributed

    made = {}
    monkeypatch.setattr(distributed, "LocalCluster", lambda **kw: made.update(kw) or "cluster")
    assert executors.local_cluster(4, gpus=2) == "cluster"
    assert made["n_workers"] == 2 and made["resources"] == {"GPU": 1}
    made.clear()
    executors.local_cluster(3)
    assert made["n_workers"] == 3 and "resources" not in made


class _Client:
    def __init__(self, workers):
        self.workers, self.submitted = workers, []

    def subscribe_topic(self, topic, handler):
        pass

    def scheduler_info(self):
        return {"workers": self.workers}

    def submit(self, fn, *args, **kwargs):
        self.submitted.append(kwargs)
        return object()


def _dask(device, workers, cluster=None):
    return DaskExecutor(ExecutorSpec("dask", "tcp://h:1"), _Client(workers), cluster, device)


def test_dask_cuda_jobs_ask_for_a_gpu_resource(store: Store, monkeypatch):
    gpu_workers = {"a": {"nthreads": 4, "resources": {"GPU": 1}},
                   "b": {"nthreads": 4, "resources": {"GPU": 1}}}
    monkeypatch.setattr(executors, "holding", lambda fd: None)
    monkeypatch.setattr(executors, "job_for_worker", lambda catalog, job_id: {"id": job_id})
    monkeypatch.setattr(executors, "variant_rows", lambda catalog, variant: ())
    opened = []

    def start(executor, job_id):
        executor.start(store, _Record(job_id))
        opened.extend(executor._locks.values())
        return executor.client.submitted[-1]

    auto = _dask("auto", gpu_workers)
    assert auto.gpu and auto.slots == 2
    submitted = start(auto, 1)
    assert submitted["resources"] == {"GPU": 1}
    assert submitted["pin_gpu"] is False  # a remote worker is given its GPU by its owner
    assert start(_dask("auto", gpu_workers, cluster="here"), 2)["pin_gpu"] is True
    # cuda:N names its GPU itself: pinned to worker N's GPU, only GPU 0 would be visible
    assert start(_dask("cuda:1", gpu_workers, cluster="here"), 4)["pin_gpu"] is False
    cpu = _dask("cpu", gpu_workers)
    assert not cpu.gpu and cpu.slots == 8
    assert "resources" not in start(cpu, 3)
    for fd in opened:
        os.close(fd)
    assert not _dask("auto", {"a": {"nthreads": 2}}).gpu  # no GPU anywhere: the CPU
    with pytest.raises(ExecutorError, match="--resources GPU=1"):
        _dask("cuda", {"a": {"nthreads": 2}})


def test_the_job_environment_fixes_the_cublas_workspace_and_pins_a_gpu():
    env = job_environment({"PATH": "/usr/bin"})
    assert env["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE == ":4096:8"
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert job_environment({"CUBLAS_WORKSPACE_CONFIG": ":16:8"})[
        "CUBLAS_WORKSPACE_CONFIG"] == ":16:8"  # the user's own setting wins
    assert job_environment({}, gpu=1)["CUDA_VISIBLE_DEVICES"] == "1"
    # a scheduler that gave this process GPUs 2 and 3: index 1 is physical GPU 3
    given = {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert job_environment(given, gpu=1)["CUDA_VISIBLE_DEVICES"] == "3"
    uuids = {"CUDA_VISIBLE_DEVICES": "GPU-aa, GPU-bb"}
    assert job_environment(uuids, gpu=0)["CUDA_VISIBLE_DEVICES"] == "GPU-aa"
    with pytest.raises(TdwError, match="not among CUDA_VISIBLE_DEVICES=2,3"):
        job_environment(given, gpu=2)


def test_a_job_that_fails_to_start_gives_its_gpu_back(store: Store, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no such file")

    monkeypatch.setattr(executors, "spawn", refuse)
    local = LocalExecutor(ExecutorSpec("local", workers=2), "auto", gpus=1)
    for job_id in (1, 2):  # without the release, job 2 would find the only GPU held
        with pytest.raises(OSError):
            local.start(store, _Record(job_id))
    assert local.idle()


def test_the_sweep_device_is_kept_in_its_key_and_reaches_every_job(store: Store):
    spec = SweepSpec.from_cli("modulo_addition_1l", ["model_seed=1,2"], ["p=7", "n_epochs=5"],
                              schedule="0-5/5", analyze=True, device="cpu")
    assert SweepSpec.from_key(spec.key()).device == "cpu"
    plain = SweepSpec.from_cli("modulo_addition_1l", ["model_seed=1,2"], ["p=7"])
    assert "device" not in plain.key()  # earlier sweeps keep their keys
    assert SweepSpec.from_key(plain.key()).device == "auto"
    with pytest.raises(TdwError, match="not a torch device"):
        SweepSpec.from_cli("modulo_addition_1l", ["model_seed=1,2"], device="gpu")
    record = sweep_mod.create(store, spec, sweep_mod.plan(spec), "local:1")
    member = sweep_mod.members(store, record.id)[0]
    job = coordinator._next_job(store, spec, member, 1)
    assert job is not None and job.kind == "train" and job.params["device"] == "cpu"
