"""The files of a variant the catalog does not index, each sealed with its own hash.

Metrics, the schedule record and the resume point are rewritten at every checkpoint, so
no catalog row vouches for them. Instead each carries, in its header, the sha256 of its
own tensor data (:func:`seal`); :func:`unseal` refuses a file whose data no longer match.
A flipped bit therefore never passes into a loss curve, a schedule plot or a resumed run.
:class:`tdw.store.store.Store` names the files; this module writes and reads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import safetensors.numpy

from tdw.errors import IntegrityError
from tdw.family.schedule import REASONS, ScheduleRecord
from tdw.store.atomic import atomic_write_bytes, sha256_bytes
from tdw.store.serialisation import FORMAT, array_bytes, data_section, metadata, tensor_bytes

if TYPE_CHECKING:
    import torch

__all__ = ["METRICS", "seal", "unseal", "write_metrics", "read_metrics",
           "write_schedule_record", "read_schedule_record", "write_resume", "read_resume"]

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
"""The per-epoch arrays of a metrics file."""


def seal(serialise: Callable[[Mapping[str, str]], bytes], meta: Mapping[str, str]) -> bytes:
    """Safetensors bytes whose metadata carries the sha256 of their own tensor data.

    The data section does not depend on the metadata, so the digest can sit in the header.
    """
    digest = sha256_bytes(data_section(serialise(meta)))
    return serialise({**meta, "data_sha256": digest})


def unseal(path: Path, fix: str) -> bytes:
    """The bytes of a :func:`seal`-ed file, refused if its data no longer match the seal."""
    try:
        data = path.read_bytes()
        expected = metadata(data).get("data_sha256")
    except FileNotFoundError:
        raise IntegrityError(f"{path} does not exist; {fix}") from None
    except Exception as exc:  # a mangled header: bad length or JSON
        raise IntegrityError(f"{path} is unreadable ({exc}); {fix}") from None
    if expected is not None and sha256_bytes(data_section(data)) != expected:
        raise IntegrityError(f"{path} was changed on disk: its data no longer match the sha256 "
                             f"recorded in its header ({expected[:16]}...); {fix}")
    return data


_REWRITE = "resume or retrain the variant to rewrite it"


def write_metrics(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    columns = {k: arrays[k] for k in METRICS}
    data = seal(lambda meta: array_bytes(columns, meta), {"format": FORMAT, "kind": "metrics"})
    atomic_write_bytes(path, data)


def read_metrics(path: Path) -> dict[str, np.ndarray]:
    data = unseal(path, _REWRITE)
    try:
        return safetensors.numpy.load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise IntegrityError(f"metrics file {path} is unreadable ({exc}); {_REWRITE}") from None


def write_schedule_record(path: Path, record: ScheduleRecord) -> None:
    arrays = {"epoch": np.asarray(record.epochs, dtype=np.int64),
              "reason": np.asarray([REASONS.index(r) for r in record.reasons], np.int8),
              "signal": np.asarray(record.signal, dtype=np.float64),
              "threshold": np.asarray(record.threshold, dtype=np.float64)}
    meta = {"format": FORMAT, "kind": "schedule", "spec": record.spec,
            "reasons": json.dumps(REASONS)}
    atomic_write_bytes(path, seal(lambda m: array_bytes(arrays, m), meta))


def read_schedule_record(path: Path) -> ScheduleRecord:
    data = unseal(path, _REWRITE)
    try:
        arrays, meta = safetensors.numpy.load(data), metadata(data)
        names = json.loads(meta["reasons"])
        return ScheduleRecord(meta["spec"], tuple(map(int, arrays["epoch"])),
                              tuple(names[i] for i in arrays["reason"]),
                              tuple(map(float, arrays["signal"])),
                              tuple(map(float, arrays["threshold"])))
    except Exception as exc:
        raise IntegrityError(f"schedule record {path} is unreadable ({exc}); {_REWRITE}"
                             ) from None


def write_resume(path: Path, tensors: Mapping[str, torch.Tensor],
                 meta: Mapping[str, str]) -> None:
    data = seal(lambda header: tensor_bytes(tensors, header),
                {"format": FORMAT, "kind": "resume", **meta})
    atomic_write_bytes(path, data)


def read_resume(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    import safetensors.torch
    fix = "retrain the variant with --force"
    data = unseal(path, fix)
    try:
        return safetensors.torch.load(data), metadata(data)
    except Exception as exc:
        raise IntegrityError(f"resume file {path} is unreadable ({exc}); {fix}") from None
