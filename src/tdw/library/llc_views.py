"""Diagnostics of the ``llc`` analyzer (:mod:`tdw.library.llc`), under "Landscape" beside the
LLC curve: can each checkpoint's estimate be trusted? Any family that runs
:func:`~tdw.library.llc.make_llc` may list :data:`LLC_DIAGNOSTIC_VIEWS`.

``llc_trace`` (one checkpoint) draws each SGLD chain's minibatch loss over its steps, the
burn-in shaded, each chain's mean over the draws and the loss at the checkpoint as
references; a trustworthy chain rises from that reference during burn-in and stays on a
plateau through the draws. Its headline gives the estimate, its drift and the chains that
diverged, with the verdict of :func:`~tdw.library.llc.verdict`. ``llc_drift`` (across
training) puts every checkpoint's drift beside its spread over chains, so the checkpoints
whose chains had not settled stand out.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Columns, View, ViewContext
from tdw.library.llc import chain_loss, verdict

__all__ = ["LLC_TRACE", "LLC_DRIFT", "LLC_DIAGNOSTIC_VIEWS", "headline"]

ANALYZER = "llc"
GROUP = "Landscape"
BURNIN = "#eeeeee"
INIT = "#444444"


def _options(attrs) -> dict:
    """The SGLD settings of an artifact (the store refuses the version 1 artifacts that
    recorded them only as ``sgld``: they are recomputed)."""
    return attrs["options"]


def headline(attrs) -> str:
    """``"LLC 12.3 ± 0.4, drift 0.2, 0 of 2 chains diverged: ok"`` for an llc artifact."""
    drift = attrs["drift"]
    chains = _options(attrs)["chains"]
    shown = "n/a" if drift is None else f"{drift:.3g}"
    judged = verdict(attrs["llc_mean"], attrs["llc_std"], drift, attrs["diverged_chains"])
    return (f"LLC {attrs['llc_mean']:.3g} ± {attrs['llc_std']:.2g}, drift {shown}, "
            f"{attrs['diverged_chains']} of {chains} chains diverged: {judged}")


def _trace_columns(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    trace = art["loss_trace"].astype(np.float64)  # (chain, step)
    burnin, steps = int(_options(art.attrs)["burnin"]), trace.shape[1]
    means = chain_loss(trace, burnin)  # (chain,)
    # Lines as lists of arrays (not of lists): a page packs every checkpoint's arrays into
    # one buffer and hands MultiLine a list of arrays again (tdw.explore.frames).
    lines = {"xs": [np.arange(steps, dtype=np.float64) for _ in trace], "ys": list(trace),
             "name": [f"chain {c}" for c in range(len(trace))],
             "color": plot.colors(len(trace))}
    finite = np.isfinite(means)
    return {
        "chains": lines,
        "means": {"x0": [burnin] * int(finite.sum()), "x1": [steps - 1] * int(finite.sum()),
                  "y": means[finite].tolist(),
                  "color": [c for c, ok in zip(lines["color"], finite, strict=True) if ok]},
        "init": {"x0": [0], "x1": [steps - 1], "y": [float(art.attrs["init_loss"])]},
        "burnin": {"x0": [-0.5], "x1": [burnin - 0.5]},
        "headline": {"x": [0.0], "y": [_above(trace, float(art.attrs["init_loss"]))],
                     "text": [headline(art.attrs)]},
    }


def _above(trace: np.ndarray, init_loss: float) -> float:
    """A height above every finite loss of ``trace`` (and the checkpoint's), with room for
    one line of text: where the headline goes, inside the plot's range."""
    values = np.append(trace[np.isfinite(trace)], init_loss)
    low, high = float(values.min()), float(values.max())
    return high + 0.15 * max(high - low, 1e-3 * max(abs(high), 1.0))


def _build_trace(sources, ctx: ViewContext):
    from bokeh.models import LabelSet

    fig = plot.figure("SGLD loss traces", x_label="SGLD step", y_label="minibatch loss",
                      width=680, height=340)
    fig.vstrip(x0="x0", x1="x1", source=sources["burnin"], fill_color=BURNIN, line_alpha=0,
               legend_label="burn-in")
    fig.multi_line("xs", "ys", source=sources["chains"], color="color", legend_field="name",
                   line_width=1.2)
    fig.segment("x0", "y", "x1", "y", source=sources["means"], color="color", line_width=2.5,
                line_dash="dashed", legend_label="mean over the draws")
    fig.segment("x0", "y", "x1", "y", source=sources["init"], color=INIT, line_width=1.5,
                line_dash="dotted", legend_label="loss at the checkpoint")
    # the headline moves with the checkpoint, so it is text from a source, not the title; an
    # invisible point at it keeps it inside the automatic y range
    fig.scatter("x", "y", source=sources["headline"], alpha=0)
    fig.add_layout(LabelSet(x="x", y="y", text="text", source=sources["headline"],
                            text_baseline="middle", text_font_size="9pt"))
    return plot.finish(fig, sources)


LLC_TRACE = View(
    "llc_trace", "SGLD loss traces", "Each SGLD chain's minibatch training loss at every "
    "step of the LLC estimate at this checkpoint: burn-in shaded, each chain's mean over the "
    "draws dashed, the loss at the checkpoint dotted. A trustworthy chain rises from the "
    "dotted line during burn-in and stays level through the draws; a chain still climbing "
    "(large drift) wants a larger step or a longer burn-in, one that falls below the dotted "
    "line or blows up wants a smaller step or a stronger localisation "
    "(tdw llc-calibrate).",
    (ANALYZER,), "checkpoint", build=_build_trace, epoch_data=_trace_columns, group=GROUP)


def _drift_columns(ctx: ViewContext) -> Columns:
    attrs = [ctx.load(ANALYZER, e).attrs for e in ctx.epochs]
    drift = np.array([np.nan if a["drift"] is None else a["drift"] for a in attrs])
    std = np.array([a["llc_std"] for a in attrs], dtype=np.float64)
    verdicts = [verdict(a["llc_mean"], a["llc_std"], a["drift"], a["diverged_chains"])
                for a in attrs]
    bad = [i for i, v in enumerate(verdicts) if v != "ok"]
    return {
        "drift": {"epoch": list(ctx.epochs), "drift": drift, "low": -std, "high": std},
        "flagged": {"epoch": [ctx.epochs[i] for i in bad],
                    "drift": [float(np.nan_to_num(drift[i])) for i in bad],
                    "verdict": [verdicts[i] for i in bad]},
        "transition": plot.transition_columns(ctx),
    }


def _build_drift(sources, ctx: ViewContext):
    fig = plot.figure("LLC drift", x_label="epoch", y_label="drift (LLC, 2nd - 1st half)",
                      width=680)
    fig.varea("epoch", "low", "high", source=sources["drift"], color="#999999", alpha=0.25,
              legend_label="± std over chains")
    fig.line("epoch", "drift", source=sources["drift"], color=plot.PALETTE[3], line_width=2,
             legend_label="drift")
    fig.scatter("epoch", "drift", source=sources["flagged"], color=plot.TURN, size=9,
                marker="x", line_width=2, legend_label="not ok (diverged, negative or "
                                                       "not converged)")
    return plot.finish(fig, sources)


LLC_DRIFT = View(
    "llc_drift", "LLC drift", "For every checkpoint, the drift of its LLC estimate (the "
    "estimate from the second half of the draws minus that of the first half) beside its "
    "spread over chains (grey band); crosses mark the checkpoints whose chains diverged, sat "
    "below the checkpoint's loss, or drifted by more than twice the spread (and a fifth "
    "of the estimate): open their SGLD loss traces before trusting their LLC.",
    (ANALYZER,), "summary", build=_build_drift, data=_drift_columns,
    epoch_data=plot.current_columns, group=GROUP,
    trace=plot.column_trace("LLC drift", _drift_columns, "drift", "drift"))

LLC_DIAGNOSTIC_VIEWS = (LLC_TRACE, LLC_DRIFT)
