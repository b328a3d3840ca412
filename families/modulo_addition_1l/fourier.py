"""Fourier analysis of functions on Z_p (p odd): a real orthonormal basis, projections along
one axis or over an (a, b) grid, and how the squared norm splits across frequencies.

This is the basis of Nanda et al., "Progress measures for grokking via mechanistic
interpretability" (ICLR 2023, arXiv:2301.05217, §4.1): for odd p the functions on
{0, ..., p-1} have the orthonormal basis

    row 0        1 / sqrt(p)                       (frequency 0, the constant)
    row 2k - 1   sqrt(2 / p) * cos(2 pi k x / p)   (frequency k = 1 .. p // 2)
    row 2k       sqrt(2 / p) * sin(2 pi k x / p)

so projecting onto it is a rotation: squared norms are preserved (Parseval), and the
squared coefficients split a function's squared norm (its variance, after the constant)
exactly across frequencies. A 2-D grid ``f(a, b)`` is projected along both axes; its
term ``(k_a, k_b)`` is the product of an a-wave of frequency ``k_a`` and a b-wave of
frequency ``k_b``. Everything is float64 numpy.

>>> import numpy as np
>>> B = basis(5)
>>> bool(np.allclose(B @ B.T, np.eye(5)))
True
>>> frequencies(5).tolist()
[0, 1, 1, 2, 2]
>>> x = np.arange(7)
>>> wave = 3.0 + np.cos(2 * np.pi * 2 * x / 7 + 0.4)
>>> np.round(power_by_frequency(wave), 6).tolist()  # 7 * 3**2 for the constant
[63.0, 0.0, 3.5, 0.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["basis", "frequencies", "project", "project_2d", "power_by_frequency",
           "power_by_frequency_2d", "nonconstant_power_2d", "frequency_fractions_2d",
           "frequency_fractions_of_power", "low_frequency_fraction_of_power",
           "low_frequency_fraction_2d"]


def _check_odd(p: int) -> None:
    if p < 3 or p % 2 == 0:
        raise ValueError(f"the Fourier basis here needs an odd p >= 3, got {p}")


def basis(p: int) -> np.ndarray:
    """``(p, p)`` orthonormal real Fourier basis of Z_p, one basis function per row:
    the constant, then the cos and sin of each frequency k = 1 .. p // 2 (p odd)."""
    _check_odd(p)
    x = np.arange(p)  # (x,)
    k = np.arange(1, p // 2 + 1)[:, None]  # (freq, 1)
    angle = 2 * np.pi * k * x / p  # (freq, x)
    waves = np.stack([np.cos(angle), np.sin(angle)], axis=1).reshape(p - 1, p)  # (row, x)
    return np.concatenate([np.full((1, p), 1 / np.sqrt(p)), waves * np.sqrt(2 / p)])


def frequencies(p: int) -> np.ndarray:
    """``(p,)`` the frequency of each row of :func:`basis`: ``[0, 1, 1, 2, 2, ...]``."""
    _check_odd(p)
    return (np.arange(p) + 1) // 2


def project(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Fourier coefficients of ``x`` along ``axis`` (of length p); same shape as ``x``."""
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)  # (..., x)
    coefficients = x @ basis(x.shape[-1]).T  # (..., row)
    return np.moveaxis(coefficients, -1, axis)


def project_2d(grid: np.ndarray) -> np.ndarray:
    """2-D Fourier coefficients of ``grid`` over its last two axes ``(..., a, b)``: the
    entry ``(..., i, j)`` belongs to a-row ``i`` and b-row ``j`` of :func:`basis`."""
    grid = np.asarray(grid, np.float64)  # (..., a, b)
    p = grid.shape[-1]
    if grid.shape[-2] != p:
        raise ValueError(f"project_2d needs a square (..., p, p) grid, got {grid.shape}")
    B = basis(p)  # (row, x)
    return B @ grid @ B.T  # (..., row_a, row_b)


def _frequency_indicator(p: int) -> np.ndarray:
    """``(p // 2 + 1, p)`` 0/1 matrix: frequency ``k`` x basis row (sums a row's cos and sin)."""
    return (frequencies(p)[None, :] == np.arange(p // 2 + 1)[:, None]).astype(np.float64)


def power_by_frequency(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Squared Fourier norm of ``x`` per frequency along ``axis``: that axis (length p)
    becomes length ``p // 2 + 1``, index k = frequency k (cos and sin summed, 0 = constant)."""
    power = np.moveaxis(project(x, axis), axis, -1) ** 2  # (..., row)
    by_freq = power @ _frequency_indicator(power.shape[-1]).T  # (..., freq)
    return np.moveaxis(by_freq, -1, axis)


def power_by_frequency_2d(grid: np.ndarray) -> np.ndarray:
    """Squared 2-D Fourier norm of ``grid`` ``(..., a, b)`` per (a-frequency, b-frequency):
    ``(..., p // 2 + 1, p // 2 + 1)``, index 0 = constant along that axis. The entries sum
    to ``(grid ** 2).sum((-2, -1))``; ``[..., 0, 0]`` is ``p**2 * mean**2``."""
    power = project_2d(grid) ** 2  # (..., row_a, row_b)
    G = _frequency_indicator(power.shape[-1])  # (freq, row)
    return G @ power @ G.T  # (..., freq_a, freq_b)


def _shares(part: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``part / total`` broadcast over trailing axes of ``part``, 0 where ``total`` is 0."""
    total = np.expand_dims(total, tuple(range(total.ndim, part.ndim)))
    return np.divide(part, total, out=np.zeros_like(part), where=total > 0)


def nonconstant_power_2d(by_freq: np.ndarray) -> np.ndarray:
    """``(...,)`` squared norm of a grid minus its constant term, from
    :func:`power_by_frequency_2d`; ``p**2`` times the grid's variance. Values below
    ``1e-12`` of the total are rounding of a constant grid and count as 0."""
    total = by_freq.sum((-2, -1))  # (...,)
    varying = total - by_freq[..., 0, 0]  # (...,)
    return np.where(varying > 1e-12 * total, varying, 0.0)


def frequency_fractions_2d(grid: np.ndarray) -> np.ndarray:
    """Share of the variance of ``grid`` ``(..., a, b)`` explained by each frequency k:
    ``(..., p // 2)``, index i = frequency i + 1.

    Frequency k owns the 2-D terms whose a- and b-frequencies are both in {0, k}, except
    the constant (0, 0): the a-waves (k, 0), the b-waves (0, k) and the four products
    (k, k), which span cos/sin(w_k(a + b)) and cos/sin(w_k(a - b)) with w_k = 2 pi k / p.
    This is the span of Nanda et al.'s single-frequency neuron fits (§4.3). Terms mixing
    two different frequencies belong to none, so the shares sum to at most 1. A constant
    grid has share 0 everywhere.

    >>> a, b = np.meshgrid(np.arange(11), np.arange(11), indexing="ij")
    >>> grid = 2 * np.cos(2 * np.pi * 4 * (a + b) / 11) + np.sin(2 * np.pi * 1 * a / 11)
    >>> np.round(frequency_fractions_2d(grid), 6).tolist()
    [0.2, 0.0, 0.0, 0.8, 0.0]
    """
    return frequency_fractions_of_power(power_by_frequency_2d(grid))


def frequency_fractions_of_power(by_freq: np.ndarray) -> np.ndarray:
    """:func:`frequency_fractions_2d` from a grid's :func:`power_by_frequency_2d`."""
    own = (np.diagonal(by_freq, axis1=-2, axis2=-1)[..., 1:]  # (..., freq): (k, k)
           + by_freq[..., 1:, 0] + by_freq[..., 0, 1:])  # (k, 0) and (0, k)
    return _shares(own, nonconstant_power_2d(by_freq))


def low_frequency_fraction_2d(grid: np.ndarray, cutoff: int) -> np.ndarray:
    """``(...,)`` share of the variance of ``grid`` ``(..., a, b)`` in the 2-D terms whose
    a- and b-frequencies are both ``<= cutoff`` (a low-pass box); 0 for a constant grid.

    >>> a, b = np.meshgrid(np.arange(11), np.arange(11), indexing="ij")
    >>> grid = np.cos(2 * np.pi * (a - b) / 11) + np.cos(2 * np.pi * 5 * b / 11)
    >>> float(np.round(low_frequency_fraction_2d(grid, cutoff=1), 6))
    0.5
    """
    return low_frequency_fraction_of_power(power_by_frequency_2d(grid), cutoff)


def low_frequency_fraction_of_power(by_freq: np.ndarray, cutoff: int) -> np.ndarray:
    """:func:`low_frequency_fraction_2d` from a grid's :func:`power_by_frequency_2d`."""
    low = by_freq[..., : cutoff + 1, : cutoff + 1].sum((-2, -1)) - by_freq[..., 0, 0]
    return _shares(low, nonconstant_power_2d(by_freq))
