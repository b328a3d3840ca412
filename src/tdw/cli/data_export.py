"""``tdw export VARIANT OUT --data``: the numbers behind a variant's metrics or one of its
views, as a tidy table in a ``.csv`` or ``.parquet`` file (Parquet needs pyarrow).

Without ``--view`` the table is the per-epoch metrics: one row per trained epoch, with the
columns ``epoch``, ``train_loss``, ``test_loss``, ``train_acc`` and ``test_acc`` as stored
(epochs not trained yet, whose metrics are all NaN, are left out).

With ``--view NAME`` it is what the view draws. A view hands its figure named column
sources (:class:`~tdw.family.views.View`): ``data``, fixed for the variant, and
``epoch_data``, redrawn at each checkpoint. The table stacks them, one row per element of
a source, under these columns:

- ``checkpoint``: the epoch at which the row's ``epoch_data`` was drawn; empty for a row
  of ``data``.
- ``source``: the name of the row's source (``curves``, ``grid``, ...).
- ``item``: the element's position in its source.
- ``point``: only where elements are lines (``multi_line``'s ``xs`` and ``ys``): a row
  per point, and this is its position along the line.
- ``grid_row``, ``grid_col``: only where an element is an image (a heatmap's ``image``):
  a row per cell, and these are its row (drawn from the bottom up) and column.

then every column of the sources, by name, in the order they first appear; a source
without a column leaves it empty, and a source without elements adds no rows. A column of
the view named like one of these gets a trailing underscore (``source_``).

A per-checkpoint view's ``epoch_data`` is exported at every checkpoint, or at
``--epoch E`` alone. A summary view's ``epoch_data`` only marks the current checkpoint, so
it is exported only when ``--epoch E`` names one. ``--select NAME=INDEX`` picks a
selector's entry, as for an image.

The file is written atomically: a failed export leaves no file (and an old one as it was).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.errors import TdwError, UnknownNameError
from tdw.store.atomic import atomic_write_bytes

if TYPE_CHECKING:  # pandas is imported when a table is made, not with the CLI
    import pandas as pd

    from tdw.explore.variant import Variant
    from tdw.family.views import View

__all__ = ["FORMATS", "INDEX", "table_format", "metrics_table", "view_table", "write_table"]

FORMATS = {".csv": "csv", ".parquet": "parquet"}
"""Suffix of the output file -> the format written."""
INDEX = ("checkpoint", "source", "item", "point", "grid_row", "grid_col")
"""The columns that say where a row of a view's table comes from (the module's list)."""
_METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")  # their order in the table


def table_format(path: Path) -> str:
    """The format ``path``'s suffix asks for; refuses any other, and Parquet without pyarrow
    (checked before any work, so a refused export writes nothing)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TdwError(f"{path.name}: tdw export --data writes a table to a .csv or .parquet "
                       f"file; name one, e.g. {path.stem or 'out'}.csv")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise TdwError(f"{path.name}: writing Parquet needs pyarrow, which is not "
                           "installed; pip install pyarrow, or write a .csv file") from None
    return fmt


def metrics_table(variant: Variant) -> pd.DataFrame:
    """The stored per-epoch metrics of ``variant``, one row per trained epoch."""
    import pandas as pd

    metrics = variant.metrics()
    names = [n for n in _METRICS if n in metrics] + sorted(set(metrics) - set(_METRICS))
    length = len(metrics[names[0]]) if names else 0
    table = pd.DataFrame({"epoch": np.arange(length), **{n: metrics[n] for n in names}})
    values = np.column_stack([metrics[n] for n in names]) if names else np.zeros((0, 0))
    return table[~np.isnan(values).all(axis=1)].reset_index(drop=True)


def view_table(variant: Variant, name: str, epoch: int | None,
               selection: Mapping[str, int],
               controls: Mapping[str, float] | None = None) -> pd.DataFrame:
    """What view ``name`` of ``variant`` draws, as the module describes.

    Args:
        variant: the variant whose artifacts the view reads.
        name: the view's name.
        epoch: the one checkpoint whose ``epoch_data`` to export; None: every checkpoint
            for a per-checkpoint view, none for a summary view.
        selection: selector values, e.g. ``{"neuron": 3}``.
        controls: the view's decimal controls, e.g. ``{"min_share": 0.5}`` (default: each
            control's default).
    """
    view = _view(variant, name)
    if needs := variant.missing(view):
        raise TdwError(f"view {name} of {variant.id} needs artifacts not stored yet "
                       f"({'; '.join(needs)}); analyse it first: tdw analyze {variant.id}")
    at = variant.last if epoch is None else epoch
    ctx = variant.context(at, controls=variant.controls_of(view, controls),
                          **selection)  # an epoch that is no checkpoint is named here
    variant.check_selection(view, at, selection)
    epochs: Sequence[int] = ([epoch] if epoch is not None
                             else variant.epochs if view.scope == "checkpoint" else ())
    parts = [(None, view.data(ctx))] + [(e, view.epoch_data(ctx.at(e))) for e in epochs]
    return _stack([_frame(view, checkpoint, source, columns)
                   for checkpoint, sources in parts for source, columns in sources.items()])


