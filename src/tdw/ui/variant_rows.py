"""What the Variants table shows: one row per variant, as a dict of column -> value.

Every variant the catalog lists has a row, whatever its state (new, training, interrupted,
trained, failed). The columns, in order: the variant, its state, its training progress
(``progress %``: from its running training job while there is one, else epochs done of
planned), its active job, its tags, then **one column per parameter** (each family's in
the order it declares them), the results (epochs, checkpoints, accuracies), the analysis
(transition, completeness, story, the family's ``summaries``), and the note.

The analysis columns read artifacts, so :class:`RowCache` keeps them per variant until a
row of that variant changes (:func:`tdw.store.listing.variant_stamps`); everything else is
read afresh, in a few queries for the whole store.
"""

from __future__ import annotations

from typing import Any

from tdw.errors import TdwError
from tdw.explore.variant import Variant
from tdw.family.registry import families
from tdw.store import annotations, listing
from tdw.store import jobs as job_table
from tdw.store.annotations import Annotation
from tdw.store.jobs import JobRecord
from tdw.store.records import VariantRecord
from tdw.store.store import Store

__all__ = ["Row", "RowCache", "variant_rows", "param_column", "parameter_columns",
           "PERCENT_COLUMNS", "LEADING", "RESULTS"]

Row = dict[str, Any]

LEADING = ("variant", "state", "progress %", "job", "tags")
"""The columns before the parameters."""
RESULTS = ("epochs", "checkpoints", "train acc %", "test acc %", "transition epoch",
           "transition confidence", "analysed %")
"""The columns after the parameters every row has (then the story, summaries and note)."""
PERCENT_COLUMNS = ("progress %", "train acc %", "test acc %", "analysed %")
"""Columns drawn as bars."""


def param_column(name: str) -> str:
    """The column of parameter ``name``: its name, unless that is a column already."""
    return f"{name} (parameter)" if name in (*LEADING, *RESULTS, "note", "link") else name


def parameter_columns(rows: list[Row]) -> list[str]:
    """The parameter columns of ``rows``, in order (between :data:`LEADING` and
    :data:`RESULTS`)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.get("_params", ())))
    return list(names)


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * fraction, 1)


def _summary(variant: Variant, analyzer: str, attr: str) -> Any:
    try:
        epoch = variant.epochs[-1] if variant.epochs else None
        value = variant.artifact(analyzer, epoch).attrs.get(attr)
    except TdwError:
        return None
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else value


def _analysis(store: Store, record: VariantRecord, checkpoints: int) -> Row:
    """The columns read from the variant's artifacts (cached by :class:`RowCache`)."""
    row: Row = {"transition epoch": None, "transition confidence": None, "analysed %": 0.0}
    fam = families().get(record.family)
    if fam is None or not checkpoints:
        return row
    try:
        variant = Variant(record.id, store)
        if turn := variant.transition():
            row["transition epoch"], row["transition confidence"] = turn[0], round(turn[1], 2)
        have, expected = variant.analysed()
        row["analysed %"] = _percent(min(have / expected, 1.0) if expected else 1.0)
        if (story := variant.story()) is not None:
            row["story"] = story["label"]
            for phase, window in story["windows"].items():
                row[f"{phase} epochs"] = f"{window[0]}-{window[1]}" if window else None
            if "first_mover" in story:
                row["first mover"] = story["first_mover"]
        for label, analyzer, attr in fam.summaries:
            row[label] = _summary(variant, analyzer, attr)
    except TdwError:  # removed or rewritten while read: the next poll reads it again
        pass
    return row


class RowCache:
    """The analysis columns of each variant, kept while the variant's rows are unchanged."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[tuple, Row]] = {}

    def analysis(self, store: Store, record: VariantRecord, checkpoints: int,
                 stamp: tuple) -> Row:
        cached = self._rows.get(record.id)
        if cached is None or cached[0] != stamp:
            cached = (stamp, _analysis(store, record, checkpoints))
            self._rows[record.id] = cached
        return dict(cached[1])

    def keep_only(self, ids: set[str]) -> None:
        """Forget the variants not in ``ids`` (removed ones)."""
        for vid in set(self._rows) - ids:
            del self._rows[vid]


def _job_text(job: JobRecord | None) -> str | None:
    if job is None:
        return None
    if job.state == "queued":
        return f"{job.kind} queued"
    return f"{job.kind} {round(100 * job.fraction)}%"


def _progress(record: VariantRecord, job: JobRecord | None) -> float | None:
    if job is not None and job.kind == "train" and job.state == "running" and job.total:
        return _percent(job.fraction)
    return _percent(min(record.epochs_done / record.n_epochs, 1.0) if record.n_epochs
                    else None)


def _parameters(record: VariantRecord) -> Row:
    fam = families().get(record.family)
    order = [p.name for p in fam.params] if fam is not None else []
    params = fam.complete(record.params) if fam is not None else record.params
    names = [n for n in order if n in params] + sorted(set(params) - set(order))
    return {param_column(n): params[n] for n in names}


def variant_rows(store: Store, cache: RowCache | None = None) -> list[Row]:
    """One row per variant, as a dict: what the table shows. Each row also carries
    ``_params``, the names of its parameter columns (not a column itself)."""
    cache = cache if cache is not None else RowCache()
    stamps = listing.variant_stamps(store.catalog)
    notes = annotations.annotations(store.catalog)
    counts = store.checkpoint_counts()
    jobs: dict[str, JobRecord] = {}
    for job in sorted(job_table.active(store.catalog), key=lambda j: (j.state != "running",
                                                                      j.id)):
        jobs.setdefault(job.variant, job)
    rows = []
    for record in store.variants():
        job, note = jobs.get(record.id), notes.get(record.id, Annotation())
        checkpoints = counts.get(record.id, 0)
        params = _parameters(record)
        row: Row = {"variant": record.id, "state": record.state,
                    "progress %": _progress(record, job), "job": _job_text(job),
                    "tags": " ".join(note.tags), **params,
                    "epochs": record.epochs_done, "checkpoints": checkpoints,
                    "train acc %": _percent(record.final_train_acc),
                    "test acc %": _percent(record.final_test_acc)}
        row.update(cache.analysis(store, record, checkpoints, stamps.get(record.id, ())))
        row["note"] = note.note
        row["_params"] = tuple(params)
        rows.append(row)
    cache.keep_only({r["variant"] for r in rows})
    return rows
