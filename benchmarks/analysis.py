"""Analysis of every checkpoint against a naive loop; incremental reruns; storage.

The reference is the loop a researcher writes first: for each checkpoint, load the file,
and for each analyzer run a full ``run_with_cache`` on the probe (every hook cached),
compute, and save the result with numpy. It calls the very same analyzer functions, so the
two must produce the same arrays, which is checked before anything is timed. tdw runs the
same analyzers through :mod:`tdw.analysis.engine`: one forward pass per checkpoint with only the
declared hooks, checkpoints spread over worker processes, artifacts as safetensors.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from benchmarks._measure import BenchConfig, Row, Timing, alternate, peak_rss_mb, repeat, time_once
from tdw.analysis.run import AnalysisRun
from tdw.family.analyzer import LOGITS, CheckpointInputs
from tdw.family.family import variant_id
from tdw.family.model import boot_model, load_weights, weights_of
from tdw.family.registry import get_family
from tdw.store.store import Store
from tdw.training.run import TrainingRun

FAMILY = "modulo_addition_1l"


def trained_variant(root: Path, smoke: bool, *, model_seed: int | None = None
                    ) -> tuple[Store, str]:
    """A quick-preset variant with 100 checkpoints (6 in smoke mode), from the family's
    default initial weights unless ``model_seed`` is given."""
    params, schedule = (({"p": 7, "n_epochs": 10}, "0-10/2") if smoke else
                        ({"p": 59, "train_fraction": 0.5, "n_epochs": 297}, "0-297/3"))
    if model_seed is not None:
        params = {**params, "model_seed": model_seed}
    store = Store(root)
    result = TrainingRun.prepare(family=FAMILY, params=params, schedule=schedule, store=store,
                                 device="cpu").execute()
    return store, result.variant


def naive_analysis(store: Store, vid: str, out: Path, names: tuple[str, ...]) -> None:
    """The reference loop over analyzers ``names``; writes ``<analyzer>_<epoch>.npz`` and
    ``.json`` under ``out``."""
    variant = store.variant(vid)
    fam = get_family(variant.family)
    out.mkdir(parents=True, exist_ok=True)
    probe = store.load_probe(vid).tensors
    checkpoints = store.checkpoints(vid)
    final = safetensors.torch.load_file(store.path(checkpoints[-1].path))
    model = boot_model(fam.model_config(variant.params))
    model.eval()
    for checkpoint in checkpoints:
        weights = safetensors.torch.load_file(store.path(checkpoint.path))
        load_weights(model, weights)
        for analyzer in (a for a in fam.analyzers if a.name in names):
            activations = {}
            if analyzer.hooks:
                with torch.no_grad():
                    logits, cache = model.run_with_cache(probe["tokens"])
                activations = {h: logits if h == LOGITS else cache[h] for h in analyzer.hooks}
            arrays, attrs = analyzer.compute(CheckpointInputs(
                variant.params, checkpoint.epoch, weights, final, probe, activations, model))
            stem = out / f"{analyzer.name}_{checkpoint.epoch}"
            np.savez(f"{stem}.npz", **arrays)
            Path(f"{stem}.json").write_text(json.dumps(attrs, default=float))


def tdw_analysis(store: Store, vid: str, names: tuple[str, ...] = (), force: bool = True):
    return AnalysisRun.prepare(variant=vid, analyzers=names, force=force, store=store).execute()


def _agree(store: Store, vid: str, out: Path, names: tuple[str, ...]) -> str:
    fam = get_family(store.variant(vid).family)
    floats, whole, moved = 0, 0, 0
    for checkpoint in store.checkpoints(vid):
        for analyzer in (a for a in fam.analyzers if a.name in names):
            ours = store.load_artifact(vid, analyzer.schema, checkpoint.epoch).arrays
            theirs = np.load(out / f"{analyzer.name}_{checkpoint.epoch}.npz")
            for name, array in ours.items():
                where = f"{analyzer.name}.{name} at epoch {checkpoint.epoch}"
                if array.dtype.kind != "f":  # counts and argmaxes: see below
                    differ = int((array != theirs[name]).sum())
                    if differ > max(2, array.size // 10):
                        raise AssertionError(f"{where}: {differ} of {array.size} entries differ "
                                             "between tdw and the naive loop")
                    whole, moved = whole + array.size, moved + differ
                    continue
                # float32 rounding (the two forwards add in other orders) reaches 1e-4 in
                # measures of nearly degenerate geometry (angles of points near a centre)
                # and moves a value stored at lower precision by a unit in its last place
                ulp = float(np.finfo(array.dtype).eps)
                if not np.allclose(array, theirs[name], rtol=max(1e-3, 2 * ulp),
                                   atol=max(1e-5, 2 * ulp * np.abs(array).max(initial=0)),
                                   equal_nan=True):
                    raise AssertionError(f"{where}: tdw and the naive loop disagree: {array} "
                                         f"against {theirs[name]}")
                floats += 1
    # An argmax over near-equal values (a neuron's frequency shares at initialisation) may
    # fall the other way under that rounding, and a count of them with it: a few entries of
    # an array (two for a count that moved), a few in a thousand in all; not more.
    if moved > 0.005 * whole:
        raise AssertionError(f"{moved} of {whole} integer entries differ between tdw and the "
                             "naive loop: more than rounding at near ties explains")
    return (f"{floats} float arrays equal within 1e-3 relative (float16 ones within two units "
            f"in the last place); {moved} of {whole:,} integer entries (argmaxes, counts) "
            "differ, at near ties")


SAMPLERS = ("llc",)
"""Analyzers left out of the comparison: the LLC is an SGLD sampler (240 forward/backward
passes per checkpoint) that both loops would run identically, so it would only dilute the
ratio; its cost per checkpoint is reported on its own in the notes."""


def _per_checkpoint(fam) -> tuple[str, ...]:
    return tuple(a.name for a in fam.analyzers if a.name not in SAMPLERS)


def run(cfg: BenchConfig) -> list[Row]:
    scratch = Path(tempfile.mkdtemp(dir=cfg.workdir))
    store, vid = trained_variant(scratch / "store", cfg.smoke)
    fam = get_family(FAMILY)
    names = _per_checkpoint(fam)
    n_ckpt = len(store.checkpoints(vid))
    naive_out = scratch / "naive"
    naive_analysis(store, vid, naive_out, names)
    tdw_analysis(store, vid, names)
    agreement = _agree(store, vid, naive_out, names)
    ref, ours = alternate(lambda: naive_analysis(store, vid, naive_out, names),
                          lambda: tdw_analysis(store, vid, names), cfg.repeat)
    p = store.variant(vid).params["p"]
    rows = [Row(f"analysis, Modulo Addition p={p}, {len(names)} per-checkpoint analyzers x "
                f"{n_ckpt} checkpoints", "naive loop: load, full run_with_cache per analyzer, "
                "np.savez", "tdw >= 3x faster", tdw=ours, ref=ref, paired=True,
                agreement=agreement,
                note="one forward pass per checkpoint (the family's table forward at the "
                     "answer position, `grid_forward.py`), 2 worker processes, compact "
                     "safetensors artifacts; the LLC sampler is left out of both loops (its "
                     "own row below)", peak_rss_mb=peak_rss_mb())]
    rows[0] = replace(rows[0], met=rows[0].ratio >= 3)
    # The samplers and the cross-epoch analyzers too: the variant is then fully analysed.
    rest = tdw_analysis(store, vid, force=False)
    rows += [_sampler_cost(rest, name, n_ckpt) for name in SAMPLERS
             if name in rest.analyzer_seconds]
    rows.append(_incremental(cfg, store, vid, n_ckpt))
    rows.append(_one_more(cfg, store, vid, names))
    rows.extend(_storage(store, vid, n_ckpt))
    return rows


def _sampler_cost(report, name: str, n_ckpt: int) -> Row:
    per = report.analyzer_seconds[name] / n_ckpt
    return Row(f"{name} analyzer, cost per checkpoint (worker seconds, {n_ckpt} checkpoints, "
               "one run)", "-", "reported", value=f"{per:.2f} s per checkpoint",
               agreement="-", note="SGLD: 2 chains of 40 burn-in + 80 draws on batches of "
               "256 pairs, 240 forward/backward passes per checkpoint",
               peak_rss_mb=peak_rss_mb())


def _incremental(cfg: BenchConfig, store: Store, vid: str, n_ckpt: int) -> Row:
    def rerun():
        report = tdw_analysis(store, vid, force=False)
        assert report.computed == 0, f"a rerun computed {report.computed} artifacts"
    timing = repeat(rerun, cfg.repeat)
    return Row(f"incremental rerun, nothing missing, {n_ckpt} checkpoints", "-", "< 1 s",
               tdw=timing, met=timing.median < 1, unit="ms",
               agreement="the rerun computes 0 artifacts",
               note="planning is one catalog query; no file is opened",
               peak_rss_mb=peak_rss_mb())


def _one_more(cfg: BenchConfig, store: Store, vid: str, names: tuple[str, ...]) -> Row:
    """Drop one analyzer's artifacts from the catalog, as if it were new; rerun."""
    added = "coarseness"
    fam = get_family(FAMILY)
    cross = {a.name for a in fam.cross_epoch if added in a.inputs}
    full, only = [], []
    for _ in range(cfg.repeat):
        full.append(time_once(lambda: tdw_analysis(store, vid, force=True)))
        store.catalog.execute("DELETE FROM artifacts WHERE variant = ? AND analyzer = ?",
                              (vid, added))
        plan = AnalysisRun.prepare(variant=vid, store=store).plan
        planned = {i.analyzer for i in plan.items}
        if planned != {added} | cross:
            raise AssertionError(f"adding {added} planned {sorted(planned)}")
        only.append(time_once(lambda: tdw_analysis(store, vid, force=False)))
    full_t, only_t = Timing(tuple(full)), Timing(tuple(only))
    return Row(f"adding one analyzer ({added}) to an analysed variant",
               "full rerun (--force)", "computes only that analyzer", tdw=only_t, ref=full_t,
               met=True, value=f"plans {len(plan.items)} artifacts: {added} x "
               f"{len(plan.items) - len(cross)} checkpoints + {len(cross)} cross-epoch",
               agreement="the plan holds exactly the new analyzer and what reads it",
               peak_rss_mb=peak_rss_mb())


