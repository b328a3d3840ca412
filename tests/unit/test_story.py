"""A variant's story (issue 20, part 9): phase windows and a failure-mode label read from
planted training curves whose every epoch the test chooses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tdw.family.analyzer import CrossEpochInputs
from tdw.library.story import LABELS, PHASES, make_story, story_lines, tell
from tdw.library.transition import detect_transition

N = 1000
EPOCHS = np.arange(N + 1)


def ramp(start: int, stop: int, low: float = 0.01, high: float = 1.0) -> np.ndarray:
    """Accuracy ``low`` until ``start``, rising linearly to ``high`` at ``stop``."""
    return low + (high - low) * np.clip((EPOCHS - start) / (stop - start), 0, 1)


def metrics(test_acc: np.ndarray, *, memorise_at: int = 100, fall: tuple[int, int] | None
            = (300, 500)) -> dict[str, np.ndarray]:
    """Train accuracy reaching 99% at ``memorise_at``; a test loss flat at 1 that falls 5
    decades linearly (in log) over ``fall``, or stays flat."""
    train_acc = np.minimum(EPOCHS / memorise_at * 0.99, 1.0)
    if fall is None:
        log_loss = np.zeros(N + 1)
    else:
        log_loss = -5 * np.clip((EPOCHS - fall[0]) / (fall[1] - fall[0]), 0, 1)
    return {"train_acc": train_acc, "test_acc": test_acc, "test_loss": 10.0 ** log_loss,
            "train_loss": np.full(N + 1, 1e-3)}


def test_a_healthy_run_has_four_windows_that_share_their_bounds():
    story = tell(metrics(ramp(300, 500)))
    assert story.label == "healthy"
    generalised = int(np.argmax(ramp(300, 500) >= 0.95))  # the test's own count: 490
    assert story.memorised_epoch == 100 and story.generalised_epoch == generalised
    first, plateau, cascade, second = (story.windows[p] for p in PHASES)
    assert first == (0, 100)
    assert plateau[0] == 100 and cascade[0] == plateau[1] == story.transition_epoch
    assert 280 <= story.transition_epoch <= 310  # turns at 300, smoothed by sigma = 10 epochs
    assert cascade[1] == second[0] == generalised
    assert 490 <= second[1] <= N  # the smoothed log loss is lowest once it has fallen
    assert "95.0% at epoch 490" in story.reasons[0]


def test_late_degraded_and_recovered_runs_are_told_apart():
    late = tell(metrics(ramp(700, 850), fall=(700, 850)))
    assert late.label == "late" and late.generalised_epoch > 0.75 * N
    assert any("little of it is left" in r for r in late.reasons)

    acc = ramp(300, 500)
    acc[600:650] = 0.5  # falls below 90% at 600, back by 650
    recovered = tell(metrics(acc))
    assert recovered.label == "degraded and recovered"
    assert any("falls below 90.0% at epoch 600" in r for r in recovered.reasons)
    assert any("back at 95.0% from epoch 650" in r for r in recovered.reasons)

    acc = ramp(300, 500)
    acc[800:] = 0.6
    degraded = tell(metrics(acc))
    assert degraded.label == "degraded" and degraded.final_test_acc == pytest.approx(0.6)

    acc = ramp(300, 500)
    acc[600:620] = 0.92  # between 90% and 95%: noise, not a fall
    assert tell(metrics(acc)).label == "healthy"


def test_a_run_that_never_generalises_says_why_and_whether_it_is_still_rising():
    flat = tell(metrics(np.full(N + 1, 0.3), fall=None))
    assert flat.label == "no grokking"
    assert flat.windows["cascade"] is None and flat.windows["second descent"] is None
    assert flat.windows["plateau"] == (100, N)  # never turns: on the plateau to the end
    assert any("shows no transition" in r for r in flat.reasons)
    assert not any("may yet generalise" in r for r in flat.reasons)

    rising = tell(metrics(ramp(700, 1400, high=0.99), fall=None))  # 43% at the end
    assert rising.label == "no grokking"
    assert any("may yet generalise" in r for r in rising.reasons)


def test_the_windows_follow_one_another_even_when_the_events_do_not():
    # the test loss turns (300) before the training set is memorised (400): no plateau,
    # and the cascade starts at memorisation instead of overlapping the first descent
    early = tell(metrics(ramp(300, 500), memorise_at=400))
    assert early.windows["first descent"] == (0, 400) and early.windows["plateau"] is None
    assert early.windows["cascade"] == (400, 490)
    # never memorised: the whole run is its first descent
    never = tell({**metrics(ramp(300, 500)), "train_acc": np.full(N + 1, 0.5)})
    assert never.windows == {"first descent": (0, N), "plateau": None, "cascade": None,
                             "second descent": None}
    rng = np.random.default_rng(0)
    for _ in range(50):  # whatever the order of the events, the windows never overlap
        a, b = sorted(rng.integers(10, 900, 2))
        story = tell(metrics(ramp(a, b + 5), memorise_at=int(rng.integers(5, 900)),
                             fall=(int(rng.integers(5, 800)), 900)))
        shown = [w for w in story.windows.values() if w is not None]
        assert all(w[0] < w[1] for w in shown)
        assert all(x[1] <= y[0] for x, y in zip(shown, shown[1:], strict=False))


def test_an_unfinished_run_is_told_as_far_as_it_went():
    data = metrics(ramp(300, 500))
    for name in ("train_acc", "test_acc", "test_loss"):
        data[name] = np.where(EPOCHS > 700, np.nan, data[name])
    story = tell(data, n_epochs=N)
    assert story.last_epoch == 700 and story.label == "healthy"
    assert story.reasons[-1] == f"the run is unfinished: 700 of {N:,} epochs"
    # stopped at 520 of 1,000 just after generalising at 490: not late, and the turn is the
    # one grokking_transition finds in the whole record
    cut = metrics(ramp(300, 500))
    for name in ("train_acc", "test_acc", "test_loss"):
        cut[name] = np.where(EPOCHS > 520, np.nan, cut[name])
    story = tell(cut, n_epochs=N)
    assert story.label == "healthy" and "49.0% of the run" in story.reasons[0]
    assert story.transition_epoch == detect_transition(cut["test_loss"]).transition_epoch
    with pytest.raises(ValueError, match="train the variant first"):
        tell({k: np.full(3, np.nan) for k in data})


def test_the_analyzer_stores_the_windows_and_asks_the_family_for_the_rest():
    analyzer = make_story(lambda inputs: {"extra": len(inputs.epochs)},
                          extra_attrs=(dataclasses.replace(
                              make_story().attrs[0], name="extra", type="int"),))
    inputs = CrossEpochInputs(values={"n_epochs": N}, epochs=np.array([0, 500, N]),
                              artifacts={}, metrics=metrics(ramp(300, 500)))
    arrays, attrs = analyzer.run(inputs)
    expected = tell(inputs.metrics, N)
    assert arrays["bounds"].tolist() == [list(expected.windows[p]) for p in PHASES]
    assert attrs["label"] == "healthy" and attrs["extra"] == 3
    assert attrs["label"] in LABELS
    with pytest.raises(ValueError, match="imported checkpoint series"):
        analyzer.run(dataclasses.replace(inputs, metrics={}))


def test_story_lines_name_the_windows_reasons_and_first_mover():
    story = tell(metrics(ramp(300, 500)))
    told = {"label": story.label, "reasons": list(story.reasons), "windows": story.windows,
            "first_mover": 11, "first_mover_epoch": 120, "first_mover_is_key": False}
    lines = story_lines(told)
    assert lines[0].startswith("healthy: first descent 0-100 · plateau 100-")
    assert lines[1:-1] == list(story.reasons)
    assert lines[-1] == ("first mover: frequency 11 at epoch 120 (not a key frequency at the "
                         "end: a false start)")
    assert story_lines({**told, "first_mover": None})[-1].startswith("no first mover")


def test_the_story_view_shades_each_window_behind_the_loss_curves():
    from bokeh.embed import json_item
    from bokeh.models import ColumnDataSource

    from tdw.family.artifacts import Artifact
    from tdw.family.views import ViewContext
    from tdw.library.story_views import PHASE_COLOURS, STORY

    analyzer = make_story()
    data = metrics(ramp(300, 500))
    inputs = CrossEpochInputs(values={}, epochs=np.array([0, 500, N]), artifacts={},
                              metrics=data)
    arrays, attrs = analyzer.run(inputs)
    artifact = Artifact(analyzer.schema, None, arrays, attrs)
    ctx = ViewContext("v", {}, 500, (0, 500, N), lambda name, epoch: artifact, lambda: data)
    columns = STORY.data(ctx)
    expected = tell(data)
    assert columns["phases"] == {
        "first": [expected.windows[p][0] for p in PHASES],
        "last": [expected.windows[p][1] for p in PHASES], "phase": list(PHASES),
        "color": [PHASE_COLOURS[p] for p in PHASES]}
    fig = STORY.build({k: ColumnDataSource(v) for k, v in columns.items()}, ctx)
    assert "healthy" in fig.title.text
    json_item(fig)  # serialisable: the page can draw it

    flat = metrics(np.full(N + 1, 0.3), fall=None)  # never turns: no cascade, no second descent
    arrays, attrs = analyzer.run(dataclasses.replace(inputs, metrics=flat))
    artifact = Artifact(analyzer.schema, None, arrays, attrs)
    assert STORY.data(ctx)["phases"]["phase"] == ["first descent", "plateau"]
