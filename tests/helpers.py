"""Helpers shared by tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def snapshot(root: Path) -> dict[str, object]:
    """Everything a store holds: every file's bytes, and the catalog as its SQL dump
    (its bytes change when SQLite folds the WAL in, which is not a change of content).
    Compare two snapshots to prove a failed command changed nothing."""
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith("catalog.sqlite"):
            continue
        out[str(path.relative_to(root))] = path.read_bytes()
    catalog = root / "catalog.sqlite"
    if catalog.exists():
        db = sqlite3.connect(catalog)
        out["catalog.sqlite"] = "\n".join(db.iterdump())
        db.close()
    return out


def train_and_analyse(root: Path, **params) -> str:
    """Train a tiny Modulo Addition variant in-process and analyse it fully; its id."""
    from tdw.analysis.run import AnalysisRun
    from tdw.training.run import TrainingRun

    values = {"p": 11, "n_epochs": 60, "train_fraction": 0.5, **params}
    result = TrainingRun.prepare(family="modulo_addition_1l", params=values,
                                 schedule="0-60/10", store=root, device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant, workers=1, store=root).execute()
    return result.variant


TDW = [sys.executable, "-m", "tdw.cli"]


def tdw(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*TDW, *args], env=env, capture_output=True, text=True, timeout=600,
                          cwd=env["TDW_HOME"] + "-cwd")
    if check and proc.returncode != 0:
        raise AssertionError(f"tdw {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def wait_for(predicate, timeout: float = 180, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def neuron_variant(store, maps) -> str:
    """A Modulo Addition variant (p = 7, 10 epochs) built directly in ``store``, no
    training: a probe, checkpoints at epochs 0 and 10, and at each a hand-made
    ``neuron_activations`` artifact whose ``(neuron, a, b)`` float16 maps are
    ``maps(epoch)`` (its stored neurons are numbered 0, 1, ...); the variant's id."""
    import numpy as np
    import torch

    from tdw.family.artifacts import Artifact
    from tdw.family.registry import get_family

    fam = get_family("modulo_addition_1l")
    vid = store.ensure_variant(fam, fam.resolve({"p": 7, "n_epochs": 10}), "0-10/10", 10).id
    store.ensure_probe(vid, {"tokens": torch.zeros(3, 3, dtype=torch.long)})
    analyzer = next(a for a in fam.analyzers if a.name == "neuron_activations")
    for epoch in (0, 10):
        store.write_checkpoint(vid, epoch, {"embed.W_E": torch.full((2, 2), epoch)})
        grids = maps(epoch)
        store.write_artifact(vid, Artifact(
            analyzer.schema, epoch,
            {"maps": grids, "neurons": np.arange(len(grids), dtype=np.int32)},
            {"n_neurons_total": 512}))
    return vid
