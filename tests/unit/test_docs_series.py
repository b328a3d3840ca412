"""The figures of checkpoint_series's README (``benchmarks/_docs_series.py``), checked fast:
no series is built, imported or analysed.

Each block of the README matches its template; every placeholder names a figure of the
series runs with the right kind (measured or not); the deterministic figures read a
checkpoint's size and parameters and the family's counts as the README prints them; the
measured ones are left out when this process did not measure them; the import summary
line still parses; and the memory watch sees a child process's resident memory.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT))
docs = pytest.importorskip("benchmarks.docs", reason="benchmarks/ is not in this checkout")

from benchmarks import _docs_series  # noqa: E402
from benchmarks._docs_blocks import blocks  # noqa: E402
from benchmarks._docs_figures import FIGURES, FigureError, NotMeasured  # noqa: E402
from benchmarks._docs_runs import RUNS, RunData, Timed  # noqa: E402
from benchmarks._docs_series_runs import (  # noqa: E402
    SERIES,
    RssWatch,
    _descendants_memory,
    _import_seconds,
)


def _value(name: str, run: RunData, arg: str | None = None) -> str:
    return FIGURES[name].compute(run, arg)


def _fake_run(tmp_path: Path, *, checkpoints: int = 3, timings: dict | None = None,
              shapes: dict[str, tuple[int, ...]] | None = None) -> RunData:
    """A RunData whose variant has ``checkpoints`` checkpoints, each a safetensors file of
    zero tensors of ``shapes``, and the family's 4 + 1 analyzers."""
    import torch
    from safetensors.torch import save_file

    shapes = shapes or {"w": (3, 4), "b": (5,)}
    path = tmp_path / "epoch.safetensors"
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path))
    record = types.SimpleNamespace(path=str(path), bytes=path.stat().st_size)
    store = types.SimpleNamespace(checkpoints=lambda vid: [record] * checkpoints,
                                  path=lambda rel: Path(rel))
    family = types.SimpleNamespace(analyzers=("a", "b", "c", "d"), cross_epoch=("e",))
    variant = types.SimpleNamespace(id="checkpoint_series/mx-0", store=store, family=family,
                                    epochs=list(range(checkpoints)))
    return RunData("series_tiny", RUNS["series_tiny"], variant, timings or {})


def test_every_block_matches_its_template():
    for template in _docs_series.TEMPLATES:
        text = (ROOT / template.file).read_text()
        found = {b.name: b for b in blocks(text, template.file)}
        assert template.name in found, f"{template.file} lacks block {template.name}"
        assert template.read(found[template.name].text) is not None, (
            f"block {template.name} differs from its template outside the figures: "
            "rewrite it with python -m benchmarks.docs")


def test_placeholders_name_series_figures_of_the_right_kind():
    todo = docs.plan(_docs_series.TEMPLATES, check=False, full=False)
    assert set(todo.needs) == set(SERIES)
    # a plain --check imports the tiny series only (the 160M-shaped one is --full) ...
    plain = docs.plan(_docs_series.TEMPLATES, check=True, full=False)
    assert set(plain.needs) == {"series_tiny"} and plain.skipped
    assert all(slot.arg != "tiny" for _, slot in plain.skipped if not slot.measured)
    # ... and --full checks the deterministic ones, never a time
    full = docs.plan(_docs_series.TEMPLATES, check=True, full=True)
    assert full.slots and not any(slot.measured for _, slot in full.slots)


def test_a_figure_names_its_series_by_argument():
    assert FIGURES["series_mb"].run("160m") == "series_160m"
    assert FIGURES["series_mb"].run("tiny") == "series_tiny"
    with pytest.raises(FigureError, match="tiny, 160m"):
        FIGURES["series_mb"].run("410m")


def test_deterministic_figures_read_checkpoints_and_counts(tmp_path):
    run = _fake_run(tmp_path, shapes={"w": (1000, 1000), "b": (2000,)})
    assert _value("series_params", run) == "1,002,000"
    assert _value("series_params_m", run) == "1"
    assert _value("series_mb", run) == "4.0"  # 1,002,000 float32 plus a header
    assert _value("series_hub_gb", run, "1000") == "4"
    with pytest.raises(FigureError, match="series_hub_gb@11"):
        _value("series_hub_gb", run, None)
    assert _value("series_checkpoints", run) == "3"
    assert _value("series_artifacts", run) == "13"  # 4 analyzers x 3 + 1 cross-epoch
    assert (_value("series_analyzers", run), _value("series_cross_epoch", run)) == ("4", "1")


def test_mb_keeps_two_digits_for_small_checkpoints(tmp_path):
    run = _fake_run(tmp_path, shapes={"w": (19_000,)})  # 76,000 bytes and a header
    assert _value("series_mb", run) == "0.076"


def test_measured_figures_are_left_out_unless_measured_here(tmp_path):
    run = _fake_run(tmp_path)
    for name in ("series_import", "series_rss", "series_cores", "series_slowest"):
        with pytest.raises(NotMeasured):
            _value(name, run, "tiny")


def test_measured_figures_render_times_loads_and_analyzers(tmp_path):
    run = _fake_run(tmp_path, timings={
        "import": Timed(7.24, (1.1, 1.25)), "analysis": Timed(133.4, (6.0, 6.0)),
        "analyzer_seconds": {"head_ablation": 68.2, "answer_metric": 1.1,
                             "head_group_patching": 19.0}})
    assert _value("series_import", run) == "7.2 s"
    assert _value("series_import_load", run) == "1.1-1.2"
    assert _value("series_analysis", run) == "2 min 13 s"
    assert _value("series_analysis_load", run) == "6.0"
    assert _value("series_slowest", run) == ("`head_ablation` 68 s, `head_group_patching` "
                                             "19 s, `answer_metric` 1 s")


def test_the_import_summary_line_parses():
    from tdw.families.checkpoint_series.importer import ImportResult

    line = ImportResult("checkpoint_series/mtiny-0123abcd", 3, 2.94).summary()
    assert _import_seconds(f"importing ...\n{line}\n") == pytest.approx(2.9)
    with pytest.raises(RuntimeError, match="format changed"):
        _import_seconds("imported nothing")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_the_memory_watch_sees_a_child_process():
    code = "import time; x = bytearray(60_000_000); x[::4096] = b'1' * len(x[::4096]); " \
           "time.sleep(1.5)"
    with RssWatch(every=0.2) as watch:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert watch.peak is not None
    assert watch.peak.largest >= 60_000_000
    assert watch.peak.together >= 60_000_000
    assert _descendants_memory(1 << 22) == []  # a pid with no children: nothing
