"""neuron_dynamics and its views, on planted ``neuron_freq_clusters`` artifacts.

Every neuron below has a story told checkpoint by checkpoint: ``k > 0`` holds frequency k
(share 0.7, next frequency 0.2), ``-k`` leans to k without committing (0.4 against 0.3),
0 is a neuron constant over the grid. Each output is checked against the answer known by
hand from the stories, and against a direct loop over the definitions on random stories.
"""

from __future__ import annotations

import doctest
import json
from collections import Counter

import numpy as np
import pytest
from bokeh.embed import json_item
from bokeh.models import Plot, VSpan
from tdw.families.modulo_addition_1l import dynamics
from tdw.families.modulo_addition_1l.dynamics import CROSS_EPOCH, held_frequency
from tdw.families.modulo_addition_1l.dynamics_views import (
    BAND_CONCENTRATION,
    COMMITMENT_TIMELINE,
    COMMITTED_PER_FREQUENCY,
    NEURON_FREQUENCY_MAP,
    VIEWS,
    band_colours,
    frequency_image,
    frequency_palette,
    neuron_order,
)
from tdw.families.modulo_addition_1l.grid import dominant_frequency
from tdw.families.modulo_addition_1l.neurons import ANALYZERS

from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import Artifact
from tdw.family.views import ViewContext
from tdw.store.serialisation import array_bytes

(ANALYZER,) = CROSS_EPOCH
CLUSTERS = {a.name: a for a in ANALYZERS}["neuron_freq_clusters"].schema
N_FREQ = 8
EPOCHS = [0, 100, 200, 300, 400, 500, 600, 700]

# story at each checkpoint, switches, commitment epoch
STORIES = [
    ([0, -7, 7, 7, 3, 3, 3, 3], 1, 400),  # 0: switches 7 -> 3 -> 3
    ([-5, 5, 5, -2, 5, 5, 5, 5], 0, 400),  # 1: a lapse leaning to 2 is not a switch
    ([0, 0, 0, 0, 0, -4, 4, 4], 0, 600),  # 2: commits late
    ([-1, -1, 0, 0, 6, -6, 0, -1], 0, -1),  # 3: one checkpoint on 6, never settles
    ([3, 3, 3, 3, 3, 3, 3, -3], 0, -1),  # 4: lost at the end
    ([7, 3, 7, 3, 7, 3, 3, 3], 5, 500),  # 5: flip-flops
    ([-7, 7, -7, 0, 3, 3, 3, 3], 1, 400),  # 6: 7, gap, 3: one switch
    ([2] * 8, 0, 0),  # 7: committed from the start
    *[([0, 7, 7, 7, 3, 3, 3, 3], 1, 400)] * 3,  # 8-10: frequency 7's cohort, on to 3
    *[([0, 7, 7, -7, 5, 5, 5, 5], 1, 400)] * 3,  # 11-13: ... on to 5
    *[([0, 7, 7, 7, -1, 0, 0, 0], 0, -1)] * 2,  # 14-15: ... and lost
    *[([0, 0, 8, 8, 8, 8, 1, 1], 1, 600)] * 9,  # 16-24: 8 falls to exactly 10% of its peak
    ([0, 0, 8, 8, 8, 8, 8, 8], 0, 200),  # 25
    *[([-1, -1, -1, -1, 1, 1, 1, 1], 0, 400)] * 14,  # 26-39: the main band
]
HELD = np.maximum(np.array([s for s, _, _ in STORIES]), 0)  # (neuron, checkpoint)


def _row(value: int) -> np.ndarray:
    """A neuron's ``(freq,)`` shares for one story value."""
    row = np.zeros(N_FREQ, np.float32)
    if value:
        k = abs(value)
        row[k - 1], row[k % N_FREQ] = (0.7, 0.2) if value > 0 else (0.4, 0.3)
    return row


