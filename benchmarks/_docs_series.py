"""The figures of checkpoint_series's README (families/checkpoint_series/README.md),
with the templates of its blocks.

Its runs (:mod:`benchmarks._docs_series_runs`) are local series imported with ``tdw
import``: ``series_tiny`` (the tests' 2-layer GPT-NeoX, three revisions) and
``series_160m`` (two revisions of a random-weight model of Pythia-160M's shape). Most
figures name the run by their argument: ``{~series_import@tiny}``, ``{series_mb@160m}``.
The deterministic ones (parameters, megabytes per checkpoint, counts) need only the
import; the times, load averages and memory peaks are measured.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from benchmarks._docs_blocks import Template
from benchmarks._docs_figures import FigureError, count, figure, minutes, num, timing
from benchmarks._docs_runs import RunData
from benchmarks._docs_series_runs import SERIES

__all__ = ["TEMPLATES"]

README = "families/checkpoint_series/README.md"


def _run(arg: str | None) -> str:
    """The run a figure's argument names: ``tiny`` or ``160m``."""
    name = f"series_{arg}"
    if name not in SERIES:
        raise FigureError(f"write the series after @: one of "
                          f"{', '.join(n.removeprefix('series_') for n in SERIES)}")
    return name


def seconds(s: float) -> str:
    """``4.5 s`` under a minute, ``2 min 13 s`` from one."""
    return f"{s:.1f} s" if s < 60 else minutes(s)


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.1f}"


# ---------------------------------------------------------------- deterministic figures

def _checkpoint_bytes(run: RunData) -> int:
    """Bytes of the run's first stored checkpoint (every one is the same model)."""
    records = run.variant.store.checkpoints(run.variant.id)
    if not records:
        raise FigureError(f"{run.variant.id} has no checkpoint")
    return records[0].bytes


def _parameters(run: RunData) -> int:
    """Parameters of a stored checkpoint (every tensor's elements, read from its header)."""
    from safetensors import safe_open

    store = run.variant.store
    record = store.checkpoints(run.variant.id)[0]
    with safe_open(str(store.path(record.path)), "pt") as f:
        total = 0
        for key in f.keys():
            n = 1
            for d in f.get_slice(key).get_shape():
                n *= d
            total += n
    return total


@figure("series_params", run=_run)
def _params(run: RunData, arg: str | None) -> str:
    return count(_parameters(run))


@figure("series_params_m", run=_run)
def _params_m(run: RunData, arg: str | None) -> str:
    return f"{_parameters(run) / 1e6:.0f}"


@figure("series_mb", run=_run)
def _mb(run: RunData, arg: str | None) -> str:
    """Megabytes of one stored checkpoint (two significant digits, three from 10)."""
    return num(_checkpoint_bytes(run) / 1e6)


@figure("series_hub_gb", run="series_160m")
def _hub_gb(run: RunData, arg: str | None) -> str:
    """Gigabytes of ``arg`` checkpoints of the 160M model."""
    if not (arg or "").isdigit():
        raise FigureError("write the number of revisions after @: series_hub_gb@11")
    return f"{_checkpoint_bytes(run) * int(arg) / 1e9:.0f}"


@figure("series_checkpoints", run=_run)
def _checkpoints(run: RunData, arg: str | None) -> str:
    return count(len(run.variant.epochs))


@figure("series_analyzers", run="series_tiny")
def _analyzers(run: RunData, arg: str | None) -> str:
    return str(len(run.variant.family.analyzers))


@figure("series_cross_epoch", run="series_tiny")
def _cross_epoch(run: RunData, arg: str | None) -> str:
    return str(len(run.variant.family.cross_epoch))


@figure("series_artifacts", run=_run)
def _artifacts(run: RunData, arg: str | None) -> str:
    """What a full analysis writes (the family's lists and the checkpoints; nothing
    analysed)."""
    fam = run.variant.family
    return count(len(fam.analyzers) * len(run.variant.epochs) + len(fam.cross_epoch))


# ------------------------------------------------------------------- measured figures

def _measured(name: str, key: str, render: Callable[[Any], str]) -> None:
    figure(name, run=_run, measured=True)(
        lambda run, arg: render(timing(run, key)))


