"""The catalog at scale: 100 variants x 200 checkpoints x 10 analyzers of synthetic rows.

The rows are what training and analysis would have written (ids, hashes, paths, sizes), made
directly in SQL so that the benchmark measures the queries, not the filling. The figures are
the queries a page load or a plan issues: the variant listing, opening one variant in the
explorer (its checkpoints and, per view, which artifacts exist), and an analysis plan.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from benchmarks._measure import BenchConfig, Row, peak_rss_mb, repeat
from tdw.analysis.engine import AnalysisRunConfig, make_plan
from tdw.explore.variant import Variant
from tdw.family.family import variant_id
from tdw.family.registry import get_family
from tdw.store.store import Store

FAMILY = "modulo_addition_1l"


def fill(store: Store, n_variants: int, n_checkpoints: int) -> list[str]:
    """Synthetic rows for ``n_variants`` fully analysed variants; their ids."""
    fam = get_family(FAMILY)
    # up to date, options included: none is stale
    versions = {a.name: (a.version, a.options_json) for a in fam.analyzers}
    fake = lambda *parts: hashlib.sha256(repr(parts).encode()).hexdigest()  # noqa: E731
    ids = []
    with store.catalog.transaction() as db:
        db.execute("INSERT OR IGNORE INTO families VALUES (?, ?, ?)",
                   (fam.name, fam.title, fam.version))
        for i in range(n_variants):
            values = fam.resolve({"model_seed": i})
            vid = variant_id(fam, values)
            ids.append(vid)
            db.execute("INSERT INTO variants (id, family, params, schedule, n_epochs, state, "
                       "epochs_done, created, updated) VALUES (?, ?, ?, ?, ?, 'trained', ?, 0, 0)",
                       (vid, fam.name, json.dumps(values, sort_keys=True), "0-25000/125",
                        25_000, 25_000))
            db.execute("INSERT INTO probes VALUES (?, ?, ?, ?, 0)",
                       (vid, fake(vid, "probe"), f"{vid}/probe.safetensors", 12769))
            epochs = [round(k * 25_000 / (n_checkpoints - 1)) for k in range(n_checkpoints)]
            db.executemany("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, 0)",
                           [(vid, e, fake(vid, e), f"{vid}/epoch_{e}", 900_000) for e in epochs])
            db.executemany(
                "INSERT INTO artifacts (variant, analyzer, epoch, version, probe_sha256, "
                "checkpoint_sha256, sha256, path, bytes, created, options) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                [(vid, name, e, version, fake(vid, "probe"), fake(vid, e), fake(vid, name, e),
                  f"{vid}/{name}/{e}", 20_000, options)
                 for name, (version, options) in versions.items() for e in epochs])
    return ids


def run(cfg: BenchConfig) -> list[Row]:
    n_variants, n_checkpoints = (5, 10) if cfg.smoke else (100, 200)
    store = Store(Path(tempfile.mkdtemp(dir=cfg.workdir)) / "store")
    ids = fill(store, n_variants, n_checkpoints)
    n_analyzers = len(get_family(FAMILY).analyzers)
    rows_total = n_variants * n_checkpoints * n_analyzers
    target = ids[n_variants // 2]
    listed = store.variants()
    if len(listed) != n_variants:
        raise AssertionError(f"listed {len(listed)} of {n_variants} variants")

    def open_in_explorer():
        variant = Variant(target, store)
        waiting = variant.waiting()
        assert len(variant.epochs) == n_checkpoints
        return waiting

    def plan():
        result = make_plan(store, AnalysisRunConfig(target))
        assert len(result.items) == len(result.cross_epoch)  # only cross-epoch is absent
    scale = f"{n_variants} variants x {n_checkpoints} checkpoints x {n_analyzers} analyzers " \
            f"({rows_total:,} artifact rows)"
    out = []
    for label, fn in (("variant listing", store.variants),
                      ("opening a variant in the explorer (checkpoints, per-view coverage)",
                       open_in_explorer),
                      ("analysis plan of one variant", plan)):
        timing = repeat(fn, max(cfg.repeat, 5))
        out.append(Row(f"catalog, {label}; {scale}", "-", "< 50 ms", tdw=timing, unit="ms",
                       met=timing.median < 0.05, agreement="row counts checked",
                       peak_rss_mb=peak_rss_mb()))
    return out