def write_table(table: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write ``table`` to ``path`` as ``fmt`` (:data:`FORMATS`), atomically."""
    if fmt == "csv":
        data = table.to_csv(index=False, lineterminator="\n").encode()
    else:
        buffer = io.BytesIO()
        _one_type_per_column(table).to_parquet(buffer, index=False, engine="pyarrow")
        data = buffer.getvalue()
    atomic_write_bytes(path, data)


# -- a view's sources as rows ----------------------------------------------------------------


def _view(variant: Variant, name: str) -> View:
    views = {view.name: view for view in variant.family.views}
    if name not in views:
        raise UnknownNameError(f"view of {variant.family.name}", name, list(views))
    return views[name]


def _stack(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The sources' rows as one table: the index columns first, then the sources' own."""
    import pandas as pd

    names = list(dict.fromkeys(c for frame in frames for c in frame.columns))
    names = [c for c in INDEX if c in names] + [c for c in names if c not in INDEX]
    filled = [frame for frame in frames if len(frame)]  # an empty one adds only its names
    table = pd.concat(filled, ignore_index=True) if filled else pd.DataFrame()
    table = table.reindex(columns=names)
    # A column of whole numbers stays one where another source lacks it (and NaN would
    # make it float): the index columns, and any the view gives as integers throughout.
    integral: dict[str, set[bool]] = {}
    for frame in filled:
        for column in frame.columns:
            integral.setdefault(column, set()).add(pd.api.types.is_integer_dtype(frame[column]))
    for column in table.columns:
        if (column in INDEX and column != "source") or integral.get(column) == {True}:
            table[column] = table[column].astype("Int64")
    return table


def _frame(view: View, checkpoint: int | None, source: str,
           columns: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of one source of ``view``: one per element, or per point or cell of the
    elements that are lines or images."""
    import pandas as pd

    columns = {f"{c}_" if c in INDEX else c: values for c, values in columns.items()}
    lengths = {c: len(values) for c, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise TdwError(f"view {view.name} gives source {source} columns of different "
                       f"lengths ({lengths}); it cannot be a table: report it to the "
                       f"view's author")
    n = next(iter(lengths.values()), 0)
    nested = [c for c, values in columns.items() if _nested(values)]
    if not nested:
        rows = pd.DataFrame({"item": np.arange(n), **{c: _flat(v) for c, v in columns.items()}})
    else:
        rows = pd.concat([_element_rows(view, source, columns, nested, i) for i in range(n)],
                         ignore_index=True)
    rows.insert(0, "source", source)
    rows.insert(0, "checkpoint", pd.array([checkpoint] * len(rows), dtype="Int64"))
    return rows


def _element_rows(view: View, source: str, columns: Mapping[str, Any], nested: list[str],
                  i: int) -> pd.DataFrame:
    """Element ``i`` of a source with line or image columns: a row per point or cell."""
    import pandas as pd

    arrays = {c: np.asarray(columns[c][i]) for c in nested}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) > 1 or len(shape := shapes.pop()) > 2:
        raise TdwError(f"view {view.name}: element {i} of source {source} holds arrays of "
                       f"shapes {sorted(a.shape for a in arrays.values())}; only lines of "
                       "one length or one image make rows")
    size = int(np.prod(shape))
    index: dict[str, Any] = {"item": np.full(size, i)}
    if len(shape) == 1:
        index["point"] = np.arange(size)
    elif len(shape) == 2:
        grid_row, grid_col = np.indices(shape)
        index.update(grid_row=grid_row.ravel(), grid_col=grid_col.ravel())
    values = {c: (arrays[c].ravel() if c in arrays else [columns[c][i]] * size)
              for c in columns}
    return pd.DataFrame({**index, **values})


def _nested(values: Any) -> bool:
    """Whether a column's elements are arrays (lines, images) rather than single values."""
    if isinstance(values, np.ndarray):
        return values.ndim > 1
    return any(not isinstance(v, str) and np.ndim(v) > 0 for v in values)


def _flat(values: Any) -> Any:
    return values if isinstance(values, np.ndarray) else list(values)


def _one_type_per_column(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with columns that mix text and numbers (sources sharing a column name)
    written as text: a Parquet column has one type."""
    import pandas as pd

    mixed = [c for c in table.columns if table[c].dtype == object
             and pd.api.types.infer_dtype(table[c], skipna=True) in ("mixed", "mixed-integer")]
    if not mixed:
        return table
    out = table.copy()
    for c in mixed:
        out[c] = [None if pd.isna(v) else str(v) for v in out[c]]
    return out
