"""Typed artifacts: what an analyzer declares it produces, checked on every write.

An analyzer declares an :class:`ArtifactSchema`: named arrays with a dtype and named
dimensions, and scalar attributes with a type. The store refuses an artifact that
differs from its declaration (a missing or extra name, a wrong dtype or rank, or one
dimension name bound to two sizes), so a view can rely on what it reads.

>>> schema = ArtifactSchema("freqs", 1, arrays=(ArraySpec("norm", "float32", ("freq",)),),
...                         attrs=(AttrSpec("top", "int"),))
>>> import numpy as np
>>> schema.validate({"norm": np.zeros(5, np.float32)}, {"top": 3})
>>> schema.validate({"norm": np.zeros(5, np.float64)}, {"top": 3})
Traceback (most recent call last):
...
tdw.errors.SchemaError: artifact freqs@1: array 'norm' has dtype float64, declared float32
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tdw.errors import SchemaError

__all__ = ["ArraySpec", "AttrSpec", "ArtifactSchema", "Artifact"]

_DTYPES = frozenset({"float16", "float32", "float64", "int8", "int16", "int32", "int64",
                     "uint8", "bool"})
_ATTR_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (float, int), "str": (str,), "bool": (bool,),
    "json": (list, dict, int, float, str, bool, type(None)),
}


@dataclass(frozen=True)
class ArraySpec:
    """One named array of an artifact.

    Attributes:
        name: key in the artifact file.
        dtype: numpy dtype name, e.g. ``"float32"``.
        dims: one name per axis, e.g. ``("neuron", "freq")``; equal names must have equal sizes.
        description: what the array holds, shown by ``tdw views`` and in docs.
    """

    name: str
    dtype: str
    dims: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ValueError(f"ArraySpec {self.name}: dtype must be one of {sorted(_DTYPES)}")


@dataclass(frozen=True)
class AttrSpec:
    """One scalar (or small JSON) attribute of an artifact."""

    name: str
    type: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in _ATTR_TYPES:
            raise ValueError(f"AttrSpec {self.name}: type must be one of {sorted(_ATTR_TYPES)}")


@dataclass(frozen=True)
class ArtifactSchema:
    """The declared output of one analyzer at one version."""

    analyzer: str
    version: int
    arrays: tuple[ArraySpec, ...] = ()
    attrs: tuple[AttrSpec, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.analyzer}@{self.version}"

    def validate(self, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]) -> None:
        """Raise :class:`SchemaError` unless ``arrays`` and ``attrs`` match the declaration."""
        where = f"artifact {self.key}"
        self._same_names("array", [a.name for a in self.arrays], arrays, where)
        self._same_names("attribute", [a.name for a in self.attrs], attrs, where)
        sizes: dict[str, tuple[int, str]] = {}
        for spec in self.arrays:
            value = arrays[spec.name]
            if not isinstance(value, np.ndarray):
                raise SchemaError(f"{where}: array {spec.name!r} is a {type(value).__name__}, "
                                  "not a numpy array")
            if value.dtype.name != spec.dtype:
                raise SchemaError(f"{where}: array {spec.name!r} has dtype {value.dtype.name}, "
                                  f"declared {spec.dtype}")
            if value.ndim != len(spec.dims):
                raise SchemaError(f"{where}: array {spec.name!r} has shape {value.shape}, "
                                  f"declared dims {spec.dims}")
            for dim, size in zip(spec.dims, value.shape, strict=True):
                if dim in sizes and sizes[dim][0] != size:
                    raise SchemaError(
                        f"{where}: dimension {dim!r} is {size} in {spec.name!r} but "
                        f"{sizes[dim][0]} in {sizes[dim][1]!r}")
                sizes.setdefault(dim, (size, spec.name))
        for spec in self.attrs:
            value = attrs[spec.name]
            ok = isinstance(value, _ATTR_TYPES[spec.type])
            if spec.type in ("int", "float") and isinstance(value, bool):
                ok = False
            if not ok:
                raise SchemaError(f"{where}: attribute {spec.name!r} = {value!r} is not a "
                                  f"{spec.type}")
            if spec.type == "json":
                try:
                    json.dumps(value, allow_nan=False)
                except (TypeError, ValueError) as exc:
                    raise SchemaError(f"{where}: attribute {spec.name!r} is not JSON: {exc}") \
                        from None

    @staticmethod
    def _same_names(kind: str, declared: list[str], given: Mapping[str, Any], where: str) -> None:
        missing = [n for n in declared if n not in given]
        extra = [n for n in given if n not in declared]
        if missing or extra:
            raise SchemaError(f"{where}: {kind}s differ from the declaration "
                              f"(missing {missing}, undeclared {extra})")


@dataclass(frozen=True)
class Artifact:
    """An analyzer's output for one checkpoint (``epoch``) or across epochs (``epoch=None``).

    Attributes:
        schema: the declaration it was validated against.
        epoch: the checkpoint epoch, or None for a cross-epoch artifact.
        arrays: named numpy arrays.
        attrs: named scalars.
        probe_sha256: hash of the probe it was computed on.
        checkpoint_sha256: hash of the checkpoint (or of the checkpoint set) it read.
    """

    schema: ArtifactSchema
    epoch: int | None
    arrays: Mapping[str, np.ndarray]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    probe_sha256: str = ""
    checkpoint_sha256: str = ""

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]
