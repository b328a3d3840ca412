"""frequency_viability and class_accuracy, and their views, on planted signals.

The data diagnostics are checked on splits whose answer is known by hand (uniform answers,
only even answers, answers sharing one phase) and against direct computations (a Gram
matrix summed row by row, an entropy from finely sampled arcs); the frequency sets against
class embeddings built directly and against brute force; class_accuracy against a direct
loop over planted prediction traces.
"""

from __future__ import annotations

import doctest
import itertools
import json
import math

import numpy as np
import pytest
from bokeh.embed import json_item
from bokeh.models import LabelSet, Plot, VSpan
from tdw.families.modulo_addition_1l import classes, viability
from tdw.families.modulo_addition_1l.embedding import ANALYZERS as EMBEDDING
from tdw.families.modulo_addition_1l.extras_views import (
    CLASS_ACCURACY,
    CLASS_GRADUATION,
    FREQUENCY_VIABILITY,
    VIEWS,
    epoch_image,
    viability_lines,
)
from tdw.families.modulo_addition_1l.logits import ANALYZERS as LOGIT_ANALYZERS

from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import Artifact
from tdw.family.registry import get_family
from tdw.family.views import ViewContext
from tdw.store.serialisation import array_bytes

FAMILY = get_family("modulo_addition_1l")
DOMINANT = EMBEDDING[0].schema
TRACE = {a.name: a for a in LOGIT_ANALYZERS}["prediction_trace"].schema


def _features(p: int, k: int, x: np.ndarray) -> np.ndarray:
    """``(n, 2)`` [cos, sin](2 pi k x / p)."""
    return np.stack([np.cos(2 * np.pi * k * x / p), np.sin(2 * np.pi * k * x / p)], axis=1)


def _embedding(p: int, frequencies) -> np.ndarray:
    """``(class, 2 |K|)`` the class embeddings, built directly."""
    c = np.arange(p)
    return np.concatenate([_features(p, k, c) for k in frequencies] or [np.zeros((p, 0))],
                          axis=1)


def _distances(p: int, frequencies) -> np.ndarray:
    """``(class, class)`` Euclidean distances between the class embeddings."""
    v = _embedding(p, frequencies)
    return np.sqrt(((v[:, None] - v[None, :]) ** 2).sum(-1))


def _brute_separation(p: int, frequencies) -> float:
    d = _distances(p, frequencies)
    return float(d[~np.eye(p, dtype=bool)].min())


def test_docstring_examples():
    for module in (viability, classes):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


# --- data compatibility -------------------------------------------------------------------


@pytest.mark.parametrize("p", [11, 13, 113])
def test_uniform_values_are_balanced_at_every_frequency(p):
    counts = viability.role_counts(p, np.ones(p * p, bool))  # the whole grid trains
    assert (counts == p).all()  # every answer, a and b p times
    np.testing.assert_allclose(viability.condition_numbers(counts), 1.0, atol=1e-12)
    np.testing.assert_allclose(viability.phase_entropy(counts), 1.0, atol=1e-12)


