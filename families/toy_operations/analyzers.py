"""The analyzers of the Toy Operations family, in declaration order.

They measure what the user's seed study 002 ("Training dynamics over time") describes:
per-operation accuracy and which operation is learned first (:mod:`.learning`),
attention sharpening and where the answer position attends (:mod:`.attention`), the
geometry of the token embeddings (:mod:`.embedding`) and neurons that specialise by
operation and by digit (:mod:`.neurons`). The hooks they read are in :mod:`.hooks`.
"""

from __future__ import annotations

from tdw.family.analyzer import Analyzer, CrossEpochAnalyzer

from . import attention, embedding, learning, neurons

__all__ = ["ANALYZERS", "CROSS_EPOCH"]

ANALYZERS: tuple[Analyzer, ...] = (
    *learning.ANALYZERS, *attention.ANALYZERS, *embedding.ANALYZERS, *neurons.ANALYZERS,
)

CROSS_EPOCH: tuple[CrossEpochAnalyzer, ...] = learning.CROSS_EPOCH
