"""Adaptive against fixed checkpoint density on the quick preset (issue 7, part 3).

``python -m benchmarks.adaptive_checkpoints [--store DIR] [--adaptive SPEC ...]``

Trains ``modulo_addition_1l --preset quick`` into scratch stores once per adaptive
schedule (by default a coarse grid plus an adaptive segment whose budget makes the same
maximum number of checkpoints as the family's default, fixed, schedule). A fixed schedule
writes exactly its epochs, and training is deterministic, so the fixed run's checkpoints
are known without training it; ``--train-fixed`` trains it too and checks that its
checkpoints are the schedule's epochs and its per-epoch metrics bitwise those of the
adaptive runs. The grokking window is
computed once from them with :func:`tdw.library.transition.fall_window` (the 10%-90% fall of the
smoothed log10 test loss after the detected transition), and each run's stored checkpoints
inside it are counted. The 25%-75% window and the window of the fall on a linear scale
are reported too, so the result does not rest on one definition. docs/adaptive_checkpoints.md
records a run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tdw.family.registry import get_family
from tdw.family.schedule import parse_schedule
from tdw.library.transition import detect_transition, fall_window
from tdw.store.store import Store
from tdw.training.run import TrainingRun

FAMILY, PRESET = "modulo_addition_1l", "quick"
GRID = "0-2500/250"


def linear_window(test_loss: np.ndarray, start: int, fraction: float = 0.1) -> tuple[int, int]:
    """The 10%-90% fall of the raw test loss from its peak after ``start`` to its end."""
    peak = start + int(np.nanargmax(test_loss[start:]))
    top, low = test_loss[peak], np.nanmin(test_loss[peak:])
    drop = top - low
    first = peak + int(np.argmax(test_loss[peak:] <= top - fraction * drop))
    last = peak + int(np.argmax(test_loss[peak:] <= top - (1 - fraction) * drop))
    return first, last


def _train(root: Path, schedule: str) -> tuple[list[int], list[str], dict, float]:
    store = Store(root)
    began = time.perf_counter()
    vid = TrainingRun.prepare(family=FAMILY, preset=PRESET, schedule=schedule, store=store,
                              device="cpu").execute().variant
    seconds = time.perf_counter() - began
    record = store.load_schedule_record(vid)
    epochs = [c.epoch for c in store.checkpoints(vid)]
    assert epochs == list(record.epochs), "the catalog and the schedule record disagree"
    return epochs, list(record.reasons), store.load_metrics(vid), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="scratch folder (default: a temporary one)")
    parser.add_argument("--train-fixed", action="store_true",
                        help="train the fixed schedule too (its checkpoints are its epochs)")
    parser.add_argument("--adaptive", action="append",
                        help=f"an adaptive schedule to compare (repeatable; default: '{GRID},"
                        "adaptive:0-2500/K' with K filling the fixed schedule's count)")
    args = parser.parse_args(argv)
    fam = get_family(FAMILY)
    values = fam.resolve({}, preset=PRESET)
    n = values["n_epochs"]
    fixed = parse_schedule(fam.default_schedule(values), n)
    budget = fixed.max_checkpoints - parse_schedule(GRID, n).max_checkpoints
    schedules = {"fixed": fixed}
    for i, spec in enumerate(args.adaptive or [f"{GRID},adaptive:0-{n}/{budget}"]):
        schedules[f"adaptive{i + 1}"] = parse_schedule(spec, n)
    for name, sched in schedules.items():
        print(f"{name:10} {sched.spec!r}: {sched.describe()}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.store or scratch)
        runs = {name: _train(root / name, sched.spec) for name, sched in schedules.items()
                if name != "fixed" or args.train_fixed}
    planned = sorted(set(fixed.epochs) | {n})
    if args.train_fixed:
        assert runs["fixed"][0] == planned, "the fixed run wrote other epochs than scheduled"
    else:
        runs = {"fixed": (planned, ["scheduled"] * len(planned), None, 0.0), **runs}
    metrics = next(run[2] for run in runs.values() if run[2] is not None)
    for name, run in runs.items():
        for column, values_ in (run[2] or {}).items():
            assert np.array_equal(values_, metrics[column], equal_nan=True), (name, column)
    loss = metrics["test_loss"].astype(np.float64)
    found = detect_transition(loss)
    windows = {"10%-90% of the fall in decades (fall_window)":
               fall_window(loss, transition=found),
               "25%-75% of the fall in decades":
               fall_window(loss, fraction=0.25, transition=found),
               "10%-90% of the fall on a linear scale":
               linear_window(loss, found.transition_epoch)}
    seconds = ", ".join(f"{name} {run[3]:.0f} s" for name, run in runs.items() if run[3])
    print(f"\ntransition at epoch {found.transition_epoch} (steepest {found.steepest_epoch}, "
          f"confidence {found.confidence:.2f}); training {seconds}; the metrics of all "
          "trained runs are bitwise equal\n")
    names = list(runs)
    print("| window | epochs | " + " | ".join(names) + " |\n|" + " --- |" * (len(names) + 2))
    rows = [(label, first, last) for label, (first, last) in windows.items()]
    for label, first, last in [*rows, ("whole run", 0, n)]:
        cells = []
        for epochs, reasons, _, _ in runs.values():
            inside = [r for e, r in zip(epochs, reasons, strict=True) if first <= e <= last]
            added = inside.count("adaptive")
            cells.append(f"{len(inside)}" + (f" ({added} added)" if added else ""))
        print(f"| {label} | {first}-{last} | " + " | ".join(cells) + " |")
    for name, (epochs, reasons, _, _) in runs.items():
        if "adaptive" in reasons:
            print(f"\n{name} adaptive checkpoints at epochs: "
                  f"{[e for e, r in zip(epochs, reasons, strict=True) if r == 'adaptive']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
