"""The multistream view: the embedding, the attention and the MLP on one time axis, each
with how much of its weight energy sits in the key frequencies and how many directions its
matrices use.

The three streams of the Modulo Addition circuit (Nanda et al. 2023 §4: W_E writes a few
frequencies, the heads and the neurons read and multiply them) need not lock onto the key
frequencies at the same time, nor compress at the same time. The view puts both questions
on one axis of epochs, under "Fourier":

* key-frequency share (solid, left axis, 0..1), from ``weight_fourier``. The key
  frequencies K are fixed for the run: those of the last checkpoint's embedding, as
  ``dominant_frequencies`` finds them (above the largest drop of the spectrum); a run with none
  (not yet learned) uses the last checkpoint's single largest embedding frequency. Per
  stream (:func:`stream_shares`):

  - embedding: the share of W_E's non-constant power over tokens at K,
    ``sum_K embed_norm^2 / sum embed_norm^2``;
  - attention: per head, the mean of two shares at K, OV (W_E W_V's power over tokens,
    ``ov_share``) and QK as the model reads it (the '=' query's score over key tokens,
    ``answer_qk_share``; the other queries are never trained, :mod:`.weight_fourier`),
    then the mean over heads;
  - MLP: the neurons' input power (W_E W_in over tokens) carried by dominant waves at K, as
    a share of all their non-constant input power: ``sum_{m: f_m in K} A_m^2 /
    sum_m A_m^2 / s_m`` with f_m, A_m, s_m the dominant frequency, amplitude and share of
    neuron m (a wave A cos has power A^2 p / 2). Only each neuron's dominant wave is
    stored, so this is a lower bound of the input power at K, exact when every neuron is a
    single wave.

  A flat spectrum puts ``|K| / (p // 2)`` at K (the grey dotted line).
* effective dimension (dashed, right log axis), from ``effective_dimensionality``: the
  participation ratio of W_E's singular values, the mean of those of the attention's
  matrices (W_Q, W_K, W_V, W_O) and of the MLP's (W_in, W_out) (:func:`stream_dimensions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tdw.family import plot
from tdw.family.artifacts import Artifact
from tdw.family.views import Columns, View, ViewContext

__all__ = ["STREAMS", "MULTISTREAM", "VIEWS", "run_key_frequencies", "stream_shares",
           "stream_dimensions"]

STREAMS = ("embedding", "attention", "MLP")
"""The streams, in the order of :func:`stream_shares` and :func:`stream_dimensions`."""
_MATRICES = ((lambda name: name == "embed.weight"), (lambda name: ".attn." in name),
             (lambda name: ".mlp." in name))
"""Which of effective_dimensionality's matrices belong to each stream."""


def run_key_frequencies(ctx: ViewContext) -> tuple[list[int], bool]:
    """The run's key frequencies: the last checkpoint's ``dominant_frequencies`` keys, or
    else its largest embedding frequency; and whether they are key frequencies proper."""
    last = ctx.epochs[-1]
    keys = [int(k) for k in ctx.load("dominant_frequencies", last).attrs["key_frequencies"]]
    if keys:
        return keys, True
    return [int(np.argmax(ctx.load("weight_fourier", last)["embed_norm"])) + 1], False


def stream_shares(art: Artifact, keys: Sequence[int]) -> np.ndarray:
    """``(stream,)`` float64 share of each stream's energy at the frequencies ``keys``, from
    one ``weight_fourier`` artifact (module docstring)."""
    at = np.asarray(keys, dtype=np.int64) - 1  # frequency k sits at index k - 1
    power = art["embed_norm"].astype(np.float64) ** 2  # (freq,)
    embedding = power[at].sum() / power.sum() if power.sum() > 0 else 0.0
    heads = (art["ov_share"][:, at].sum(-1).astype(np.float64)
             + art["answer_qk_share"][:, at].sum(-1)) / 2  # (head,)
    freq = art["in_freq"]  # (neuron,) 0 for a constant input
    wave = art["in_amplitude"].astype(np.float64) ** 2  # (neuron,) ~ dominant-wave power
    share = art["in_share"].astype(np.float64)
    total = np.divide(wave, share, out=np.zeros_like(wave), where=share > 0).sum()
    mlp = wave[np.isin(freq, keys) & (share > 0)].sum() / total if total > 0 else 0.0
    return np.array([embedding, heads.mean(), mlp])


