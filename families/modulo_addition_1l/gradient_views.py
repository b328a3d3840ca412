"""Views of ``gradient_sites`` (:mod:`.gradients`): where the training-loss gradient carries
each Fourier frequency of the token, site by site, under the heading "Gradients".

The two per-checkpoint views build their figure once around a ``cells`` source and swap
only its data with the checkpoint; the summary view draws every checkpoint at once.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Columns, View, ViewContext

from .gradients import energy_shares

__all__ = ["VIEWS"]

GROUP = "Gradients"
ANALYZER = "gradient_sites"


def _sites(ctx: ViewContext) -> list[str]:
    return list(ctx.load(ANALYZER, ctx.epoch).attrs["sites"])


# --- gradient_frequencies -----------------------------------------------------------------


def _frequency_cells(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    shares = energy_shares(art["rms"])  # (site, freq)
    freqs = list(range(1, shares.shape[1] + 1))
    return {"cells": plot.cell_columns(shares, art.attrs["sites"], freqs)}


def _build_frequencies(sources, ctx: ViewContext):
    n_freq = ctx.load(ANALYZER, ctx.epoch)["rms"].shape[1]
    sites = _sites(ctx)
    # numeric frequencies along x (a factor per frequency would crowd the axis), named rows
    fig = plot.figure("Gradient energy per frequency", x_label="frequency k",
                      y_label="site", x_range=(0.5, n_freq + 0.5),
                      y_range=list(reversed(sites)), width=660, height=260)
    plot.cells(fig, sources["cells"], low=0.0, label="energy share")
    return fig


GRADIENT_FREQUENCIES = View(
    "gradient_frequencies", "Gradient energy per frequency", "For each site (W_E; W_Q as the "
    "attention score from '=' to each key token; W_K and W_V as keys and values W_E G^T; "
    "W_in through the OV path), the share of the training-loss gradient's energy at each "
    "Fourier frequency of the input token (cos and sin together, constant excluded). The "
    "colour runs from 0 to this checkpoint's largest share; a flat spectrum is 1 / (p // 2) "
    "everywhere.", (ANALYZER,), "checkpoint", build=_build_frequencies,
    epoch_data=_frequency_cells, group=GROUP)


# --- gradient_site_similarity ---------------------------------------------------------------


def _similarity_cells(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    sites = art.attrs["sites"]
    return {"cells": plot.cell_columns(art["cosine"], sites, sites, text=True)}


def _build_similarity(sources, ctx: ViewContext):
    sites = _sites(ctx)
    return plot.cells_figure("Gradient frequency profiles: cosine", sources["cells"], sites,
                             sites, low=0.0, high=1.0, label="cosine", text=True, width=420,
                             height=360)


GRADIENT_SITE_SIMILARITY = View(
    "gradient_site_similarity", "Gradient site similarity", "Cosine similarity between the "
    "sites' gradient energy profiles over the token frequencies: 1 when two sites put their "
    "gradient energy in the same proportions on the same frequencies, near 0 when on different "
    "ones. Flat profiles (e.g. at initialisation) also score near 1.", (ANALYZER,),
    "checkpoint", build=_build_similarity, epoch_data=_similarity_cells, group=GROUP)


# --- gradient_key_energy --------------------------------------------------------------------


def _key_lines(ctx: ViewContext):
    """Each site's share of gradient energy in the final checkpoint's key frequencies, over
    the checkpoints, with the share a flat spectrum would give; without key frequencies
    (an unlearned run) the share of each site's own top frequency instead."""
    keys = list(ctx.load("dominant_frequencies", ctx.epochs[-1]).attrs["key_frequencies"])
    arts = [ctx.load(ANALYZER, e) for e in ctx.epochs]
    sites = list(arts[-1].attrs["sites"])
    shares = np.stack([energy_shares(a["rms"]) for a in arts])  # (checkpoint, site, freq)
    n_freq = shares.shape[-1]
    if keys:
        values = shares[..., np.asarray(keys) - 1].sum(-1)  # (checkpoint, site)
        names, flat = sites, len(keys) / n_freq
    else:
        values = shares.max(-1)  # (checkpoint, site)
        names, flat = [f"{s} (top frequency)" for s in sites], 1 / n_freq
    flat_line = np.full(len(arts), flat)
    return list(ctx.epochs), [*values.T, flat_line], [*names, "flat spectrum"]



GRADIENT_KEY_ENERGY = plot.lines_view(
    "gradient_key_energy", "Gradient energy in the key frequencies", "Across training, each "
    "site's share of its gradient energy over the token frequencies that falls in the key "
    "frequencies (those of the final checkpoint's embedding, as dominant_frequencies finds "
    "them), against the share a flat spectrum would give. A run without key frequencies "
    "shows each site's largest single-frequency share instead.",
    (ANALYZER, "dominant_frequencies"), _key_lines, y_label="share of gradient energy",
    group=GROUP, y_range=(0.0, 1.0),
    trace=plot.line_trace("W_E gradient energy share in the key frequencies", _key_lines))

VIEWS = (GRADIENT_FREQUENCIES, GRADIENT_SITE_SIMILARITY, GRADIENT_KEY_ENERGY)
