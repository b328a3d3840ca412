"""How the store turns tensors into file bytes and back, and refuses bytes it cannot trust.

Every file of a store is safetensors with one metadata key (``tdw``, sorted JSON), so equal
content gives equal bytes and equal hashes. Files the catalog indexes are read through
:func:`read_verified_bytes`, which checks them against the sha256 the catalog records; the
files it does not index seal their own hash (:mod:`tdw.store.sealed`). Only safetensors and
JSON are read: nothing is unpickled.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import safetensors.numpy

from tdw.errors import IntegrityError
from tdw.store.atomic import sha256_bytes

if TYPE_CHECKING:
    import torch

__all__ = ["FORMAT", "tensor_bytes", "array_bytes", "metadata", "data_section",
           "read_verified_bytes", "read_verified_tensors"]

FORMAT = "tdw/1"
"""The ``format`` every file's metadata names."""


def _header(meta: Mapping[str, str]) -> dict[str, str]:
    # safetensors keeps __metadata__ in a hash map, so several keys serialise in a random
    # order; one key holding sorted JSON makes equal content give equal bytes and hashes.
    return {"tdw": json.dumps(dict(meta), sort_keys=True)}


def tensor_bytes(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, str]) -> bytes:
    """Canonical safetensors bytes of torch tensors with metadata ``meta``."""
    import safetensors.torch
    return safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()}, _header(meta))


def array_bytes(arrays: Mapping[str, np.ndarray], meta: Mapping[str, str]) -> bytes:
    """Canonical safetensors bytes of numpy arrays with metadata ``meta``."""
    return safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                                  _header(meta))


def metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes already in memory (the format's 8-byte
    length prefix and JSON header), so metadata and tensors come from one verified read."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length]).get("__metadata__") or {}
    return json.loads(header.get("tdw", "{}"))


def data_section(data: bytes) -> bytes:
    """The tensor data of safetensors bytes: everything after the header."""
    (length,) = struct.unpack("<Q", data[:8])
    return data[8 + length:]


def read_verified_bytes(path: Path, sha256: str, *, what: str, fix: str) -> bytes:
    """The bytes of an indexed file, refused unless they hash to the recorded ``sha256``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(f"{what} is missing: {path} does not exist; {fix}") from None
    if sha256_bytes(data) != sha256:
        raise IntegrityError(f"{what} was changed on disk: {path} no longer matches its "
                             f"recorded sha256 {sha256[:16]}...; {fix}")
    return data


def read_verified_tensors(path: Path, sha256: str, *, what: str, fix: str
                          ) -> dict[str, torch.Tensor]:
    """The tensors of an indexed file, read through :func:`read_verified_bytes`."""
    import safetensors.torch
    return safetensors.torch.load(read_verified_bytes(path, sha256, what=what, fix=fix))
