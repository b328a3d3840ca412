"""The per-checkpoint analyzers of the Modulo Addition 1-Layer family, in declaration order.

They measure the Fourier-multiplication circuit of Nanda, Chan, Lieberum, Smith and
Steinhardt, "Progress measures for grokking via mechanistic interpretability" (ICLR 2023,
arXiv:2301.05217): sparse frequencies in the embedding (§4.1, :mod:`.embedding`), neurons
clustered by frequency (§4.3, :mod:`.neurons`), periodic attention (App. C.1,
:mod:`.attention`), and the restricted and excluded losses (§5.1, :mod:`.logits`). How
they read the probe grid is in :mod:`.grid`.
"""

from __future__ import annotations

from tdw.family.analyzer import Analyzer

from . import (
    attention,
    embedding,
    geometry,
    gradients,
    logits,
    neurons,
    weight_fourier,
    weight_groups,
)

__all__ = ["ANALYZERS"]

ANALYZERS: tuple[Analyzer, ...] = (
    *embedding.ANALYZERS, *neurons.ANALYZERS, *attention.ANALYZERS, *logits.ANALYZERS,
    *weight_fourier.ANALYZERS, *weight_groups.ANALYZERS, *geometry.ANALYZERS,
    *gradients.ANALYZERS,
)
