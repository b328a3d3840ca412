from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdw.errors import ParameterError, UnknownNameError
from tdw.family.params import Param, is_prime, parse_assignments, resolve

PARAMS = (
    Param("p", "int", 113, "modulus", minimum=3,
          check=lambda v: None if is_prime(v) else "not prime"),
    Param("lr", "float", 1e-3, "learning rate", minimum=0.0),
    Param("flag", "bool", False, "a switch"),
    Param("mode", "str", "a", "a choice", choices=("a", "b")),
)


def test_resolve_converts_strings_and_fills_defaults():
    values = resolve(PARAMS, {"p": "97", "lr": "3e-4", "flag": "yes"}, owner="f")
    assert values == {"p": 97, "lr": 3e-4, "flag": True, "mode": "a"}


@pytest.mark.parametrize("given, fragment", [
    ({"p": "ten"}, "'ten' is not a valid int"),
    ({"p": "8"}, "not prime"),
    ({"p": "2"}, "below the minimum"),
    ({"p": 7.5}, "not a valid int"),
    ({"p": True}, "not a valid int"),
    ({"lr": "nan"}, "not a valid float"),
    ({"lr": "-1"}, "below the minimum"),
    ({"flag": "maybe"}, "not a valid bool"),
    ({"mode": "c"}, "not one of"),
])
def test_bad_values_name_the_parameter_and_the_problem(given, fragment):
    with pytest.raises(ParameterError, match=fragment) as info:
        resolve(PARAMS, given, owner="f")
    assert repr(next(iter(given))) in str(info.value)


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as info:
        resolve(PARAMS, {"q": 1}, owner="family f")
    assert "'q'" in str(info.value)
    for name in ("p", "lr", "flag", "mode"):
        assert name in str(info.value)


@pytest.mark.parametrize("items, message", [
    (["p"], "NAME=VALUE"), (["=3"], "NAME=VALUE"), (["p="], "NAME=VALUE"),
    (["p=3", "p=5"], "given twice"),
])
def test_parse_assignments_rejects_malformed_items(items, message):
    with pytest.raises(ParameterError, match=message):
        parse_assignments(items)


def test_invalid_default_is_a_bug_caught_at_declaration():
    with pytest.raises(ParameterError):
        Param("p", "int", 8, "modulus", check=lambda v: None if is_prime(v) else "not prime")


@given(st.integers(min_value=-10**9, max_value=10**9))
def test_int_parsing_round_trips(value):
    param = Param("n", "int", 0, "any integer")
    assert param.convert(str(value)) == value


@given(st.text(max_size=12))
def test_int_parsing_never_raises_anything_but_parameter_error(text):
    param = Param("n", "int", 0, "any integer")
    try:
        assert isinstance(param.convert(text), int)
    except ParameterError:
        pass


def test_primes_match_a_sieve():
    sieve = [True] * 200
    sieve[0] = sieve[1] = False
    for i in range(2, 200):
        for j in range(i * i, 200, i):
            sieve[j] = False
    assert [n for n in range(200) if is_prime(n)] == [n for n in range(200) if sieve[n]]