def _checkpoint_bytes(root: Path, p: int) -> tuple[int, int]:
    """(file bytes, parameter bytes) of a freshly written p-modulus checkpoint."""
    fam = get_family(FAMILY)
    values = fam.resolve({"p": p})
    model = boot_model(fam.model_config(values))
    params = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    store = Store(root)
    store.ensure_variant(fam, values, "0", 1)
    record = store.write_checkpoint(variant_id(fam, values), 0, weights_of(model))
    return record.bytes, params


def _storage(store: Store, vid: str, n_ckpt: int) -> list[Row]:
    rows = []
    for p in sorted({store.variant(vid).params["p"], 113}):
        file_bytes, param_bytes = _checkpoint_bytes(store.root.parent / f"size-p{p}", p)
        excess = file_bytes / param_bytes - 1
        rows.append(Row(f"checkpoint file, p={p}", "parameter bytes (float32)",
                        "within 5% of parameter bytes",
                        value=f"{file_bytes:,} B vs {param_bytes:,} B ({excess:+.2%})",
                        met=excess <= 0.05, note="safetensors: a JSON header, then raw tensors"))
    sizes = {row["analyzer"]: row["b"] for row in store.catalog.query(
        "SELECT analyzer, SUM(bytes) AS b FROM artifacts WHERE variant = ? AND epoch >= 0 "
        "GROUP BY analyzer", (vid,))}
    detail = ", ".join(f"{k} {v / n_ckpt / 1024:.1f}" for k, v in
                       sorted(sizes.items(), key=lambda kv: -kv[1]))
    total = sum(sizes.values()) / n_ckpt
    rows.append(Row(f"artifact bytes per checkpoint, p={store.variant(vid).params['p']}",
                    "-", "reported", value=f"{total / 1024:.0f} KiB in all; per analyzer "
                    f"(KiB): {detail}"))
    return rows