def _clusters(fraction: np.ndarray, epoch: int) -> Artifact:
    """A ``neuron_freq_clusters`` artifact holding ``fraction`` ``(neuron, freq)``."""
    dominant = dominant_frequency(fraction)
    specialised = dominant[fraction.max(-1) >= 0.85]
    arrays = {"fraction": fraction.astype(np.float32), "dominant": dominant,
              "specialised_count": np.bincount(specialised, minlength=fraction.shape[1] + 1)[1:]
              .astype(np.int32), "variance": np.ones(len(fraction), np.float32)}
    CLUSTERS.validate(arrays, {"threshold": 0.85})
    return Artifact(CLUSTERS, epoch, arrays, {"threshold": 0.85})


def _run_fractions(fractions: list[np.ndarray], epochs) -> tuple[dict, dict]:
    arts = [_clusters(f, e) for f, e in zip(fractions, epochs, strict=True)]
    return ANALYZER.run(CrossEpochInputs({}, np.array(epochs), {"neuron_freq_clusters": arts},
                                         {}))


def _run(stories: np.ndarray, epochs) -> tuple[dict, dict]:
    return _run_fractions([np.stack([_row(v) for v in stories[:, c]])
                           for c in range(stories.shape[1])], epochs)


PLANTED = _run(np.array([s for s, _, _ in STORIES]), EPOCHS)


# --- independent readings of the definitions ---------------------------------------------


def _loop_switches(held: list[int]) -> int:
    kept = [k for k in held if k > 0]
    return sum(a != b for a, b in zip(kept, kept[1:], strict=False))


def _loop_commitment(held: list[int], epochs) -> int:
    if held[-1] == 0:
        return -1
    return next(epochs[c] for c in range(len(held)) if all(k == held[-1] for k in held[c:]))


def _loop_counts(held: np.ndarray, n_freq: int) -> np.ndarray:
    out = np.zeros((held.shape[1], n_freq), int)
    for c in range(held.shape[1]):
        for k, n in Counter(held[:, c].tolist()).items():
            if k:
                out[c, k - 1] = n
    return out


def _loop_hhi(counts: np.ndarray) -> list[float]:
    return [sum((n / row.sum()) ** 2 for n in row) if row.sum() else np.nan for row in counts]


def _loop_transients(held: np.ndarray, epochs) -> list[dict]:
    counts = _loop_counts(held, N_FREQ)
    found = []
    for k in range(1, N_FREQ + 1):
        peak = max(counts[:, k - 1])
        at = list(counts[:, k - 1]).index(peak)
        if peak >= 0.05 * len(held) and counts[-1, k - 1] < 0.1 * peak:
            cohort = [n for n in range(len(held)) if held[n, at] == k]
            ends = Counter(held[n, -1] for n in cohort)
            fate = sorted(([f, m] for f, m in ends.items() if f), key=lambda p: (-p[1], p[0]))
            found.append((at, k, {"frequency": k, "peak_epoch": epochs[at], "peak_count": peak,
                                  "final_count": counts[-1, k - 1], "cohort": cohort,
                                  "fate": fate, "uncommitted": ends[0]}))
    return [entry for _, _, entry in sorted(found, key=lambda t: t[:2])]


# --- the analyzer ---------------------------------------------------------------------------


