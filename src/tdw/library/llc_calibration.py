"""Choosing the SGLD settings of an LLC estimate: short chains over a grid of step sizes and
localisations at one checkpoint, each judged by :func:`tdw.library.llc.verdict`.

This is devinterp's calibration sweep (its ``estimate_learning_coeff`` notebooks): too
large a step diverges or sinks below the checkpoint's loss, too small a one is still
climbing when the draws end, and the localisation trades the chain's freedom against the
pull back to the checkpoint. ``tdw llc-calibrate VARIANT`` runs it on a stored checkpoint
and prints :meth:`Calibration.table`; put the recommended cell into the family's
``SGLDConfig`` (e.g. ``LLC_CONFIG`` of ``modulo_addition_1l``) and the next ``tdw analyze``
recomputes the estimates made with the old settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family import plot
from tdw.family.family import Dataset
from tdw.library.llc import BatchLoss, SGLDConfig, minibatch_loss, sample_llc
from tdw.library.weights import trainable_parameters

if TYPE_CHECKING:
    import torch

__all__ = ["CalibrationCell", "Calibration", "calibrate", "calibrate_model"]


@dataclass(frozen=True, eq=False)
class CalibrationCell:
    """One grid cell: the estimate with step ``lr`` and localisation ``localization``.

    Attributes:
        lr: the SGLD step size.
        localization: the pull back to the checkpoint (gamma).
        llc_mean: the estimate (NaN if every chain diverged).
        llc_std: its spread over chains.
        drift: LLC of the second half of the draws minus the first half (NaN if none).
        diverged: chains whose loss became non-finite.
        verdict: :func:`tdw.library.llc.verdict` of the estimate.
        loss_trace: ``(chain, step)`` the chains' minibatch losses.
    """

    lr: float
    localization: float
    llc_mean: float
    llc_std: float
    drift: float
    diverged: int
    verdict: str
    loss_trace: np.ndarray

    def row(self) -> dict[str, Any]:
        """The cell as a table row (NaN as None, so it is JSON)."""
        def finite(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None
        return {"lr": self.lr, "localization": self.localization,
                "llc_mean": finite(self.llc_mean), "llc_std": finite(self.llc_std),
                "drift": finite(self.drift), "diverged": self.diverged, "verdict": self.verdict}


@dataclass(frozen=True, eq=False)
class Calibration:
    """The cells of a calibration grid, localisation-major then step size, and the other
    settings they share (``base``: chains, draws, burn-in, batch size, seed, n*beta)."""

    cells: tuple[CalibrationCell, ...]
    base: SGLDConfig

    def table(self) -> list[dict[str, Any]]:
        """One tidy row per cell: lr, localization, llc_mean, llc_std, drift, diverged,
        verdict."""
        return [c.row() for c in self.cells]

    @property
    def recommended(self) -> CalibrationCell | None:
        """The cell to use: among the ``"ok"`` cells the largest step (it mixes fastest),
        then the smallest localisation (it biases the estimate least); None if no cell is
        ok."""
        ok = [c for c in self.cells if c.verdict == "ok"]
        return max(ok, key=lambda c: (c.lr, -c.localization)) if ok else None

    def config(self) -> SGLDConfig | None:
        """``base`` with the recommended step and localisation, or None."""
        best = self.recommended
        return None if best is None else replace(self.base, lr=best.lr,
                                                 localization=best.localization)

    def figure(self):
        """Small multiples: one panel per cell (rows: localisation, columns: step size),
        each chain's loss over its steps, burn-in shaded, titled with the verdict."""
        from bokeh.layouts import gridplot

        lrs = sorted({c.lr for c in self.cells})
        panels = []
        for cell in self.cells:
            fig = plot.figure(f"lr {cell.lr:g}, γ {cell.localization:g}: {cell.verdict}",
                              x_label="step", y_label="loss", width=310, height=200)
            fig.title.text_font_size = "9pt"  # the verdict must fit a small panel
            fig.vstrip(x0=[-0.5], x1=[self.base.burnin - 0.5], fill_color="#eeeeee",
                       line_alpha=0)
            steps = np.arange(cell.loss_trace.shape[1]).tolist()
            for chain, color in zip(cell.loss_trace, plot.colors(len(cell.loss_trace)),
                                    strict=True):
                fig.line(steps, np.asarray(chain, dtype=np.float64).tolist(), color=color)
            panels.append(fig)
        return gridplot(panels, ncols=len(lrs))


_EXAMPLES = {"lr": "--lr 1e-5,3e-5,1e-4",
             "localization": "--localization 100,1000"}


def _grid(name: str, values: Sequence[float]) -> list[float]:
    grid = [float(v) for v in values]
    if not grid or any(not math.isfinite(v) or v <= 0 for v in grid):
        from tdw.errors import ParameterError
        raise ParameterError(f"calibration needs one or more positive {name} values, got "
                             f"{list(values)}; e.g. {_EXAMPLES.get(name, name)}")
    return grid


def calibrate(loss: BatchLoss, params: Sequence[torch.Tensor], n: int, *,
              lrs: Sequence[float], localizations: Sequence[float],
              base: SGLDConfig | None = None,
              progress: Callable[[int, int], None] | None = None) -> Calibration:
    """Estimate the LLC of ``loss`` at ``params`` (as :func:`~tdw.library.llc.sample_llc`)
    once per (localisation, step size) pair, with ``base``'s other settings.

    Keep ``base`` (default :class:`SGLDConfig`) short, a few hundred steps in all: the
    verdicts need the chains' shape, not a precise estimate. ``params`` are restored bit
    for bit after every cell; ``progress(done, total)`` is called after each.
    """
    base = base if base is not None else SGLDConfig()
    cells = []
    grid = [(g, lr) for g in _grid("localization", localizations) for lr in _grid("lr", lrs)]
    for i, (gamma, lr) in enumerate(grid):
        estimate = sample_llc(loss, params, n, replace(base, lr=lr, localization=gamma))
        cells.append(CalibrationCell(lr, gamma, estimate.llc_mean, estimate.llc_std,
                                     estimate.drift, estimate.diverged, estimate.verdict,
                                     estimate.loss_trace))
        if progress:
            progress(i + 1, len(grid))
    return Calibration(tuple(cells), base)


def calibrate_model(model: Any, readout: Callable[[Any, torch.Tensor], torch.Tensor],
                    data: Dataset, **grid: Any) -> Calibration:
    """:func:`calibrate` on the training loss of ``model`` (its live trainable parameters,
    the family's readout and training split, as the ``llc`` analyzer samples them)."""
    params = list(trainable_parameters(model).values())
    return calibrate(minibatch_loss(model, readout, data), params,
                     int(data.train_tokens.shape[0]), **grid)
