"""The runs of checkpoint_series's README figures: local series imported, not trained.

Two series are built offline with :func:`tdw.families.checkpoint_series.tiny.make_series`
(random-weight GPT-NeoX models saved with ``save_pretrained``, as the family's tests do):
``series_tiny``, the tests' 2-layer, 4-head series of three revisions, and ``series_160m``,
two revisions of a model of Pythia-160M's shape (about 650 MB each). Each is checked
(``tdw import ... --dry-run``), imported (``tdw import``) and analysed (``tdw analyze``,
a job) as a reader would, every step a ``tdw`` command of its own, timed with the load
average beside it and the resident memory of its processes watched; the tiny series is
also imported again into a store of its own with ``tdw import ... --analyze``.

A series already in the store is reused: its steps are not timed again (a rewrite keeps
the times its block states). ``--check`` imports without timing and analyses nothing: the
deterministic figures (parameters, megabytes, counts) need only the import.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._docs_runs import (
    RUNS,
    LoadWatch,
    RunData,
    RunFailed,
    RunSpec,
    analysis_timings,
)
from tdw.analysis.run import AnalysisRun
from tdw.errors import TdwError
from tdw.explore.variant import Variant
from tdw.jobs.jobs import jobs
from tdw.store.store import Store

__all__ = ["SERIES", "Series", "RssWatch", "RssPeak", "IMPORTED", "make_series_run"]

FAMILY = "checkpoint_series"


@dataclass(frozen=True)
class Series:
    """A local series to build: its revisions' steps and ``GPTNeoXConfig`` overrides
    (none: the family's tiny 2-layer model), and whether ``tdw import --analyze`` is timed
    too."""

    steps: tuple[int, ...]
    config: tuple[tuple[str, int], ...] = ()
    with_analyze: bool = False


PYTHIA_160M = (("vocab_size", 50304), ("hidden_size", 768), ("num_hidden_layers", 12),
               ("num_attention_heads", 12), ("intermediate_size", 3072),
               ("max_position_embeddings", 2048))
"""Pythia-160M's shape (its ``config.json``); the rest is the tiny series' GPT-NeoX
defaults, which are Pythia's (rotary on 25% of each head, parallel residual, untied
embeddings)."""

SERIES = {"series_tiny": Series((0, 1000, 2000), with_analyze=True),
          "series_160m": Series((0, 1000), PYTHIA_160M)}

IMPORTED = re.compile(r"imported \S+: \d+ checkpoints in ([\d.]+) s")
"""The part of ``tdw import``'s summary line (``ImportResult.summary``) its time comes from."""


@dataclass(frozen=True)
class RssPeak:
    """Peak resident memory of a step's processes, in bytes: of the largest one (its
    high-water mark) and of all of them at one moment."""

    largest: int
    together: int


