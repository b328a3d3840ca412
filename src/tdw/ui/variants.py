"""The variant table: every variant with its key metrics, sortable; a row opens it.

Columns are generic (parameters, accuracy, checkpoints, analysis completeness, the detected
turn) plus each family's declared ``summaries``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.variant import Variant
from tdw.family.registry import families
from tdw.store.store import Store

__all__ = ["VariantTable", "variant_rows"]


def _summary(variant: Variant, analyzer: str, attr: str) -> Any:
    try:
        epoch = variant.epochs[-1] if variant.epochs else None
        value = variant.artifact(analyzer, epoch).attrs.get(attr)
    except TdwError:
        return None
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else value


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * fraction, 1)


_BAR = {"type": "progress", "max": 100, "legend": True}


def variant_rows(store: Store) -> pd.DataFrame:
    """One row per variant: what the table shows."""
    rows = []
    for record in store.variants():
        fam = families().get(record.family)
        checkpoints = len(store.checkpoints(record.id))
        row: dict[str, Any] = {
            "variant": record.id, "state": record.state,
            "parameters": ", ".join(f"{k}={v}" for k, v in record.params.items()
                                    if fam is None or fam.param(k).identity
                                    or v != fam.param(k).default),
            "epochs": record.epochs_done, "checkpoints": checkpoints,
            "train acc %": _percent(record.final_train_acc),
            "test acc %": _percent(record.final_test_acc),
            "turn epoch": None, "turn confidence": None, "analysed %": 0.0}
        if fam is not None and checkpoints:
            variant = Variant(record.id, store)
            if turn := variant.turn():
                row["turn epoch"], row["turn confidence"] = turn[0], round(turn[1], 2)
            expected = len(fam.analyzers) * checkpoints + len(fam.cross_epoch)
            have = sum(len(e) for e in store.artifact_epochs(record.id).values())
            row["analysed %"] = _percent(min(have / expected, 1.0) if expected else 1.0)
            for label, analyzer, attr in fam.summaries:
                row[label] = _summary(variant, analyzer, attr)
        rows.append(row)
    return pd.DataFrame(rows)


class VariantTable(pn.viewable.Viewer):
    """A sortable table of every variant; ``selected`` is the id of the clicked row."""

    selected = param.String(default="", doc="The variant of the last selected row.")

    def __init__(self, store: Store, **params: Any):
        super().__init__(**params)
        self.store = store
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, selectable=1, disabled=True,
            sizing_mode="stretch_width", layout="fit_data_stretch", pagination=None,
            formatters={"train acc %": _BAR, "test acc %": _BAR, "analysed %": _BAR,
                        "parameters": {"type": "textarea"}},
            widths={"parameters": 220, "train acc %": 110, "test acc %": 110,
                    "analysed %": 110},
            label="variants")
        self.table.param.watch(self._select, "selection")
        self.hint = pn.pane.Markdown("Click a row to open it in Explore.", margin=(0, 10))
        self.refresh()

    def refresh(self) -> None:
        self.table.value = variant_rows(self.store)

    def _select(self, event: param.parameterized.Event) -> None:
        if event.new:
            self.selected = str(self.table.value.iloc[event.new[0]]["variant"])

    def __panel__(self):
        return pn.Column(self.hint, self.table, sizing_mode="stretch_width")