for _name, _key, _render in (
        ("series_plan", "plan", lambda t: seconds(t.seconds)),
        ("series_plan_load", "plan", lambda t: t.load_text()),
        ("series_import", "import", lambda t: seconds(t.seconds)),
        ("series_import_load", "import", lambda t: t.load_text()),
        ("series_import_inner", "import_inner", lambda s: f"{s:.1f}"),
        ("series_analysis", "analysis", lambda t: seconds(t.seconds)),
        ("series_analysis_load", "analysis", lambda t: t.load_text()),
        ("series_workers", "workers", str),
        ("series_worker_per_checkpoint", "worker_per_checkpoint", lambda s: f"{s:.2f}"),
        ("series_slowest", "analyzer_seconds", lambda d: ", ".join(
            f"`{k}` {v:.0f} s" for k, v in sorted(d.items(), key=lambda kv: -kv[1]))),
        ("series_import_analyze", "import_analyze", lambda t: seconds(t.seconds)),
        ("series_import_analyze_load", "import_analyze", lambda t: t.load_text()),
        ("series_import_analyze_job", "import_analyze_job", seconds)):
    _measured(_name, _key, _render)


def _peaks(run: RunData):
    peaks = [run.timings[k] for k in ("import_rss", "analysis_rss") if k in run.timings]
    if not peaks:
        timing(run, "analysis_rss")  # raises NotMeasured
    return peaks


@figure("series_rss", run=_run, measured=True)
def _rss(run: RunData, arg: str | None) -> str:
    """GB resident in the largest process of the import and the analysis (its peak)."""
    return gigabytes(max(p.largest for p in _peaks(run)))


@figure("series_rss_total", run=_run, measured=True)
def _rss_total(run: RunData, arg: str | None) -> str:
    """GB resident in all the processes of the import or the analysis at one moment."""
    return gigabytes(max(p.together for p in _peaks(run)))


@figure("series_cores", run=_run, measured=True)
def _cores(run: RunData, arg: str | None) -> str:
    timing(run, "import")  # a core count only beside times measured here
    return str(os.cpu_count())


# ---------------------------------------------------------------------------- templates

# ruff: noqa: E501 (a template line is a doc line, placeholders and all)
TEMPLATES = (
    Template(README, "series_tiny", """\
A 2-layer, 4-head GPT-NeoX (d_model 32, 19-token vocabulary, {series_params@tiny} parameters, {series_mb@tiny} MB per
stored checkpoint) saved as three local revisions (`tests/local_series.py`), each step a `tdw`
command on a {~series_cores@tiny}-core CPU (so each time includes starting Python and importing torch):

| step | time |
| --- | --- |
| plan (`tdw import ... --dry-run`: prompt file, 3 configs, tokenizer) | {~series_plan@tiny}, load average {~series_plan_load@tiny} |
| import (3 x `boot_transformers` + write, staging, adopt) | {~series_import@tiny}, of which {~series_import_inner@tiny} s in the import itself; load average {~series_import_load@tiny} |
| analysis (`tdw analyze`, a job with {~series_workers@tiny} workers): {series_artifacts@tiny} artifacts ({series_analyzers} analyzers x {series_checkpoints@tiny} checkpoints + {series_cross_epoch} cross-epoch) | {~series_analysis@tiny} as a job ({~series_worker_per_checkpoint@tiny} s of worker time per checkpoint), load average {~series_analysis_load@tiny} |
| the same through `tdw import ... --analyze` (import, then the analysis job) | {~series_import_analyze@tiny} in all, of which the job {~series_import_analyze_job@tiny}; load average {~series_import_analyze_load@tiny} |"""),
    Template(README, "series_160m", """\
A random-weight GPT-NeoX of Pythia-160M's shape (12 layers, 12 heads, d_model 768, vocabulary
50304, {series_params@160m} parameters; built locally, no download) saved as two revisions, with the tiny
series' prompt file (3 prompts), each step a `tdw` command: plan {~series_plan@160m} (load average {~series_plan_load@160m});
import {~series_import@160m} ({~series_import_inner@160m} s in the import itself: two {series_mb@160m} MB checkpoints loaded, converted,
hashed and written; load average {~series_import_load@160m}); analysis of both checkpoints {~series_analysis@160m} as a job with
{~series_workers@160m} workers (load average {~series_analysis_load@160m}), whose slowest analyzers took, in worker time, {~series_slowest@160m}.
The largest process peaked at {~series_rss@160m} GB resident, all of them together at {~series_rss_total@160m} GB. Ablation and
patching cost grows with the number of prompts and tokens."""),
    Template(README, "series_hub_sizes", """\
Sizes: Pythia-160M is {series_params_m@160m}M parameters, stored as float32 ({series_mb@160m} MB per checkpoint, measured
on a random-weight model of its shape), so 11 revisions take about {series_hub_gb@11} GB in the store on top
of the Hugging Face cache."""),
)
"""The README's blocks: the two series of the "Measured" section, then the Hub sizes (in
this order, so the quick tiny series runs first)."""
