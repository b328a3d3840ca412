"""Typed domain parameters of a family, and parsing of ``name=value`` assignments.

A family declares its parameters as :class:`Param` objects. Values from the CLI
(``--set p=113``), from a papermill template or from Python all pass through
:func:`resolve`, which converts types, applies validation and rejects unknown names
with the list of known ones; :meth:`tdw.family.family.Family.resolve` then applies the
family's ``check`` (constraints between parameters), so nothing unvalidated ever reaches a
training job.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tdw.errors import ParameterError, UnknownNameError

__all__ = ["Param", "resolve", "parse_assignments", "is_prime"]

_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One typed parameter of a family.

    Attributes:
        name: identifier used in ``--set name=value`` and in the template.
        type: one of ``"int"``, ``"float"``, ``"str"``, ``"bool"``.
        default: value used when the parameter is not given.
        description: one line shown by ``tdw families`` and in the dashboard form.
        minimum: inclusive lower bound for numbers, or None.
        maximum: inclusive upper bound for numbers, or None.
        choices: allowed values, or empty for any.
        check: extra validation returning an error message, or None when valid.
        identity: whether the parameter names the variant (seeds, modulus) rather than
            only tuning how it is trained; identity parameters appear in the variant id.
        short: abbreviation used in variant ids (defaults to the name).
    """

    name: str
    type: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)
    identity: bool = False
    short: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"Param {self.name}: type must be one of {sorted(_TYPES)}")
        self.validate(self.default)  # a family with an invalid default is a bug

    def convert(self, raw: Any) -> Any:
        """Convert ``raw`` (a string from the CLI, or a Python value) to this type."""
        kind = _TYPES[self.type]
        try:
            if self.type == "bool":
                if isinstance(raw, bool):
                    return raw
                text = str(raw).strip().lower()
                if text in _TRUE:
                    return True
                if text in _FALSE:
                    return False
                raise ValueError(raw)
            if self.type == "int":
                if isinstance(raw, bool):
                    raise ValueError(raw)
                if isinstance(raw, float):
                    if not raw.is_integer():
                        raise ValueError(raw)
                    return int(raw)
                return int(str(raw).strip().replace("_", ""))
            if self.type == "float":
                if isinstance(raw, bool):
                    raise ValueError(raw)
                value = float(str(raw).strip()) if isinstance(raw, str) else float(raw)
                if not math.isfinite(value):
                    raise ValueError(raw)
                return value
            return kind(raw)
        except (TypeError, ValueError, OverflowError):  # float(10**400) overflows
            raise ParameterError(
                f"parameter {self.name!r}: {raw!r} is not a valid {self.type} "
                f"({self.description}); e.g. --set {self.name}={self.default}"
            ) from None

    def validate(self, value: Any) -> Any:
        """Raise :class:`ParameterError` unless ``value`` satisfies the bounds and checks."""
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(
                f"parameter {self.name!r} = {value!r} is below the minimum {self.minimum}"
            )
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(
                f"parameter {self.name!r} = {value!r} is above the maximum {self.maximum}"
            )
        if self.choices and value not in self.choices:
            raise ParameterError(
                f"parameter {self.name!r} = {value!r} is not one of {list(self.choices)}"
            )
        if self.check is not None and (problem := self.check(value)):
            raise ParameterError(f"parameter {self.name!r} = {value!r}: {problem}")
        return value

    def describe_range(self) -> str:
        parts = []
        if self.choices:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.minimum is not None:
            parts.append(f">= {_bound(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"<= {_bound(self.maximum)}")
        return ", ".join(parts)


def _bound(value: float) -> str:
    """A bound as the user would type it: whole numbers in full (4294967295, not 4.29497e+09)."""
    return str(int(value)) if float(value).is_integer() else format(value, "g")


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """Parse ``["p=113", "model_seed=1"]`` into a dict of raw strings."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise ParameterError(f"cannot parse {item!r}: write NAME=VALUE, e.g. p=113")
        if name in out:
            raise ParameterError(f"parameter {name!r} is given twice ({out[name]!r}, {value!r})")
        out[name] = value.strip()
    return out


def resolve(params: tuple[Param, ...], given: Mapping[str, Any], *, owner: str) -> dict[str, Any]:
    """Return every parameter's value: the given ones converted and validated, the rest default.

    Raises:
        UnknownNameError: a given name is not a parameter of ``owner``.
        ParameterError: a value does not convert or validate.
    """
    by_name = {p.name: p for p in params}
    for name in given:
        if name not in by_name:
            raise UnknownNameError(f"parameter of {owner}", name, list(by_name))
    values: dict[str, Any] = {}
    for p in params:
        value = p.convert(given[p.name]) if p.name in given else p.default
        values[p.name] = p.validate(value)
    return values


def is_prime(n: int) -> bool:
    """Deterministic primality test for the moduli we train on.

    >>> [k for k in range(20) if is_prime(k)]
    [2, 3, 5, 7, 11, 13, 17, 19]
    """
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    return all(n % d for d in range(3, math.isqrt(n) + 1, 2))
