"""Property-based tests (hypothesis) of what users type: parameters, schedules, and the
variant ids derived from parameter values.

Each property says what *any* input does: it parses to a value that keeps the declared
promises, or it raises the library's own error; never another exception, never a hang.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tdw.errors import ParameterError, ScheduleError, TdwError
from tdw.family.family import Family, TrainConfig, variant_id
from tdw.family.params import Param, resolve
from tdw.family.registry import families
from tdw.family.schedule import parse_schedule

# Many examples and no per-example deadline: the machine is shared, and timings vary. Every
# example here runs in milliseconds; an input that hung (as a huge schedule range once did)
# would stop the run rather than pass.
PROPERTY = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# -------------------------------------------------------------------- params
SYNTHETIC = (
    Param("count", "int", 3, "an int in a range", minimum=-5, maximum=10**6),
    Param("rate", "float", 0.5, "a float in a range", minimum=0.0, maximum=1.0),
    Param("free", "float", 0.0, "any finite float"),
    Param("flag", "bool", False, "a switch"),
    Param("mode", "str", "a", "a choice", choices=("a", "b", "c")),
    Param("name", "str", "x", "any text"),
    Param("even", "int", 2, "an even int", check=lambda v: None if v % 2 == 0 else "odd"),
)
ALL_PARAMS = [*SYNTHETIC, *(p for fam in families().values() for p in fam.params)]

numeric_text = st.from_regex(r"\A\s?[-+]?(\d{1,25}|\d*\.\d*)([eE][-+]?\d{1,4})?_?\s?\Z")
raw_values = st.one_of(
    st.text(max_size=30), numeric_text, st.integers(min_value=-10**400, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.sampled_from(["true", "No", "ON", "inf", "-nan", "1_000", "0x10", "1e3", "٣", " 7 "]),
    st.lists(st.integers(), max_size=2), st.complex_numbers(max_magnitude=10),
)
_KINDS = {"int": int, "float": float, "bool": bool, "str": str}


def _assert_declared(p: Param, value) -> None:
    assert type(value) is _KINDS[p.type]
    if p.type == "float":
        assert math.isfinite(value)
    if p.minimum is not None:
        assert value >= p.minimum
    if p.maximum is not None:
        assert value <= p.maximum
    if p.choices:
        assert value in p.choices
    if p.check is not None:
        assert p.check(value) is None


@settings(PROPERTY, max_examples=1000)  # about a quarter of the inputs parse
@given(st.sampled_from(ALL_PARAMS), raw_values)
def test_any_input_parses_in_range_and_round_trips_or_raises_parameter_error(p, raw):
    try:
        value = resolve((p,), {p.name: raw}, owner="family f")[p.name]
    except ParameterError as exc:
        assert repr(p.name) in str(exc)  # the message names the parameter
        event("refused")
        return
    event("parsed")
    _assert_declared(p, value)
    # what the CLI would write back (--set name=value) reads as the same value
    assert resolve((p,), {p.name: str(value)}, owner="family f")[p.name] == value


@PROPERTY
@given(st.sampled_from(ALL_PARAMS), st.text(max_size=12), raw_values)
def test_unknown_names_raise_the_library_error(p, name, raw):
    try:
        resolve((p,), {name: raw}, owner="family f")
    except TdwError:
        return
    assert name == p.name


# ----------------------------------------------------------------- schedules
@PROPERTY
@given(st.text(alphabet="0123456789-/,:logend ", max_size=40), st.integers(1, 10**5))
def test_any_schedule_text_gives_sorted_epochs_in_the_run_or_raises(spec, n_epochs):
    try:
        schedule = parse_schedule(spec, n_epochs)
    except ScheduleError:
        event("refused")
        return
    event("parsed")
    epochs = schedule.epochs
    assert epochs and list(epochs) == sorted(set(epochs))
    assert 0 <= epochs[0] and epochs[-1] <= n_epochs


big = st.integers(0, 10**30)  # typo-sized: must be refused at once, never listed
small = st.integers(0, 400)
number = st.one_of(small, small, small, small, big)
# (start, stop) with stop mostly a little after start, sometimes before it or far past
delta = st.integers(-20, 300)
span = st.tuples(number, st.one_of(delta, delta, delta, delta, big)).map(
    lambda t: (t[0], t[0] + t[1]))
segment = st.one_of(
    st.tuples(st.just("one"), number),
    st.builds(lambda ab, step: ("range", *ab, step), span, st.integers(-2, 60)),
    st.builds(lambda ab, count: ("log", *ab, count), span,
              st.one_of(st.integers(-1, 60), st.integers(-1, 60), big)),
    st.tuples(st.just("end")),
)


def _text(seg: tuple) -> str:
    kind, *v = seg
    return {"one": lambda: f"{v[0]}", "range": lambda: f"{v[0]}-{v[1]}/{v[2]}",
            "log": lambda: f"log:{v[0]}-{v[1]}/{v[2]}", "end": lambda: "end"}[kind]()


def _expected(segments: list[tuple], n: int) -> tuple[bool, set[int]]:
    """Whether the grammar accepts ``segments`` for a run of ``n`` epochs, and the epochs
    its explicit, range and end segments must produce (computed here independently)."""
    required: set[int] = set()
    explicit: list[int] = []
    for kind, *v in segments:
        if kind == "one":
            if explicit and v[0] <= explicit[-1] or v[0] > n:
                return False, set()
            explicit.append(v[0])
            required.add(v[0])
        elif kind == "range":
            start, stop, step = v
            if step <= 0 or start > stop:
                return False, set()
            last = start + (stop - start) // step * step
            if last > n:
                return False, set()
            required |= set(range(start, last + 1, step))
        elif kind == "log":
            start, stop, count = v
            if start < 1 or start > stop or count < 2 or stop > n:
                return False, set()
            required |= {start, stop}
        else:
            required.add(n)
    return True, required


@settings(PROPERTY, max_examples=1000)  # a fifth of the generated texts are valid
@given(st.lists(segment, min_size=1, max_size=4), st.one_of(st.integers(1, 1000), st.just(1000)))
def test_the_grammar_is_honoured_exactly(segments, n_epochs):
    spec = ",".join(_text(s) for s in segments)
    valid, required = _expected(segments, n_epochs)
    event("valid" if valid else "refused")
    if not valid:
        with pytest.raises(ScheduleError):
            parse_schedule(spec, n_epochs)
        return
    epochs = parse_schedule(spec, n_epochs).epochs
    assert list(epochs) == sorted(set(epochs)) and epochs[-1] <= n_epochs
    assert required <= set(epochs)
    # anything beyond the required epochs comes from a log segment's interval, and a log
    # segment adds at most `count` epochs
    logs = [(a, b, c) for kind, *rest in segments if kind == "log" for a, b, c in [rest]]
    extra = set(epochs) - required
    assert all(any(a <= e <= b for a, b, _ in logs) for e in extra)
    assert len(extra) <= sum(min(c, b - a + 1) for a, b, c in logs)


# --------------------------------------------------------------- variant ids
def _family(params: tuple[Param, ...]) -> Family:
    return Family(name="fam", title="F", description="", params=params,
                  model_config=lambda v: None, dataset=lambda v: None, probe=lambda v: {},
                  train_config=lambda v: TrainConfig(1, 1e-3, 0.0),
                  default_schedule=lambda v: "end")


IDENTITY = _family((
    Param("label", "str", "x", "any text", identity=True, short="l"),
    Param("seed", "int", 0, "any integer", identity=True, short="s"),
    Param("scale", "float", 1.0, "any float", identity=True, short="f"),
    Param("on", "bool", False, "a switch", identity=True, short="b"),
    Param("tuned", "str", "", "not part of the name"),
))
identity_values = st.fixed_dictionaries({
    "label": st.one_of(st.text(), st.sampled_from(["..", ".", "/", "../../etc", "a/../../x",
                                                   "/etc/passwd", "nul\x00byte", "é" * 200])),
    "seed": st.integers(-10**80, 10**80),
    "scale": st.floats(allow_nan=False, allow_infinity=False),
    "on": st.booleans(),
    "tuned": st.text(max_size=5),
})
_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@PROPERTY
@given(identity_values)
def test_any_parameter_value_gives_a_path_safe_id_inside_the_store(values):
    vid = variant_id(IDENTITY, values)
    family, slug = vid.split("/")
    assert family == "fam" and set(slug) <= _SAFE and slug not in (".", "..")
    assert len(slug.encode()) <= 160
    root = Path("/store")
    folder = (root / "variants" / family / slug).resolve()
    assert folder.parent == root / "variants" / family


@PROPERTY
@given(identity_values, identity_values)
def test_different_values_never_share_an_id(a, b):
    if variant_id(IDENTITY, a) == variant_id(IDENTITY, b):
        assert a == b
