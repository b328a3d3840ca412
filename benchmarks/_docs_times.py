"""The measured figures of a timed run: its training and analysis times, the load average
while each ran, the number of cores, and the worker time of its slowest analyzers.

They are never checked (they change from run to run), and a rewrite changes one only when
this process measured it (:mod:`benchmarks._docs_runs`).
"""

from __future__ import annotations

import os

from benchmarks._docs_figures import FigureError, figure, minutes, num, pct, timing
from benchmarks._docs_runs import RunData
from tdw.cli.format import duration


def timing_figures(run: str = "quick", prefix: str = "") -> None:
    """Register the training and analysis times of timed run ``run`` (a name in
    :data:`benchmarks._docs_runs.RUNS`) as figures ``{prefix}train_job``,
    ``{prefix}analysis_job``, ... (``prefix`` "" for the quickstart's run)."""
    for name, key, render in (
            ("train_job", "train", lambda t: minutes(t.seconds)),
            ("train_job_short", "train", lambda t: duration(t.seconds)),
            ("train_load", "train", lambda t: t.load_text()),
            ("train_seconds", "train_epochs", lambda s: f"{s:.1f}"),
            ("ms_per_epoch", "ms_per_epoch", lambda s: f"{s:.1f}"),
            ("analysis_job", "analysis", lambda t: minutes(t.seconds)),
            ("analysis_job_short", "analysis", lambda t: duration(t.seconds)),
            ("analysis_load", "analysis", lambda t: t.load_text()),
            ("analysis_seconds", "analysis_seconds", lambda s: f"{s:.0f}"),
            ("worker_per_checkpoint", "worker_per_checkpoint", lambda s: f"{s:.2f}"),
            ("workers", "workers", str)):
        figure(prefix + name, run=run, measured=True)(
            lambda data, arg, key=key, render=render: render(timing(data, key)))


timing_figures()


@figure("cores", measured=True)
def _cores(run: RunData, arg: str | None) -> str:
    return str(os.cpu_count())


def _worker_seconds(run: RunData, arg: str | None) -> tuple[float, float]:
    """(worker seconds of analyzer ``arg``, worker seconds of the whole analysis)."""
    slowest = timing(run, "analyzer_seconds")
    if arg not in slowest:
        raise FigureError(f"the analysis summary names only its slowest analyzers "
                          f"({', '.join(slowest)}), not {arg}")
    return slowest[arg], timing(run, "worker_per_checkpoint") * len(run.variant.epochs)


@figure("analyzer_seconds", measured=True)
def _analyzer_seconds(run: RunData, arg: str | None) -> str:
    return f"{_worker_seconds(run, arg)[0]:.0f}"


@figure("analyzer_per_checkpoint", measured=True)
def _analyzer_per_checkpoint(run: RunData, arg: str | None) -> str:
    return num(_worker_seconds(run, arg)[0] / len(run.variant.epochs))


@figure("analyzer_share", measured=True)
def _analyzer_share(run: RunData, arg: str | None) -> str:
    mine, total = _worker_seconds(run, arg)
    return pct(mine / total)


@figure("others_seconds", measured=True)
def _others_seconds(run: RunData, arg: str | None) -> str:
    """Worker seconds of every analyzer but ``arg``."""
    mine, total = _worker_seconds(run, arg)
    return f"{total - mine:.0f}"