def test_the_docstring_examples_run():
    result = doctest.testmod(dynamics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_held_frequency_needs_more_than_half_of_the_variance():
    fraction = np.array([[0.5, 0.5, 0.0], [0.5001, 0.3, 0.0], [0.0, 0.0, 0.0],
                         [0.1, 0.85, 0.05], [0.2, 0.3, 0.45]], np.float32)
    assert held_frequency(fraction).tolist() == [0, 1, 0, 2, 0]
    assert held_frequency(fraction).dtype == np.int16


def test_planted_stories_give_the_hand_known_answers():
    arrays, attrs = PLANTED
    np.testing.assert_array_equal(arrays["frequency"], HELD)
    np.testing.assert_array_equal(arrays["switches"], [s for _, s, _ in STORIES])
    np.testing.assert_array_equal(arrays["commitment_epoch"], [e for _, _, e in STORIES])
    np.testing.assert_array_equal(arrays["epochs"], EPOCHS)
    counts = arrays["committed_count"]  # (checkpoint, freq)
    np.testing.assert_array_equal(counts[:, 7 - 1], [1, 9, 10, 6, 1, 0, 0, 0])
    np.testing.assert_array_equal(counts[:, 8 - 1], [0, 0, 10, 10, 10, 10, 1, 1])
    np.testing.assert_array_equal(counts[:, 1 - 1], [0, 0, 0, 0, 14, 14, 23, 23])
    np.testing.assert_array_equal(counts[:, 3 - 1], [1, 2, 1, 2, 6, 7, 7, 6])
    # epoch 0: frequencies 2, 3 and 7 one neuron each; the end: 23, 1, 6, 1, 4, 0, 0, 1 of 36
    assert arrays["hhi"][0] == pytest.approx(1 / 3)
    assert arrays["hhi"][-1] == pytest.approx((23**2 + 1 + 36 + 1 + 16 + 1) / 36**2)
    # 7 (9 neurons) and 3 (2 = 5% of 40) are the first prominent, at epoch 100: 7 has more
    assert (attrs["first_mover"], attrs["first_mover_epoch"]) == (7, 100)
    assert attrs["n_switching"] == 3 + 6 + 9
    committed = [e for _, _, e in STORIES if e >= 0]
    assert attrs["median_commitment_epoch"] == pytest.approx(np.median(committed))
    assert attrs["threshold"] == 0.5


def test_the_transient_cohort_and_its_fate():
    (entry,) = PLANTED[1]["transients"]  # 8 ends at exactly 10% of its peak: not transient
    assert entry == {"frequency": 7, "peak_epoch": 200, "peak_count": 10, "final_count": 0,
                     "cohort": [0, 5, *range(8, 16)], "fate": [[3, 5], [5, 3]],
                     "uncommitted": 2}
    json.dumps(PLANTED[1], allow_nan=False)


def test_random_stories_match_a_direct_loop_over_the_definitions():
    rng = np.random.default_rng(3)
    n_neurons, epochs = 60, sorted(rng.choice(3000, size=12, replace=False).tolist())
    # drifting stories: most neurons keep their value, some jump, a few go slack or dead
    stories = np.zeros((n_neurons, 12), int)
    stories[:, 0] = rng.integers(-N_FREQ, N_FREQ + 1, n_neurons)
    for c in range(1, 12):
        jump = rng.random(n_neurons) < 0.3
        stories[:, c] = np.where(jump, rng.integers(-4, 5, n_neurons), stories[:, c - 1])
    arrays, attrs = _run(stories, epochs)
    held = np.maximum(stories, 0)
    np.testing.assert_array_equal(arrays["frequency"], held)
    assert arrays["switches"].tolist() == [_loop_switches(list(h)) for h in held]
    assert arrays["commitment_epoch"].tolist() == [_loop_commitment(list(h), epochs)
                                                   for h in held]
    counts = _loop_counts(held, N_FREQ)
    np.testing.assert_array_equal(arrays["committed_count"], counts)
    np.testing.assert_allclose(arrays["hhi"], _loop_hhi(counts), rtol=1e-6)
    assert attrs["transients"] == _loop_transients(held, epochs)
    assert len(attrs["transients"]) > 0  # the seed plants at least one
    movers = [(c, -counts[c, k - 1], k) for c in range(12) for k in range(1, N_FREQ + 1)
              if counts[c, k - 1] >= 0.05 * n_neurons]
    c, _, k = min(movers)
    assert (attrs["first_mover"], attrs["first_mover_epoch"]) == (k, epochs[c])


def test_ties_and_empty_runs():
    held = np.array([[0, 6, 5], [0, 6, 5], [0, 6, 5], [0, 6, 3], [0, 6, 2], [0, 6, 0]])
    (entry,) = dynamics.transients(held, dynamics.frequency_counts(held, 6), [0, 10, 20])
    assert entry["fate"] == [[5, 3], [2, 1], [3, 1]]  # most neurons first, then frequency
    assert (entry["peak_epoch"], entry["uncommitted"]) == (10, 1)
    counts = np.array([[0, 1, 0], [0, 3, 3], [5, 3, 3]])
    assert dynamics.first_mover(counts, 40) == (2, 1)  # 2 and 3 tie at 3: the lower
    assert dynamics.first_mover(counts, 1000) is None
    assert np.isnan(dynamics.concentration(np.zeros((2, 3), int))).all()
    arrays, attrs = _run(np.zeros((5, 3), int), [0, 1, 2])  # every neuron dead throughout
    assert (arrays["commitment_epoch"] == -1).all() and (arrays["switches"] == 0).all()
    assert attrs["first_mover"] is None and attrs["median_commitment_epoch"] is None
    assert attrs["transients"] == [] and np.isnan(arrays["hhi"]).all()


def test_the_artifact_is_compact_at_95_checkpoints_and_512_neurons():
    rng = np.random.default_rng(0)
    favourite = rng.integers(0, 56, 512)  # (neuron,) each neuron drifts towards one
    fractions = []
    for c in range(95):
        shares = rng.dirichlet(np.ones(56), 512) * (1 - c / 95)  # (neuron, freq)
        shares[np.arange(512), favourite] += c / 95
        fractions.append(shares.astype(np.float32))
    arrays, attrs = _run_fractions(fractions, list(range(0, 9500, 100)))
    meta = {"attrs": json.dumps(attrs)}
    assert len(array_bytes(arrays, meta)) < 150_000  # 97,280 B of them the frequency map


# --- the views ------------------------------------------------------------------------------


def _context(epoch: int = 300, result=PLANTED) -> ViewContext:
    art = Artifact(ANALYZER.schema, None, *result)
    return ViewContext("v", {"p": 17}, epoch, tuple(int(e) for e in result[0]["epochs"]),
                       lambda name, e: art, lambda: {}, transition=(250, 0.8))


def _renderer_of(fig, source):
    return [r for r in fig.renderers if getattr(r, "data_source", None) is source]


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_each_view_builds_and_its_marker_moves_with_the_checkpoint(view):
    ctx = _context()
    assert view.scope == "summary" and view.group == "Fourier"
    assert view.reads == ("neuron_dynamics",)
    sources = view.sources(ctx)
    fig = view.build(sources, ctx)
    assert isinstance(fig, Plot)
    assert json_item(fig)["doc"]["roots"]  # a valid Bokeh document
    (current,) = _renderer_of(fig, sources["current"])
    assert isinstance(current.glyph, VSpan) and current.data_source.data["x"] == [300]
    (turn,) = _renderer_of(fig, sources["transition"])
    assert turn.data_source.data["x"] == [250]
    moved = view.epoch_data(ctx.at(600))
    assert moved == {"current": {"x": [600]}}  # the only columns a checkpoint change sends
    sources["current"].data = moved["current"]
    assert current.data_source.data["x"] == [600]


def test_the_frequency_map_rows_are_sorted_and_its_columns_are_the_checkpoints():
    ctx = _context()
    arrays = PLANTED[0]
    order = neuron_order(_context().load("neuron_dynamics", 0))
    final, commit = arrays["frequency"][order, -1], arrays["commitment_epoch"][order]
    keys = [(f == 0, f, e) for f, e in zip(final.tolist(), commit.tolist(), strict=True)]
    assert keys == sorted(keys) and sorted(order.tolist()) == list(range(40))
    grid = NEURON_FREQUENCY_MAP.data(ctx)["grid"]
    image = grid["image"][0]
    assert grid["dw"] == [700] and grid["dh"] == [40] and image.shape == (40, 8)
    want = arrays["frequency"][order].astype(np.float32)  # one column per even checkpoint
    want[want == 0] = np.nan
    np.testing.assert_array_equal(image, want)
    fig = NEURON_FREQUENCY_MAP.figure(ctx)
    assert set(fig.yaxis[0].major_label_overrides.values()) == {"k = 1", "k = 3", "k = 5",
                                                                "none"}
    (mapper,) = {r.glyph.color_mapper for r in fig.renderers if hasattr(r.glyph, "color_mapper")}
    assert (mapper.low, mapper.high) == (0.5, 8.5)  # frequency k -> palette[k - 1]
    # the frequencies ever held by >= 2 neurons take their line colours, the rest pale tints
    lines = COMMITTED_PER_FREQUENCY.data(ctx)["lines"]
    assert list(mapper.palette) == frequency_palette(8, [1, 3, 5, 7, 8])
    assert [mapper.palette[k - 1] for k in (1, 3, 5, 7, 8)] == lines["color"]


def test_the_image_resamples_uneven_checkpoints_to_the_nearest_one():
    rng = np.random.default_rng(5)
    epochs = np.array([40, 50, 60, 100, 300, 320, 1000, 2500])
    frequency = rng.integers(0, 5, (6, 8)).astype(np.int16)
    image, span = frequency_image(frequency, epochs)
    assert span == 2500 and image.shape == (6, 2500 // 10 + 1)
    width = span / image.shape[1]
    seen = set()
    for j in range(image.shape[1]):
        centre = (j + 0.5) * width
        c = int(np.argmin(np.abs(epochs - centre)))
        want = frequency[:, c].astype(np.float32)
        want[want == 0] = np.nan
        if centre < epochs[0]:
            want[:] = np.nan
        else:
            seen.add(c)
        np.testing.assert_array_equal(image[:, j], want)
    assert seen == set(range(8))  # every checkpoint has a column
    single, span = frequency_image(frequency[:, :1], np.array([0]))
    assert span == 1 and single.shape == (6, 2)


def test_the_palette_tells_every_frequency_apart_and_keeps_grey_for_uncommitted():
    bands = list(range(1, 57, 5))  # 12 bands: the band colours cycle after 9
    colours = frequency_palette(56, bands)
    assert colours[0] == band_colours(1)[0] and len(band_colours(12)) == 12
    tints = [c for k, c in enumerate(colours, 1) if k not in bands]
    assert len(set(tints)) == len(tints) and not set(tints) & set(band_colours(12))
    assert all(min(int(c[i:i + 2], 16) for i in (1, 3, 5)) > 150 for c in tints)  # pale
    assert "#7f7f7f" not in colours and "#808080" not in colours  # grey: uncommitted only
    assert all(c1 != c2 for c1, c2 in zip(colours, colours[1:], strict=False))


def test_the_commitment_timeline_counts_neurons_committed_for_good():
    ctx = _context()
    lines = COMMITMENT_TIMELINE.data(ctx)["lines"]
    assert lines["name"] == ["k = 1", "k = 3", "k = 5", "other frequencies", "all"]
    final = HELD[:, -1]
    commit = np.array([e for _, _, e in STORIES])
    groups = [final == 1, final == 3, final == 5, np.isin(final, [2, 4, 6, 7, 8]), final > 0]
    for ys, members in zip(lines["ys"], groups, strict=True):
        assert ys == [sum(1 for n in np.flatnonzero(members) if 0 <= commit[n] <= e)
                      for e in EPOCHS]
    assert lines["ys"][0] == [0, 0, 0, 0, 14, 14, 23, 23]
    epochs, total = COMMITMENT_TIMELINE.trace.values(ctx)
    assert epochs == EPOCHS and list(total) == lines["ys"][-1]


def test_the_frequency_lines_and_the_concentration():
    ctx = _context()
    lines = COMMITTED_PER_FREQUENCY.data(ctx)["lines"]
    assert lines["name"] == ["k = 1", "k = 3", "k = 5", "k = 7 (transient)", "k = 8"]
    counts = _loop_counts(HELD, N_FREQ)
    for ys, k in zip(lines["ys"], [1, 3, 5, 7, 8], strict=True):
        assert ys == counts[:, k - 1].tolist()
    assert list(COMMITTED_PER_FREQUENCY.trace.values(ctx)[1]) == counts.sum(1).tolist()
    hhi = BAND_CONCENTRATION.data(ctx)["lines"]
    assert hhi["name"] == ["HHI"]
    np.testing.assert_allclose(hhi["ys"][0], _loop_hhi(counts), rtol=1e-6)
    fig = BAND_CONCENTRATION.figure(ctx)
    assert (fig.y_range.start, fig.y_range.end) == (0.0, 1.05)
