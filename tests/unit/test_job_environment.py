"""The environment a job runs in: torch's idle threads spin briefly, unless the user says
otherwise, and a sweep's thread cap reaches every library."""

from __future__ import annotations

import sys
from pathlib import Path

from tdw.jobs import process
from tdw.jobs.process import SPIN_COUNT, THREAD_VARIABLES, job_environment
from tdw.store import jobs as job_table
from tdw.store.store import Store


def test_a_job_spins_briefly_unless_the_user_chose_a_wait():
    env = job_environment({"PATH": "/usr/bin", "HOME": "/root"})
    assert env["GOMP_SPINCOUNT"] == SPIN_COUNT == "1000"
    assert env["HOME"] == "/root"
    assert env["PATH"].split(":")[:2] == [str(Path(sys.executable).parent), "/usr/bin"]
    assert not any(name in env for name in THREAD_VARIABLES)  # threads left be
    assert job_environment({"GOMP_SPINCOUNT": "50"})["GOMP_SPINCOUNT"] == "50"
    passive = job_environment({"OMP_WAIT_POLICY": "PASSIVE"})
    assert passive["OMP_WAIT_POLICY"] == "PASSIVE" and "GOMP_SPINCOUNT" not in passive


def test_a_thread_cap_reaches_torch_and_every_blas():
    env = job_environment({}, threads=3)
    assert {name: env[name] for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "3")


def test_the_runner_is_started_in_that_environment(store: Store, monkeypatch):
    seen = {}

    class Recorded:
        pid = 4242

        def __init__(self, args, **kwargs):
            seen.update(kwargs["env"])

        def poll(self):
            return None

    monkeypatch.setattr(process.subprocess, "Popen", Recorded)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    job_id = job_table.queue(store.catalog, "analyze", "v", {})
    try:
        assert process.spawn(store, job_id, threads=1) == 4242
    finally:
        process._CHILDREN.pop(4242, None)
    assert seen["GOMP_SPINCOUNT"] == SPIN_COUNT and seen["OMP_NUM_THREADS"] == "1"
