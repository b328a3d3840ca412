from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdw.errors import ScheduleError
from tdw.family.schedule import parse_schedule, schedule_from_epochs


def test_canonical_grokking_schedule():
    spec = "0-1500/100,1500-9000/500,9000-13000/100,13000-25000/500,end"
    epochs = parse_schedule(spec, 25_000).epochs
    assert epochs[:3] == (0, 100, 200)
    assert 9100 in epochs and 9050 not in epochs
    assert epochs[-1] == 25_000
    assert list(epochs) == sorted(set(epochs))


def test_dense_window_inside_a_coarse_range_is_a_union():
    epochs = parse_schedule("0-100/50,40-60/10", 100).epochs
    assert epochs == (0, 40, 50, 60, 100)


def test_log_spacing_is_rounded_and_deduplicated():
    epochs = parse_schedule("log:1-10000/5", 10_000).epochs
    assert epochs == (1, 10, 100, 1000, 10_000)
    assert len(parse_schedule("log:1-10/50", 10).epochs) == 10  # collapses to 1..10


@pytest.mark.parametrize("spec, n, message", [
    ("0,100,200", 150, "past the end"),
    ("0-2000/100", 1500, "past the end"),
    ("0,50,20", 100, "must increase"),
    ("-5", 100, "negative"),
    ("0-100/0", 100, "step > 0"),
    ("100-0/10", 100, "start <= stop"),
    ("log:0-100/5", 100, "1 <= start"),
    ("every 10", 100, "cannot parse"),
    ("0,,10", 100, "empty segment"),
    ("", 100, "empty"),
    ("0,10", 0, "at least one epoch"),
    ("adaptive:0-100", 100, "cannot parse adaptive segment"),
    ("adaptive:0-100/5/2", 100, "cannot parse adaptive segment"),
    ("adaptive:Test_Loss:0-100/5", 100, "cannot parse adaptive segment"),
    ("adaptive:accuracy:0-100/5", 100, "unknown signal"),
    ("adaptive:50-10/5", 100, "start <= stop"),
    ("adaptive:0-100/0", 100, "budget >= 1"),
    ("adaptive:0-200/5", 100, "past the end"),
    ("0-10/1,adaptive:0-10/1", 10, "exceeds the 0 epochs"),
    ("adaptive:0-50/5,adaptive:60-90/5", 100, "two adaptive segments"),
])
def test_bad_schedules_are_errors_never_dropped(spec, n, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(spec, n)


def test_python_lists_are_validated_like_text():
    assert schedule_from_epochs([0, 5, 10], 10).epochs == (0, 5, 10)
    with pytest.raises(ScheduleError, match="negative"):
        schedule_from_epochs([0, -1], 10)
    with pytest.raises(ScheduleError, match="integers"):
        schedule_from_epochs([0, 1.5], 10)


@given(st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=40, unique=True))
def test_increasing_lists_round_trip(epochs):
    epochs = sorted(epochs)
    assert parse_schedule(",".join(map(str, epochs)), 5000).epochs == tuple(epochs)


@given(st.integers(0, 300), st.integers(0, 300), st.integers(1, 50), st.integers(1, 400))
def test_ranges_stay_inside_the_run_or_raise(start, stop, step, n):
    spec = f"{start}-{stop}/{step}"
    try:
        epochs = parse_schedule(spec, n).epochs
    except ScheduleError:
        assert start > stop or stop >= start and max(range(start, stop + 1, step)) > n
        return
    assert all(0 <= e <= n for e in epochs)
    assert epochs == tuple(range(start, stop + 1, step))


def test_an_adaptive_segment_is_a_budget_beside_the_fixed_epochs():
    sched = parse_schedule("0-100/50,adaptive:10-90/20", 100)
    assert sched.epochs == (0, 50, 100)
    assert (sched.adaptive.signal, sched.adaptive.start, sched.adaptive.stop,
            sched.adaptive.budget) == ("test_loss", 10, 90, 20)
    assert sched.max_checkpoints == 23
    assert "plus up to 20 adaptive" in sched.describe()
    assert parse_schedule("adaptive:train_acc:0-100/5", 100).adaptive.signal == "train_acc"
    only = parse_schedule("adaptive:0-100/5", 100)
    assert only.epochs == () and only.max_checkpoints == 6  # the final epoch is always saved
    assert parse_schedule("0-100/50", 100).adaptive is None


def test_a_budget_may_fill_every_free_epoch_of_its_window():
    assert parse_schedule("0-10/5,adaptive:0-10/8", 10).max_checkpoints == 11