def stream_dimensions(art: Artifact) -> np.ndarray:
    """``(stream,)`` float64 mean participation ratio of each stream's matrices, from one
    ``effective_dimensionality`` artifact; NaN for a stream with none."""
    names = list(art.attrs["matrices"])
    ratios = art["participation_ratio"].astype(np.float64)  # (matrix,)
    out = []
    for belongs in _MATRICES:
        mine = [ratios[i] for i, name in enumerate(names) if belongs(name)]
        out.append(float(np.mean(mine)) if mine else np.nan)
    return np.array(out)


def _columns(ctx: ViewContext) -> Columns:
    keys, _ = run_key_frequencies(ctx)
    shares = np.stack([stream_shares(ctx.load("weight_fourier", e), keys)
                       for e in ctx.epochs])  # (checkpoint, stream)
    dims = np.stack([stream_dimensions(ctx.load("effective_dimensionality", e))
                     for e in ctx.epochs])  # (checkpoint, stream)
    columns: dict[str, Any] = {"epoch": list(ctx.epochs),
                               "flat": [len(keys) / (ctx.values["p"] // 2)] * len(ctx.epochs)}
    for i, stream in enumerate(STREAMS):
        columns[f"{stream}_share"], columns[f"{stream}_dim"] = shares[:, i], dims[:, i]
    return {"streams": columns, "transition": plot.transition_columns(ctx)}


def _log_range(values: np.ndarray) -> tuple[float, float]:
    """Log-axis bounds around the positive, finite ``values`` (1..1000 if none are)."""
    positive = values[np.isfinite(values) & (values > 0)]
    if not positive.size:
        return 1.0, 1000.0
    return float(positive.min()) / 1.5, float(positive.max()) * 1.5


def _build(sources: dict[str, Any], ctx: ViewContext):
    from bokeh.models import LogAxis, LogScale, Range1d

    keys, proper = run_key_frequencies(ctx)
    named = ", ".join(map(str, keys))
    title = (f"Streams: energy at key frequencies {named}" if proper
             else f"Streams: energy at the top embedding frequency {named} (no key frequencies)")
    fig = plot.figure(title, x_label="epoch", y_label="energy share at the key frequencies "
                      "(solid)", y_range=Range1d(0.0, 1.02), width=700, height=340)
    data = sources["streams"].data
    dims = np.concatenate([np.asarray(data[f"{s}_dim"], dtype=np.float64) for s in STREAMS])
    fig.extra_y_ranges = {"dimension": Range1d(*_log_range(dims))}
    fig.extra_y_scales = {"dimension": LogScale()}
    fig.add_layout(LogAxis(y_range_name="dimension",
                           axis_label="effective dimension (participation ratio, dashed)"),
                   "right")
    for color, stream in zip(plot.colors(len(STREAMS)), STREAMS, strict=True):
        fig.line("epoch", f"{stream}_share", source=sources["streams"], color=color,
                 line_width=2, legend_label=f"{stream}: key share")
        fig.line("epoch", f"{stream}_dim", source=sources["streams"], color=color,
                 line_width=1.5, line_dash="dashed", y_range_name="dimension",
                 legend_label=f"{stream}: eff. dimension")
    fig.line("epoch", "flat", source=sources["streams"], color="#999999", line_dash="dotted",
             legend_label="flat spectrum")
    return plot.finish(fig, sources)


MULTISTREAM = View(
    "multistream", "Streams: key frequencies and dimension", "Embedding, attention and MLP "
    "on one time axis. Solid (left axis): each stream's share of its weight energy at the "
    "run's key frequencies (the last checkpoint's, from dominant_frequencies; without any, "
    "its largest embedding frequency): for the embedding, W_E's Fourier power over tokens; "
    "for the attention, the mean over heads of the OV share (W_E W_V) and of the '=' "
    "query's score share over key tokens; for the MLP, the power of the neurons' dominant "
    "input waves (W_E W_in) at the key frequencies over all their input power (a lower "
    "bound). The grey dotted line is what a flat spectrum puts there. Dashed (right, log "
    "axis): the participation ratio of W_E's singular values, and the mean of those of the "
    "attention's and of the MLP's weight matrices.",
    ("weight_fourier", "dominant_frequencies", "effective_dimensionality"), "summary",
    build=_build, data=_columns, epoch_data=plot.current_columns, group="Fourier",
    trace=plot.column_trace("MLP input energy share at the key frequencies", _columns,
                            "streams", "MLP_share"))

VIEWS = (MULTISTREAM,)