class RssWatch:
    """Samples, every ``every`` seconds, the resident memory of this process's descendants
    (read from ``/proc``: Linux only; elsewhere :attr:`peak` stays None)."""

    def __init__(self, every: float = 0.5):
        self.every = every
        self.peak: RssPeak | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            found = _descendants_memory(os.getpid())
            if found:
                largest = max(hwm for hwm, _ in found)
                together = sum(rss for _, rss in found)
                old = self.peak or RssPeak(0, 0)
                self.peak = RssPeak(max(old.largest, largest), max(old.together, together))

    def __enter__(self) -> RssWatch:
        if Path("/proc/self/status").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _descendants_memory(root: int) -> list[tuple[int, int]]:
    """(VmHWM, VmRSS) in bytes of every live descendant of process ``root`` (psutil finds
    them; the high-water mark, which psutil does not give, is read from ``/proc``)."""
    import psutil
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
        except OSError:
            continue
        kb = dict(re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", status, re.M))
        if kb:
            found.append((int(kb.get("VmHWM", 0)) * 1024, int(kb.get("VmRSS", 0)) * 1024))
    return found


def _tdw(store: Path, *args: str, say: Callable[[str], None]) -> str:
    """Run ``tdw --store STORE ARGS`` (its progress on stderr shows); its stdout, echoed."""
    say("$ tdw " + " ".join(["--store", str(store), *args]))
    done = subprocess.run([sys.executable, "-m", "tdw.cli", "--store", str(store), *args],
                          check=False, stdout=subprocess.PIPE, text=True)
    for line in done.stdout.splitlines():
        say("  " + line)
    if done.returncode != 0:
        raise RunFailed(f"`tdw {' '.join(args)}` failed (store {store})")
    return done.stdout


def _timed(timings: dict[str, Any], key: str, store: Path, *args: str,
           say: Callable[[str], None]) -> str:
    """:func:`_tdw`, recording the command's :class:`Timed` as ``key`` and its memory
    peak as ``key + '_rss'``."""
    with LoadWatch() as load, RssWatch() as rss:
        out = _tdw(store, *args, say=say)
    timings[key] = load.timed()
    if rss.peak is not None:
        timings[f"{key}_rss"] = rss.peak
    say(f"  ({key}: {timings[key].seconds:.1f} s, load average {timings[key].load_text()})")
    return out


def _import_seconds(out: str) -> float:
    match = IMPORTED.search(out)
    if match is None:
        raise RunFailed(f"tdw import printed no summary line matching {IMPORTED.pattern!r}: "
                        "has its format changed?")
    return float(match.group(1))


def _build(folder: Path, series: Series, say: Callable[[str], None]) -> tuple[list[str], str]:
    """The series' revision directories and prompt file under ``folder``, built unless
    there (deterministic: each revision is seeded)."""
    from tdw.families.checkpoint_series.tiny import make_series, write_probe

    probe = folder / "prompts.json"
    dirs = [folder / "series" / f"step{s}" for s in series.steps]
    if not probe.exists() or not all((d / "config.json").exists() for d in dirs):
        say(f"building a local series of {len(dirs)} revisions in {folder}")
        dirs = make_series(folder / "series", series.steps, **dict(series.config))
        write_probe(probe)
    return [str(d) for d in dirs], str(probe)


def _variant(store: Store) -> str | None:
    found = store.variants(FAMILY)
    return found[0].id if found else None


def make_series_run(name: str, spec: RunSpec, root: Path, needs: Sequence[str], *,
                    full: bool, say: Callable[[str], None] = print) -> RunData:
    """Build, check, import and (when ``full``) analyse series ``name`` under
    ``root/name`` (see the module docstring); its :class:`RunData`."""
    series = SERIES[name]
    folder = root / name
    dirs, probe = _build(folder, series, say)
    store_dir = folder / "store"
    store = Store(store_dir)
    timings: dict[str, Any] = {}
    vid = _variant(store)
    fresh = vid is None
    if fresh and full:
        _timed(timings, "plan", store_dir, "import", *dirs, "--probe", probe, "--dry-run",
               say=say)
        out = _timed(timings, "import", store_dir, "import", *dirs, "--probe", probe, say=say)
        timings["import_inner"] = _import_seconds(out)
    elif fresh:
        _tdw(store_dir, "import", *dirs, "--probe", probe, say=say)
    vid = _variant(store)
    if vid is None:
        raise RunFailed(f"tdw import wrote no {FAMILY} variant into {store_dir}")
    names = [] if full else sorted(set(needs))
    if full or names:
        _analyse(store, vid, names, timings, timed=fresh, say=say)
    if full and series.with_analyze:
        _import_analyze(folder / "store_analyze", dirs, probe, timings, say=say)
    return RunData(name, spec, Variant(vid, store), timings)


def _analyse(store: Store, vid: str, names: list[str], timings: dict[str, Any], *,
             timed: bool, say: Callable[[str], None]) -> None:
    """``tdw analyze`` what ``names`` (every analyzer if empty) still lack; its times
    recorded when it analysed everything."""
    try:
        plan = AnalysisRun.prepare(variant=vid, analyzers=names, store=store).plan
    except TdwError as exc:
        raise RunFailed(f"cannot plan the analysis of {vid}: {exc}") from exc
    if plan.empty:
        return
    picked = ["--analyzers", ",".join(names)] if names else []
    with LoadWatch() as load, RssWatch() as rss:
        _tdw(store.root, "analyze", vid, *picked, say=say)
    if timed and not names and plan.up_to_date == 0:
        timings.update(analysis_timings(store, vid, load))
        if rss.peak is not None:
            timings["analysis_rss"] = rss.peak


def _import_analyze(store_dir: Path, dirs: list[str], probe: str, timings: dict[str, Any],
                    *, say: Callable[[str], None]) -> None:
    """``tdw import ... --analyze`` into a store of its own, timed when it is new."""
    store = Store(store_dir)
    if _variant(store) is not None:
        return
    _timed(timings, "import_analyze", store_dir, "import", *dirs, "--probe", probe,
           "--analyze", say=say)
    record = next((j for j in jobs(store, variant=_variant(store)) if j.kind == "analyze"),
                  None)
    if record is None:
        raise RunFailed(f"tdw import --analyze ran no analysis job in {store_dir}")
    timings["import_analyze_job"] = record.finished - record.started


for _name in SERIES:
    RUNS[_name] = RunSpec(FAMILY, "", make=make_series_run, timed=True)
