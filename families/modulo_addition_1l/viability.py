"""Before training: what the data split and a set of frequencies allow, with no model.

Frequencies are k = 1 .. p // 2 as in :mod:`.fourier` (index i on a ``freq`` axis is
frequency i + 1); the helpers take any odd p, the family's p is prime. Two diagnostics:

**Data compatibility of each frequency with the training split.** A *role* is one value
per training pair: its answer c = (a + b) mod p, or its operand a, or b. For the rows'
values x, the angles theta = 2 pi k x / p and the wave features f_k(x) = [cos theta,
sin theta]:

* *Gram condition number*: lambda_max / lambda_min of the 2 x 2 Gram matrix
  G_k = mean over the rows of f_k f_k^T. With m = mean exp(2 i theta),
  G_k = (I + [[Re m, Im m], [Im m, -Re m]]) / 2, whose eigenvalues are (1 +- |m|) / 2, so
  the condition number is (1 + |m|) / (1 - |m|) and |m| is the size of the rows'
  histogram's Fourier coefficient at frequency 2k: frequency k's two features are unequal
  when the rows crowd around one pair of opposite phases. For odd p no two residues are
  opposite, so G_k is singular (inf) only when every row has one phase: one value, for k
  coprime with p (at p = 9 the answers 0, 3, 6 share a phase at k = 3).
* *phase entropy*: the Shannon entropy of the angles in :data:`PHASE_BINS` equal arcs of
  the circle, divided by log(PHASE_BINS), so 1 is perfectly even. Residue j stands for
  the arc of width 2 pi / p centred on 2 pi j / p and its rows are shared among the bins
  in proportion to their overlap with that arc: uniform values then score exactly 1 (with
  hard binning they would not whenever the bins do not divide p, i.e. always at prime p).

Why the three roles: in the Fourier circuit the logit of c is sum_k cos(w_k (a + b - c))
(Nanda et al. 2023, §4), so the answers' phases are what each frequency's readout is
fitted on, and the operands' phases are what the embedding is fitted on (a token's
embedding gets gradient only from the rows that contain it). A uniform random split
scores near perfectly on all three (|m| is about 1 / sqrt(n_train): for the family's
default split, condition numbers 1.002 to 1.07 and phase entropies above 0.999 for every
frequency and role); they flag small or structured splits, and show whether the learned
frequencies had any help from the data.

**Viability of a frequency set K.** Class c is embedded as v(c) = [cos 2 pi k c / p,
sin 2 pi k c / p] for k in K. The distance between classes c and c + d,
sep(d)^2 = |v(c) - v(c + d)|^2 = 2 sum_k (1 - cos 2 pi k d / p), depends on d only; half
of it is the margin of the ideal Fourier readout logit(c) = sum_k cos(w_k (a + b - c))
between the answer and the class d away. The set's *separation* s(K) is its minimum over
d = 1 .. p - 1 (0 for an empty set):

* *aliasing*: pairs of classes whose embeddings coincide (separation below
  :data:`ALIAS_TOL`), the d with k d = 0 mod p for every k in K: none at prime p unless K
  is empty;
* *robustness*: s_j = the least separation left after dropping any j frequencies,
  j = 0 .. |K| - 1, by enumerating the subsets where there are at most
  :data:`MAX_SUBSETS` (every j for |K| <= 12) and otherwise greedily, one more drop from
  the worst set found for j - 1 (an upper bound then);
* *best set*: greedy, from the empty set add the frequency that raises the separation
  most (ties to the lowest k), then swap one frequency in and one out while a swap raises
  it. Multiplying every frequency by a unit u mod p permutes the differences d, so at
  prime p every single frequency is as good as k = 1 and every pair {k1, k2} as good as
  {1, k2 / k1}: greedy alone is optimal for sets of up to two. Beyond, the search is a
  heuristic: against brute force it found the best set at p = 13, 17, 19, 23, 29, 41, 43
  (3 and 4 frequencies) and p = 31 (5), and came within 4% at p = 31, 37, 47, 53 (3, 4)
  and 41 (5). Its set is a real one, so the gap to it is a lower bound of the gap to the
  true best (negative: the learned set beats the search);
* *bound*: no set of |K| frequencies separates better than sqrt(2 |K| p / (p - 1)), the
  root mean square of sep(d) over d = 1 .. p - 1 (the cosines of one k sum to -1 there).
  Nanda et al.'s set {14, 35, 41, 42, 52} at p = 113 has s = 2.20, the search finds 2.27,
  the bound is 3.18.

>>> round(min_separation(7, [1]), 6), round(float(2 * np.sin(np.pi / 7)), 6)
(0.867767, 0.867767)
>>> aliased_pairs(15, [3, 6]), aliased_pairs(13, [3, 6])
(15, 0)
>>> best_set(11, 2)
[1, 3]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import data
from .grid import CITE

__all__ = ["CROSS_EPOCH", "frequency_viability", "PHASE_BINS", "ROLES", "ALIAS_TOL",
           "MAX_SUBSETS", "role_counts", "gram", "condition_numbers", "arc_overlap",
           "phase_entropy", "separation", "min_separation", "aliased_pairs", "drop_curve",
           "best_set", "separation_bound"]

PHASE_BINS = 8
"""Arcs of the phase histogram, 45 degrees each. Far fewer than p on purpose: with a bin per
residue, every k coprime with p would only permute one histogram (k x mod p is a bijection),
and all frequencies would score alike."""
ROLES = ("answer", "a", "b")
"""The values of a training pair whose phases are measured, in array order."""
ALIAS_TOL = 1e-6
"""Two classes alias when their embeddings are closer than this (exact collisions are 0 up
to rounding; the closest distinct classes of one frequency are 2 sin(pi / p) apart, 0.006
at the largest p of 1021)."""
MAX_SUBSETS = 2000
"""Most subsets enumerated for one number of dropped frequencies (C(12, 6) = 924)."""
_TIE = 1e-9  # separations closer than this are equal (rounding)
_SINGULAR = 1e-12  # lambda_min below this times lambda_max: a singular Gram, condition inf


def role_counts(p: int, is_train: np.ndarray) -> np.ndarray:
    """``(a*p+b,)`` training mask -> ``(role, residue)`` int64 counts of the training rows'
    answer, a and b values (:data:`ROLES` order)."""
    rows = np.flatnonzero(is_train)  # (n_train,)
    a, b = np.divmod(rows, p)
    return np.stack([np.bincount(x, minlength=p) for x in ((a + b) % p, a, b)])


def _angles(p: int) -> np.ndarray:
    """``(freq, x)`` angles 2 pi k x / p for k = 1 .. p // 2 and residues x."""
    return 2 * np.pi * np.outer(np.arange(1, p // 2 + 1), np.arange(p)) / p


def gram(counts: np.ndarray) -> np.ndarray:
    """``(..., p)`` row counts per residue -> ``(..., freq, 2, 2)`` float64 Gram matrices
    mean f_k f_k^T of the features f_k(x) = [cos, sin](2 pi k x / p) over the rows."""
    counts = np.asarray(counts, np.float64)
    weights = counts / counts.sum(-1, keepdims=True)  # (..., x)
    angle = _angles(counts.shape[-1])  # (freq, x)
    features = np.stack([np.cos(angle), np.sin(angle)], axis=-1)  # (freq, x, 2)
    return np.einsum("...x,fxi,fxj->...fij", weights, features, features)


def condition_numbers(counts: np.ndarray) -> np.ndarray:
    """``(..., p)`` row counts per residue -> ``(..., freq)`` condition number of each
    frequency's :func:`gram`; inf where it is singular."""
    eigen = np.linalg.eigvalsh(gram(counts))  # (..., freq, 2), ascending
    low, high = eigen[..., 0], eigen[..., 1]
    singular = low <= _SINGULAR * high
    return np.where(singular, np.inf, high / np.where(singular, 1.0, low))


def arc_overlap(p: int, bins: int = PHASE_BINS) -> np.ndarray:
    """``(p, bins)`` float64: the share of residue j's arc [j - 1/2, j + 1/2) / p (in turns)
    that lies in bin [b, b + 1) / bins; each row sums to 1."""
    j = np.arange(p)[:, None, None]  # (x, 1, 1)
    lo, hi = (j - 0.5) / p, (j + 0.5) / p
    start = np.arange(bins)[None, :, None] / bins + np.array([-1.0, 0.0, 1.0])  # (1, bin, 3)
    # the bin and its copies a turn away catch the wrapped part of the arcs at 0
    overlap = np.clip(np.minimum(hi, start + 1 / bins) - np.maximum(lo, start), 0, None)
    return overlap.sum(-1) * p


def phase_entropy(counts: np.ndarray, bins: int = PHASE_BINS) -> np.ndarray:
    """``(..., p)`` row counts per residue -> ``(..., freq)`` normalised entropy (0 .. 1)
    of the angles 2 pi k x / p of the rows in ``bins`` arcs (module docstring)."""
    counts = np.asarray(counts, np.float64)
    p = counts.shape[-1]
    weights = counts / counts.sum(-1, keepdims=True)  # (..., x)
    position = np.outer(np.arange(1, p // 2 + 1), np.arange(p)) % p  # (freq, x): k x mod p
    mass = np.einsum("...x,fxb->...fb", weights, arc_overlap(p, bins)[position])
    logs = np.log(mass, out=np.zeros_like(mass), where=mass > 0)  # 0 log 0 = 0
    return -(mass * logs).sum(-1) / np.log(bins)


def separation(p: int, frequencies: Sequence[int]) -> np.ndarray:
    """``(p // 2,)`` float64 distance between the embeddings of classes c and c + d for
    d = 1 .. p // 2 (the same as for p - d) under the frequency set ``frequencies``."""
    k = np.asarray(frequencies, dtype=np.int64)[:, None]  # (key, 1)
    d = np.arange(1, p // 2 + 1)[None, :]  # (1, d)
    squared = 2 * (1 - np.cos(2 * np.pi * k * d / p)).sum(0)  # (d,)
    return np.sqrt(np.clip(squared, 0, None))


def min_separation(p: int, frequencies: Sequence[int]) -> float:
    """The set's separation s(K): the least distance between two class embeddings."""
    return float(separation(p, frequencies).min())


def aliased_pairs(p: int, frequencies: Sequence[int]) -> int:
    """Unordered pairs of classes whose embeddings coincide: p per colliding d <= p // 2
    (d and p - d give the same pairs)."""
    return p * int((separation(p, frequencies) < ALIAS_TOL).sum())


def _min_separations(p: int, sets: Sequence[Sequence[int]]) -> np.ndarray:
    """``(set,)`` :func:`min_separation` of each set, in one product."""
    d = np.arange(1, p // 2 + 1)
    cosines = np.cos(2 * np.pi * np.outer(np.arange(1, p // 2 + 1), d) / p)  # (freq, d)
    member = np.zeros((len(sets), p // 2))  # (set, freq)
    for i, chosen in enumerate(sets):
        member[i, np.asarray(chosen, dtype=np.int64) - 1] = 1.0
    squared = 2 * (member.sum(1, keepdims=True) - member @ cosines)  # (set, d)
    return np.sqrt(np.clip(squared.min(1), 0, None))


def drop_curve(p: int, frequencies: Sequence[int]) -> np.ndarray:
    """``(|K|,)`` float64 robustness s_j of the set: the least separation left after
    dropping any j of its frequencies, j = 0 .. |K| - 1 (module docstring)."""
    keys = sorted(set(int(k) for k in frequencies))
    curve = np.zeros(len(keys))
    worst = tuple(keys)
    for j in range(len(keys)):
        size = len(keys) - j
        if math.comb(len(keys), size) <= MAX_SUBSETS:
            candidates = list(combinations(keys, size))
        else:  # one more drop from the worst set so far
            candidates = [tuple(k for k in worst if k != gone) for gone in worst]
        seps = _min_separations(p, candidates)  # (candidate,)
        at = int(np.argmin(seps))
        curve[j], worst = seps[at], candidates[at]
    return curve


def best_set(p: int, size: int) -> list[int]:
    """A set of ``size`` frequencies with a large separation: greedy, then single swaps
    while one helps (module docstring); sorted."""
    everything = range(1, p // 2 + 1)
    chosen: list[int] = []
    for _ in range(min(size, p // 2)):
        free = [k for k in everything if k not in chosen]
        seps = _min_separations(p, [[*chosen, k] for k in free])  # (free,)
        # floating noise must not break the ties among equally good frequencies
        chosen.append(free[int(np.flatnonzero(seps >= seps.max() - _TIE)[0])])
    current = min_separation(p, chosen) if chosen else 0.0
    while chosen:  # each swap raises the separation, so this ends
        swaps = [[*(k for k in chosen if k != out), new] for out in chosen
                 for new in everything if new not in chosen]
        if not swaps:
            break
        seps = _min_separations(p, swaps)  # (swap,)
        at = int(np.argmax(seps))
        if seps[at] <= current + _TIE:
            break
        chosen, current = swaps[at], float(seps[at])
    return sorted(chosen)


def separation_bound(p: int, size: int) -> float:
    """sqrt(2 size p / (p - 1)): no set of ``size`` frequencies separates the classes more."""
    return math.sqrt(2 * size * p / (p - 1))


def _frequency_viability(inputs: CrossEpochInputs) -> Output:
    values = inputs.values
    p = values["p"]
    mask = data.split_mask(values).numpy()
    counts = role_counts(p, mask)  # (role, x)
    keys = sorted(int(k) for k in inputs.artifacts["dominant_frequencies"][-1]
                  .attrs["key_frequencies"])
    best = best_set(p, len(keys))
    key_drop, best_drop = drop_curve(p, keys), drop_curve(p, best)
    key_sep = float(key_drop[0]) if keys else 0.0
    best_sep = float(best_drop[0]) if best else 0.0
    arrays = {"condition": condition_numbers(counts).astype(np.float32),
              "phase_entropy": phase_entropy(counts).astype(np.float32),
              "key_separation": separation(p, keys).astype(np.float32),
              "key_drop": key_drop.astype(np.float32),
              "best_drop": best_drop.astype(np.float32)}
    attrs = {"roles": list(ROLES), "phase_bins": PHASE_BINS, "n_train": int(mask.sum()),
             "key_frequencies": keys, "key_epoch": int(inputs.epochs[-1]),
             "min_separation": key_sep, "aliased_pairs": aliased_pairs(p, keys),
             "best_set": best, "best_separation": best_sep, "gap": best_sep - key_sep,
             "separation_bound": separation_bound(p, len(keys))}
    return arrays, attrs


frequency_viability = CrossEpochAnalyzer(
    name="frequency_viability",
    version=1,
    description=(
        "Before training: per frequency k, the condition number of the 2x2 Gram matrix of "
        "cos/sin(2 pi k x / p) and the normalised phase entropy (8 arcs) over the training "
        "pairs' answers, a and b; and, for the final checkpoint's key frequencies and a "
        "searched best set of the same size, the least distance between the classes' "
        "embeddings [cos, sin](2 pi k c / p), as frequencies are dropped (worst case), "
        f"with the aliased class pairs and an upper bound; the Fourier readout of {CITE} §4."
    ),
    arrays=(
        ArraySpec("condition", "float32", ("role", "freq"),
                  "condition number of the Gram matrix of frequency i + 1 over the training "
                  "rows' answer, a, b; inf where singular"),
        ArraySpec("phase_entropy", "float32", ("role", "freq"),
                  "entropy of the rows' phases at frequency i + 1 in 8 arcs / log 8 (1 even)"),
        ArraySpec("key_separation", "float32", ("difference",),
                  "distance between the key-set embeddings of classes c and c + d, "
                  "d = i + 1"),
        ArraySpec("key_drop", "float32", ("drop",),
                  "least class separation of the key set after dropping any j frequencies"),
        ArraySpec("best_drop", "float32", ("drop",),
                  "the same for the searched best set"),
    ),
    attrs=(
        AttrSpec("roles", "json", "the role axis: answer, a, b"),
        AttrSpec("phase_bins", "int", "arcs of the phase histogram"),
        AttrSpec("n_train", "int", "training pairs"),
        AttrSpec("key_frequencies", "json", "key frequencies at the last checkpoint"),
        AttrSpec("key_epoch", "int", "the checkpoint they are read from"),
        AttrSpec("min_separation", "float", "least distance between two classes' key-set "
                 "embeddings (0 for an empty set)"),
        AttrSpec("aliased_pairs", "int", "class pairs whose key-set embeddings coincide"),
        AttrSpec("best_set", "json", "searched best set of as many frequencies"),
        AttrSpec("best_separation", "float", "its least class distance"),
        AttrSpec("gap", "float", "best_separation - min_separation (< 0: the key set is "
                 "better than the searched one)"),
        AttrSpec("separation_bound", "float",
                 "sqrt(2 |K| p / (p - 1)): no set of |K| frequencies separates more"),
    ),
    compute=_frequency_viability,
    inputs=("dominant_frequencies",),
)

CROSS_EPOCH: tuple[CrossEpochAnalyzer, ...] = (frequency_viability,)
