"""Stand-ins for a trained run, for fast tests of the docs' figures (``benchmarks/_docs_*``):
a variant holding only the artifacts, metrics and record fields a figure reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np


class FakeArtifact(dict):
    """An artifact as the figures read it: its arrays by name, its attributes in ``attrs``."""

    def __init__(self, arrays: Mapping[str, Any], attrs: Mapping[str, Any]):
        super().__init__(arrays)
        self.attrs = dict(attrs)


class FakeVariant:
    """The part of :class:`tdw.explore.variant.Variant` the figures read: ``artifacts`` by
    ``(analyzer, epoch)`` (epoch None for a cross-epoch one), per-epoch ``metrics`` and the
    record's fields (``n_epochs`` defaults to the last checkpoint)."""

    def __init__(self, vid: str, artifacts: Mapping[tuple[str, int | None], FakeArtifact],
                 epochs: Sequence[int], *, metrics: Mapping[str, np.ndarray] | None = None,
                 **record: Any):
        self.id = vid
        self.epochs = list(epochs)
        self._artifacts = dict(artifacts)
        self._metrics = dict(metrics or {})
        self.record = SimpleNamespace(n_epochs=self.epochs[-1], **record)

    def artifact(self, analyzer: str, epoch: int | None = None) -> FakeArtifact:
        if epoch is not None and type(epoch) is not int:
            # the catalog matches no numpy integer: a real store would not find it
            raise TypeError(f"epoch {epoch!r} is a {type(epoch).__name__}, not an int")
        return self._artifacts[(analyzer, epoch)]

    def metrics(self) -> dict[str, np.ndarray]:
        return dict(self._metrics)
