"""Frames: every checkpoint's data of a view's moving source, packed for the browser.

A frames source holds every checkpoint's columns of the source it feeds (see
:mod:`tdw.explore.viewpane`) in one row: a :class:`Packed`. Three rules keep it small:

* numeric columns are *stacked*: one array over all checkpoints, sent as one binary buffer.
  Per-frame arrays would each be a buffer of their own, and a page rebuilt over a Jupyter
  comm (``jupyter_bokeh``) sends two messages a buffer: thousands for a variant, enough
  for the server's IOPub message-rate limit to drop some and leave the page half updated;
* float64 that float32 holds exactly (most artifacts are float32) travels as float32;
* a view whose frames still exceed the client budget may travel *quantised*: each float
  frame becomes uint16 codes ``q`` with the frame's own ``lo`` and ``step``
  (``value = lo + q * step``; ``NAN_CODE`` stands for NaN), a quarter of float64. The error
  is at most half a step, 1/131070 of the frame's range: below what a colour map or a
  hover tooltip with four digits shows. The browser decodes a frame when it swaps it in
  (``FRAME_SWAP_JS``); the kernel keeps the exact values.

The layout travels in the frames source's tags (:meth:`Packed.tags`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Packed", "pack", "fill", "QUANTISED_TAG", "STACKED_TAG", "LISTS_TAG", "COUNT_TAG",
           "NAN_CODE"]

STACKED_TAG = "tdw:stacked:"
LISTS_TAG = "tdw:lists:"
QUANTISED_TAG = "tdw:quantised:"
COUNT_TAG = "tdw:frames:"
NAN_CODE = 65535
"""The uint16 code of NaN; finite values use 0 .. NAN_CODE - 1."""

_LEVELS = NAN_CODE - 1
MIN_QUANTISED = 1024
"""Fewest values a frame of a column must hold to be quantised: smaller ones (a line's x and
y, a marker) cost little and keep their exact values."""


@dataclass(frozen=True)
class Packed:
    """Every checkpoint's columns of one source, as one row of a frames source.

    Attributes:
        data: column -> ``[payload]``: an array stacked over the checkpoints (axis 0), or,
            for a column whose frames differ in shape or are not numbers, the list of them.
        n: how many frames.
        stacked: the columns stacked into one array (one buffer each).
        lists: of those, the ones whose frames are lists of arrays (an image's ``[grid]``):
            a frame is then the list of the arrays along axis 1.
        quantised: the columns sent as uint16 codes, with ``<column>:lo`` and
            ``<column>:step`` (one number per frame) beside them.
    """

    data: dict[str, list]
    n: int
    stacked: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    quantised: tuple[str, ...] = ()

    def tags(self) -> list[str]:
        """The tags the browser reads the layout from (``FRAME_SWAP_JS``)."""
        return [f"{COUNT_TAG}{self.n}", *(f"{STACKED_TAG}{c}" for c in self.stacked),
                *(f"{LISTS_TAG}{c}" for c in self.lists),
                *(f"{QUANTISED_TAG}{c}" for c in self.quantised)]

    @property
    def nbytes(self) -> int:
        """Approximate size as sent: arrays their bytes, other values 8 each."""
        total = 0
        for column, (payload,) in self.data.items():
            total += payload.nbytes if column in self.stacked else _nbytes(payload)
        return total

    def frame(self, index: int) -> dict[str, Any]:
        """Frame ``index`` as the browser shows it: quantised columns decoded to float32."""
        out = {}
        extra = {f"{c}:{part}" for c in self.quantised for part in ("lo", "step")}
        for column, (payload,) in self.data.items():
            if column in extra:
                continue
            value = payload[index]
            if column in self.quantised:
                lo = self.data[f"{column}:lo"][0][index]
                step = self.data[f"{column}:step"][0][index]
                value = np.where(value == NAN_CODE, np.nan, lo + value * step).astype(np.float32)
            out[column] = list(value) if column in self.lists else value
        return out


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value)
    return 8


def _numbers(value: Any) -> tuple[np.ndarray, bool] | None:
    """A frame's value as one numeric array, and whether it was a list of arrays (an
    image's ``[grid]``); None if it is anything else (strings, ragged lists)."""
    is_list = isinstance(value, list) and bool(value) and all(
        isinstance(v, np.ndarray) for v in value)
    if is_list:
        if len({v.shape for v in value}) != 1:
            return None
        array = np.stack(value)
    else:
        try:
            array = np.asarray(value)
        except ValueError:
            return None
    if array.dtype.kind not in "fiub" or (not is_list and array.ndim == 0):
        return None
    return array, is_list


def _narrow(stack: np.ndarray) -> np.ndarray:
    """``stack`` as float32 if it is float64 that float32 holds exactly."""
    if stack.dtype != np.float64:
        return stack
    narrow = stack.astype(np.float32)
    return narrow if np.array_equal(narrow, stack, equal_nan=True) else stack


def _quantise(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint16 codes of each frame (axis 0) of float ``stack``, with its lo and step."""
    flat = stack.reshape(len(stack), -1).astype(np.float64)
    finite = np.isfinite(flat)
    with np.errstate(all="ignore"):
        lo = np.where(finite.any(axis=1), np.nanmin(np.where(finite, flat, np.nan), axis=1), 0.0)
        hi = np.where(finite.any(axis=1), np.nanmax(np.where(finite, flat, np.nan), axis=1), 0.0)
    step = np.where(hi > lo, (hi - lo) / _LEVELS, 1.0)
    codes = np.rint((np.where(finite, flat, lo[:, None]) - lo[:, None]) / step[:, None])
    codes = np.where(finite, np.clip(codes, 0, _LEVELS), NAN_CODE).astype(np.uint16)
    return codes.reshape(stack.shape), lo, step


def pack(rows: Sequence[Mapping[str, Any]], *, quantise: bool = False) -> Packed:
    """The frames of ``rows`` (one mapping of column -> value per checkpoint).

    Numeric columns of one shape in every frame are stacked into one array (float32 where
    that is exact); with ``quantise``, float ones of at least :data:`MIN_QUANTISED` values a
    frame become uint16 codes. Other columns travel as the list of their frames.
    """
    data: dict[str, list] = {}
    stacked, lists, quantised = [], [], []
    for column in rows[0]:
        frames = [_numbers(row[column]) for row in rows]
        shapes = {None if f is None else (f[0].shape, f[0].dtype.kind, f[1]) for f in frames}
        if None in shapes or len(shapes) != 1:
            data[column] = [[row[column] for row in rows]]
            continue
        stack = _narrow(np.stack([f[0] for f in frames]))
        stacked.append(column)
        if frames[0][1]:
            lists.append(column)
        if quantise and stack.dtype.kind == "f" and stack[0].size >= MIN_QUANTISED:
            stack, lo, step = _quantise(stack)
            data[f"{column}:lo"], data[f"{column}:step"] = [lo], [step]
            stacked += [f"{column}:lo", f"{column}:step"]
            quantised.append(column)
        data[column] = [stack]
    return Packed(data, len(rows), tuple(stacked), tuple(lists), tuple(quantised))


_LAYOUT_TAGS = (COUNT_TAG, STACKED_TAG, LISTS_TAG, QUANTISED_TAG)


def fill(frames: Any, packed: Packed) -> None:
    """Put ``packed`` in the frames source ``frames``: its data, and its layout in the tags
    (other tags are kept)."""
    frames.tags = [t for t in frames.tags if not str(t).startswith(_LAYOUT_TAGS)] + packed.tags()
    frames.data = packed.data