@pytest.mark.parametrize("p", [11, 13])
def test_only_even_answers_match_the_hand_computed_gram(p):
    a, b = np.divmod(np.arange(p * p), p)
    is_train = (a + b) % p % 2 == 0
    counts = viability.role_counts(p, is_train)
    k = np.arange(1, p // 2 + 1)
    # the (p + 1) / 2 even answers, equally often: |mean exp(2i theta)| is a geometric sum
    r = 1 / ((p + 1) * np.abs(np.cos(2 * np.pi * k / p)))
    np.testing.assert_allclose(viability.condition_numbers(counts)[0], (1 + r) / (1 - r),
                               rtol=1e-10)
    # the Gram summed row by row
    answers = ((a + b) % p)[is_train]
    for i, freq in enumerate(k):
        f = _features(p, freq, answers)
        direct = sum(np.outer(row, row) for row in f) / len(f)
        np.testing.assert_allclose(viability.gram(counts[0])[i], direct, atol=1e-12)
    assert np.isfinite(viability.condition_numbers(counts)).all()  # odd p: never singular
    # every a meets (p + 1) / 2 values of b, so the operands stay balanced
    np.testing.assert_allclose(viability.condition_numbers(counts)[1:], 1.0, atol=1e-12)
    np.testing.assert_allclose(viability.phase_entropy(counts)[1:], 1.0, atol=1e-12)


def test_a_gram_is_singular_exactly_where_one_phase_remains():
    at_9 = np.zeros(9)
    at_9[[0, 3, 6]] = 5  # one phase at k = 3, three evenly spread ones at k = 1, 2, 4
    np.testing.assert_allclose(viability.condition_numbers(at_9), [1, 1, np.inf, 1],
                               atol=1e-12)
    one_class = np.zeros(11)
    one_class[4] = 7
    assert np.isinf(viability.condition_numbers(one_class)).all()
    two_classes = np.zeros(11)
    two_classes[[1, 4]] = 1  # |m| = |cos(2 pi k (4 - 1) / 11)|: ill-conditioned, not singular
    r = np.abs(np.cos(2 * np.pi * np.arange(1, 6) * 3 / 11))
    np.testing.assert_allclose(viability.condition_numbers(two_classes), (1 + r) / (1 - r),
                               rtol=1e-9)


def test_phase_entropy_matches_finely_sampled_arcs():
    p, bins, samples = 13, viability.PHASE_BINS, 4000
    counts = np.random.default_rng(3).integers(0, 9, p)
    within = (np.arange(samples) + 0.5) / samples - 0.5  # offsets inside an arc
    for i, k in enumerate(range(1, p // 2 + 1)):
        turns = ((k * np.arange(p))[:, None] + within[None, :]) / p % 1.0  # (x, sample)
        weight = np.repeat(counts / counts.sum() / samples, samples)
        mass = np.bincount((turns.ravel() * bins).astype(int), weight, bins)
        mass = mass[mass > 0]
        want = -(mass * np.log(mass)).sum() / np.log(bins)
        assert viability.phase_entropy(counts)[i] == pytest.approx(want, abs=1e-3)
    one_class = np.zeros(11)
    one_class[0] = 3  # its arc straddles the edge of two bins: log 2 / log 8
    np.testing.assert_allclose(viability.phase_entropy(one_class), 1 / 3, atol=1e-12)
    np.testing.assert_allclose(viability.arc_overlap(13).sum(1), 1.0, atol=1e-12)


# --- frequency sets -------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "keys"), [(13, [2, 5]), (17, [1, 4, 6, 7]), (7, [3])])
def test_separation_is_the_distance_between_class_embeddings(p, keys):
    d = _distances(p, keys)
    np.testing.assert_allclose(viability.separation(p, keys), d[0, 1:p // 2 + 1], atol=1e-12)
    np.testing.assert_allclose(viability.separation(p, keys), d[3, (3 + np.arange(
        1, p // 2 + 1)) % p], atol=1e-12)  # depends on the difference only
    assert viability.min_separation(p, keys) == pytest.approx(_brute_separation(p, keys))
    # the bound is the root mean square distance between distinct classes
    mean_square = (d ** 2).sum() / (p * (p - 1))
    assert math.sqrt(mean_square) == pytest.approx(viability.separation_bound(p, len(keys)))


@pytest.mark.parametrize(("p", "keys", "modulus"), [(15, [3, 6], 5), (15, [5], 3),
                                                   (15, [3, 5], 15), (13, [3, 6], 13)])
def test_aliasing_collides_the_classes_predicted_by_hand(p, keys, modulus):
    # k d = 0 mod 15 for k in {3, 6}: d = 5, 10; for k = 5: d = 3, 6, 9, 12; for {3, 5}
    # nothing; at prime 13 nothing. So c and c' collide exactly when c = c' mod `modulus`.
    d = _distances(p, keys)
    collide = {(c, e) for c in range(p) for e in range(c + 1, p) if d[c, e] < 1e-9}
    want = {(c, e) for c in range(p) for e in range(c + 1, p) if (e - c) % modulus == 0}
    assert collide == want
    assert viability.aliased_pairs(p, keys) == len(want)
    assert viability.aliased_pairs(p, []) == p * (p - 1) // 2


def _brute_best(p: int, size: int) -> float:
    return max(_brute_separation(p, keys)
               for keys in itertools.combinations(range(1, p // 2 + 1), size))


@pytest.mark.parametrize(("p", "size"), [(11, 2), (11, 1), (13, 2), (13, 3), (17, 3)])
def test_the_searched_best_set_matches_brute_force(p, size):
    found = viability.best_set(p, size)
    assert len(found) == size == len(set(found)) and found == sorted(found)
    assert _brute_separation(p, found) == pytest.approx(_brute_best(p, size), rel=1e-9)


def test_the_search_never_claims_more_than_the_best_and_stays_under_the_bound():
    for p, size in [(31, 3), (37, 4)]:  # where the search falls short of brute force
        found = viability.min_separation(p, viability.best_set(p, size))
        assert found <= _brute_best(p, size) + 1e-12
        assert found >= 0.95 * _brute_best(p, size)
        assert found < viability.separation_bound(p, size)


def _brute_drops(p: int, keys) -> list[float]:
    return [min(_brute_separation(p, subset)
                for subset in itertools.combinations(keys, len(keys) - j))
            for j in range(len(keys))]


def test_the_drop_curve_is_the_worst_case_over_subsets(monkeypatch):
    p, keys = 17, [1, 4, 6, 7]
    exact = viability.drop_curve(p, keys)
    np.testing.assert_allclose(exact, _brute_drops(p, keys), atol=1e-12)
    assert (np.diff(exact) <= 1e-12).all()
    # past MAX_SUBSETS one more frequency drops from the worst set: an upper bound
    monkeypatch.setattr(viability, "MAX_SUBSETS", 1)
    greedy = viability.drop_curve(p, keys)
    np.testing.assert_allclose(greedy[:2], exact[:2], atol=1e-12)  # 1 set, then every drop
    assert (greedy >= exact - 1e-12).all()
    assert greedy[-1] == pytest.approx(exact[-1])  # at prime p every single k is alike
    assert viability.drop_curve(p, []).shape == (0,)


# --- the frequency_viability analyzer -----------------------------------------------------


def _dominant(epochs, key_sets) -> list[Artifact]:
    return [Artifact(DOMINANT, e, {"norms": np.ones(5, np.float32)},
                     {"key_frequencies": keys, "key_share": 0.5})
            for e, keys in zip(epochs, key_sets, strict=True)]


def _viability(values, key_sets, epochs=(0, 5, 9)):
    inputs = CrossEpochInputs(values, np.asarray(epochs, np.int64),
                              {"dominant_frequencies": _dominant(epochs, key_sets)}, {})
    return viability.frequency_viability.run(inputs)  # validates the schema


def test_frequency_viability_reads_the_split_and_the_last_key_set():
    values = FAMILY.resolve({"p": 11})
    arrays, attrs = _viability(values, [[], [3], [5, 2]])
    is_train = FAMILY.probe(values)["is_train"].numpy().astype(bool)  # the probe's split
    answers = {"answer": [], "a": [], "b": []}
    for a in range(11):
        for b in range(11):
            if is_train[a * 11 + b]:
                answers["answer"].append((a + b) % 11)
                answers["a"].append(a)
                answers["b"].append(b)
    for i, role in enumerate(attrs["roles"]):
        x = np.array(answers[role])
        for j, k in enumerate(range(1, 6)):
            f = _features(11, k, x)
            want = np.linalg.cond(f.T @ f / len(x))
            assert arrays["condition"][i, j] == pytest.approx(want, rel=1e-5)
    assert attrs["n_train"] == int(is_train.sum()) == 36
    assert (attrs["key_frequencies"], attrs["key_epoch"]) == ([2, 5], 9)
    np.testing.assert_allclose(arrays["key_drop"], _brute_drops(11, [2, 5]), rtol=1e-6)
    np.testing.assert_allclose(arrays["key_separation"], _distances(11, [2, 5])[0, 1:6],
                               rtol=1e-6)
    assert attrs["best_set"] == viability.best_set(11, 2)
    np.testing.assert_allclose(arrays["best_drop"], _brute_drops(11, attrs["best_set"]),
                               rtol=1e-6)
    assert attrs["min_separation"] == pytest.approx(_brute_separation(11, [2, 5]))
    assert attrs["gap"] == pytest.approx(_brute_best(11, 2) - _brute_separation(11, [2, 5]))
    assert attrs["aliased_pairs"] == 0 and attrs["phase_bins"] == viability.PHASE_BINS


def test_frequency_viability_without_key_frequencies():
    arrays, attrs = _viability(FAMILY.resolve({"p": 11}), [[4], [3], []])
    assert arrays["key_drop"].shape == arrays["best_drop"].shape == (0,)
    assert attrs["min_separation"] == attrs["best_separation"] == attrs["gap"] == 0.0
    assert attrs["aliased_pairs"] == 55 and attrs["best_set"] == []
    assert (arrays["key_separation"] == 0).all()
    lines = viability_lines(Artifact(viability.frequency_viability.schema, None, arrays, attrs))
    assert lines[0].startswith("no key frequencies at epoch 9")


# --- class_accuracy -------------------------------------------------------------------------


def _traces(p: int, epochs, seed: int = 0) -> list[Artifact]:
    """Pairs that become right at a random checkpoint, some of them lapsing once after."""
    rng = np.random.default_rng(seed)
    n = len(epochs)
    learn = rng.integers(0, n + 1, (p, p))  # n: never right at the end
    lapse = rng.integers(0, n, (p, p))
    lapses = rng.random((p, p)) < 0.3
    out = []
    for i, epoch in enumerate(epochs):
        correct = (learn <= i) & ~(lapses & (lapse == i))
        out.append(Artifact(TRACE, epoch, {"correct": correct.astype(np.uint8),
                                           "confidence": np.zeros((p, p), np.float16)},
                            {"accuracy": 0.0, "train_accuracy": 0.0, "test_accuracy": 0.0}))
    return out


def _loop(values, traces, epochs) -> dict:
    """Every class_accuracy array by direct loops over the pairs."""
    p = values["p"]
    is_train = FAMILY.probe(values)["is_train"].numpy().astype(bool).reshape(p, p)
    n = len(epochs)
    right = np.zeros((2, n, p))
    count = np.zeros((2, p))
    grads: dict[int, list[float]] = {c: [] for c in range(p)}
    for a in range(p):
        for b in range(p):
            c, split = (a + b) % p, int(is_train[a, b])  # 0 test, 1 train
            count[split, c] += 1
            trace = [bool(t["correct"][a, b]) for t in traces]
            for i in range(n):
                right[split, i, c] += trace[i]
            if split == 0:  # graduation: after the last wrong checkpoint, if right at the end
                wrong = [i for i in range(n) if not trace[i]]
                grads[c].append(math.inf if not trace[-1] else
                                epochs[wrong[-1] + 1] if wrong else epochs[0])
    with np.errstate(invalid="ignore"):
        acc = right / count[:, None, :]
    quartiles = np.full((p, 3), -1)
    for c in range(p):
        g = sorted(grads[c])  # never = inf, last
        for j, q in enumerate((0.25, 0.5, 0.75)):
            needed = max(1, math.ceil(q * len(g)))
            if g and g[needed - 1] < math.inf:
                quartiles[c, j] = g[needed - 1]
    finite = {c: [x for x in grads[c] if x < math.inf] for c in range(p)}
    return {"test_accuracy": acc[0], "train_accuracy": acc[1], "n_test": count[0],
            "n_train": count[1], "graduation_quartiles": quartiles,
            "first_graduation": [min(finite[c], default=-1) for c in range(p)],
            "last_graduation": [max(finite[c], default=-1) for c in range(p)],
            "never_graduated": [sum(x == math.inf for x in grads[c]) for c in range(p)]}


def _class_accuracy(values, epochs, seed: int = 0):
    traces = _traces(values["p"], epochs, seed)
    inputs = CrossEpochInputs(values, np.asarray(epochs, np.int64),
                              {"prediction_trace": traces}, {})
    return classes.class_accuracy.run(inputs), traces


@pytest.mark.parametrize(("given", "seed"), [({"p": 11}, 0), ({"p": 13}, 1),
                                             ({"p": 11, "train_fraction": 0.95}, 2)])
def test_class_accuracy_matches_a_direct_loop(given, seed):
    values, epochs = FAMILY.resolve(given), [0, 10, 25, 40, 70, 100]
    (arrays, attrs), traces = _class_accuracy(values, epochs, seed)
    want = _loop(values, traces, epochs)
    for name, value in want.items():
        np.testing.assert_allclose(arrays[name], value, rtol=1e-6, err_msg=name)
    np.testing.assert_array_equal(arrays["epochs"], epochs)
    final = want["test_accuracy"][-1]
    known = [c for c in range(values["p"]) if not np.isnan(final[c])]
    weakest = min(known, key=lambda c: (final[c], c))
    assert (attrs["weakest_class"], attrs["quartiles"]) == (weakest, [0.25, 0.5, 0.75])
    assert attrs["weakest_accuracy"] == pytest.approx(final[weakest])
    q = want["graduation_quartiles"]
    both = (q[:, 0] >= 0) & (q[:, 2] >= 0)
    assert attrs["median_iqr"] == (float(np.median(q[both, 2] - q[both, 0])) if both.any()
                                   else None)
    if given.get("train_fraction") == 0.95:  # 6 test pairs: most classes have none
        assert np.isnan(arrays["test_accuracy"]).any()
        assert ((arrays["n_test"] == 0) <= (arrays["graduation_quartiles"] == -1).all(1)).all()


def test_the_artifacts_are_small_at_p_113():
    epochs = list(range(0, 9500, 100))  # 95 checkpoints
    values = FAMILY.resolve({})
    (arrays, attrs), _ = _class_accuracy(values, epochs)
    size = len(array_bytes(arrays, {"attrs": json.dumps(attrs)}))
    assert size < 100_000  # 2 x 95 x 113 x 4 B of accuracies = 85,880 B
    arrays, attrs = _viability(values, [[14, 35, 41, 42, 52]] * 3)
    assert len(array_bytes(arrays, {"attrs": json.dumps(attrs)})) < 4_000


# --- views ------------------------------------------------------------------------------------


def _context(values, epochs, artifacts, epoch=None) -> ViewContext:
    return ViewContext("v", values, epochs[-1] if epoch is None else epoch, tuple(epochs),
                       lambda name, e: artifacts[name], lambda: {}, transition=(40, 0.9))


@pytest.fixture
def planted():
    values, epochs = FAMILY.resolve({"p": 11}), [0, 10, 20, 30, 40, 50]
    (arrays, attrs), _ = _class_accuracy(values, epochs)
    varrays, vattrs = _viability(values, [[], [2], [2, 5]])
    artifacts = {"class_accuracy": Artifact(classes.class_accuracy.schema, None, arrays, attrs),
                 "frequency_viability": Artifact(viability.frequency_viability.schema, None,
                                                 varrays, vattrs)}
    return _context(values, epochs, artifacts, epoch=20), artifacts


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_each_view_builds_from_its_artifact(view, planted):
    ctx, _ = planted
    assert view.scope == "summary" and len(view.reads) == 1
    fig = view.figure(ctx)
    assert isinstance(fig, Plot)
    assert json_item(fig)["doc"]["roots"]  # a valid Bokeh document


def test_the_viability_view_marks_the_sets_and_prints_the_numbers(planted):
    ctx, artifacts = planted
    art = artifacts["frequency_viability"]
    columns = FREQUENCY_VIABILITY.data(ctx)
    bars = columns["bars"]
    np.testing.assert_allclose(bars["inverse_condition"], 1 / art["condition"][0])
    assert np.flatnonzero(~np.isnan(bars["key"])).tolist() == [1, 4]  # k = 2 and 5
    assert (np.flatnonzero(~np.isnan(bars["best"])) + 1).tolist() == art.attrs["best_set"]
    text = columns["text"]["text"]
    assert text[0].startswith("learned {2, 5} (epoch 9)")
    assert f"{art.attrs['min_separation']:.2f}" in text[0]
    assert f"{art['key_drop'][1]:.2f}" in text[1]
    assert f"gap {art.attrs['gap']:+.2f}" in text[2]
    assert text[3].startswith("least 1/condition, phase entropy: answer")
    fig = FREQUENCY_VIABILITY.figure(ctx)
    assert len(fig.select(type=LabelSet)) == 1
    assert FREQUENCY_VIABILITY.group == "Fourier"


def test_the_class_views_share_the_epoch_axis_and_follow_the_checkpoint(planted):
    ctx, artifacts = planted
    art = artifacts["class_accuracy"]
    grid = CLASS_ACCURACY.data(ctx)["grid"]
    assert grid["dw"] == [50] and grid["dh"] == [11]
    # evenly spaced checkpoints: one column each, nearest to its centre
    np.testing.assert_array_equal(grid["image"][0], art["test_accuracy"].T)
    for view in (CLASS_ACCURACY, CLASS_GRADUATION):
        sources = view.sources(ctx)
        fig = view.build(sources, ctx)
        spans = [r for r in fig.renderers if isinstance(r.glyph, VSpan)]
        assert {r.data_source.data["x"][0] for r in spans} == {20, 40}  # current, turn
        assert view.epoch_data(ctx.at(30)) == {"current": {"x": [30]}}
    spread = CLASS_GRADUATION.data(ctx)["spread"]
    q = art["graduation_quartiles"]
    np.testing.assert_array_equal(spread["median"], np.where(q[:, 1] >= 0, q[:, 1], np.nan))
    never = art["last_graduation"] < 0
    assert np.isnan(spread["last"][never]).all() and not np.isnan(spread["last"][~never]).any()
    epochs, weakest = CLASS_ACCURACY.trace.values(ctx)
    assert epochs == [0, 10, 20, 30, 40, 50]
    np.testing.assert_allclose(weakest, [np.nanmin(row) for row in art["test_accuracy"]])


def test_epoch_image_shows_the_nearest_checkpoint():
    epochs = np.array([5, 10, 30, 100])
    values = np.arange(8, dtype=np.float64).reshape(2, 4)  # (row, checkpoint)
    image, span = epoch_image(values, epochs)
    assert span == 100 and image.shape == (2, 100 // 5 + 1)
    for j in range(image.shape[1]):
        centre = (j + 0.5) * span / image.shape[1]
        if centre < epochs[0]:
            assert np.isnan(image[:, j]).all()
        else:
            np.testing.assert_array_equal(image[:, j],
                                          values[:, np.argmin(np.abs(epochs - centre))])
