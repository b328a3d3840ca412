"""Frames packed for the browser (tdw.explore.frames): stacked into one array a column,
exact where float32 holds the values, quantised within half a step otherwise, and never
for what cannot be quantised."""

from __future__ import annotations

import numpy as np
import pytest

from tdw.explore.frames import NAN_CODE, pack


def _rows(grids: list[np.ndarray]) -> list[dict]:
    """One image source's columns per checkpoint, as tdw's heatmap views give them."""
    return [{"image": [g], "dw": [g.shape[1]], "dh": [g.shape[0]]} for g in grids]


def test_numeric_columns_are_stacked_one_array_each_and_float32_where_exact():
    rows = [{"a": np.arange(6, dtype=np.float64) / 4 + k, "b": np.array([0.1, 0.2]) * k,
             "n": [1, 2], "s": ["x", "y"]} for k in range(3)]
    packed = pack(rows)
    assert packed.n == 3 and set(packed.stacked) == {"a", "b", "n"} and packed.quantised == ()
    (a,) = packed.data["a"]
    assert a.shape == (3, 6) and a.dtype == np.float32  # quarters: exact in float32
    assert packed.data["b"][0].dtype == np.float64  # 0.1 is not
    assert packed.data["s"] == [[["x", "y"]] * 3]  # strings travel as they are
    for k, row in enumerate(rows):
        frame = packed.frame(k)
        assert np.array_equal(frame["a"], row["a"]) and np.array_equal(frame["b"], row["b"])
        assert list(frame["n"]) == [1, 2] and frame["s"] == ["x", "y"]
    assert "tdw:frames:3" in packed.tags() and "tdw:stacked:a" in packed.tags()


def test_quantised_grids_decode_within_half_a_step_of_each_frames_range():
    rng = np.random.default_rng(0)
    grids = [rng.normal(scale=10.0 ** k, size=(64, 40)) for k in range(-3, 3)]
    grids[2][5, 7] = np.nan
    rows = _rows(grids)
    plain = pack(rows)
    packed = pack(rows, quantise=True)
    assert packed.quantised == ("image",) and packed.lists == ("image",)  # dw, dh too small
    assert packed.data["image"][0].shape == (6, 1, 64, 40)  # one buffer for every frame
    assert packed.nbytes < plain.nbytes / 3.9  # uint16 against float64
    for i, grid in enumerate(grids):
        (got,) = packed.frame(i)["image"]
        assert got.dtype == np.float32 and got.shape == grid.shape
        assert np.isnan(got).sum() == np.isnan(grid).sum()
        finite = np.isfinite(grid)
        span = np.nanmax(grid) - np.nanmin(grid)
        err = np.abs(got[finite].astype(np.float64) - grid[finite]).max()
        assert err <= span / (NAN_CODE - 1) / 2 * 1.001 + np.abs(grid[finite]).max() * 2e-7
        assert list(packed.frame(i)["dw"]) == [40]


def test_a_constant_frame_decodes_to_its_value_and_ragged_columns_are_left_as_they_are():
    packed = pack([{"v": np.full(2000, 3.5)}, {"v": np.full(2000, -1.25)}], quantise=True)
    assert packed.quantised == ("v",)
    assert np.all(packed.frame(0)["v"] == 3.5) and np.all(packed.frame(1)["v"] == -1.25)
    ragged = pack([{"v": np.linspace(0, 1, 2000)}, {"v": np.linspace(0, 1, 2001)}],
                  quantise=True)
    assert ragged.quantised == () and ragged.stacked == ()
    assert np.array_equal(ragged.frame(1)["v"], np.linspace(0, 1, 2001))


@pytest.mark.parametrize("values", [[np.array([1, 2])], np.array([1, 2, 3]), ["a", "b"]])
def test_what_is_not_float_is_never_quantised(values):
    assert pack([{"v": values}] * 2, quantise=True).quantised == ()
