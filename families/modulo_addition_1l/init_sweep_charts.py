"""The charts of the Init gradients page (:mod:`.init_sweep_page`): an :class:`InitSweep`
drawn with the plot kit, and the keys' standing as an HTML table.

Per site, :func:`frequency_figure` draws each frequency's mean energy share over the seeds
with whiskers of one standard deviation, the compared variant's key frequencies in
:data:`KEY`, and a dashed line at the share of a flat spectrum. :func:`seed_figure` shows
the keys' mean percentile seed by seed (one dot per seed and site), :func:`key_table` the
same at the mean shares with its exact p-value. Bokeh is imported inside the functions
that draw.
"""

from __future__ import annotations

import html

import numpy as np

from tdw.family import plot

from .init_sweep import InitSweep, Trained

__all__ = ["KEY", "OTHER", "frequency_columns", "frequency_figure", "seed_columns",
           "seed_figure", "key_table"]

KEY = plot.TURN
"""Colour of the key frequencies (the workbench's highlight colour)."""
OTHER = plot.PALETTE[0]
"""Colour of every other frequency."""

_TABLE_STYLE = "font-size:12px; border-collapse:collapse; margin:4px 10px"
_CELL_STYLE = "padding:3px 12px; border-bottom:1px solid #e1e4e8; text-align:left"


def frequency_columns(result: InitSweep, site: int) -> dict[str, list]:
    """The bars of ``result.sites[site]``: per frequency k = 1 .. p // 2, its mean share over
    the seeds, the spread (sd) and the whiskers' ends (mean -/+ sd, the lower cut at 0), its
    rank and percentile among the frequencies, and whether it is a key frequency."""
    mean, spread = result.mean[site], result.spread[site]  # (freq,)
    freqs = np.arange(1, mean.shape[0] + 1)
    key = np.isin(freqs, result.keys)
    return {"freq": freqs.tolist(), "mean": mean.tolist(), "spread": spread.tolist(),
            "lower": np.maximum(mean - spread, 0.0).tolist(), "upper": (mean + spread).tolist(),
            "rank": result.rank[site].tolist(), "percentile": result.percentile[site].tolist(),
            "key": np.where(key, "key frequency", "").tolist(),
            "color": np.where(key, KEY, OTHER).tolist()}


def frequency_figure(result: InitSweep, site: int, *, width: int = 440, height: int = 270):
    """One site's bar chart (the figure is named ``init-sweep:SITE``, its bars' source
    ``init-sweep-bars:SITE``)."""
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter, Span, Whisker

    name = result.sites[site]
    source = ColumnDataSource(frequency_columns(result, site), name=f"init-sweep-bars:{name}")
    n_freq = result.mean.shape[-1]
    fig = plot.bars_figure(f"{name}: gradient energy per frequency", source, "freq",
                           ["mean"], fills=["color"], categorical=False, x_label="frequency k",
                           y_label="mean share over the seeds", width=width, height=height,
                           x_range=(0.5, n_freq + 0.5), y_range=(0.0, _top(result)))
    fig.name = f"init-sweep:{name}"
    fig.add_layout(Whisker(source=source, base="freq", lower="lower", upper="upper",
                           line_color=plot.CURRENT, line_alpha=0.7, level="overlay"))
    fig.add_layout(Span(location=1 / n_freq, dimension="width", line_dash="dashed",
                        line_color=plot.CURRENT, line_alpha=0.8))
    fig.yaxis.formatter = NumeralTickFormatter(format="0.0%")
    fig.select_one(HoverTool).tooltips = [
        ("frequency", "@freq @key"), ("mean share", "@mean{0.00%} ± @spread{0.00%}"),
        ("rank", f"@rank of {n_freq}"), ("percentile", "@percentile{0%}")]
    return fig


def _top(result: InitSweep) -> float:
    """One y range for every site (the whiskers' highest end, with room above), so that
    the sites' bars compare by eye."""
    return float((result.mean + result.spread).max()) * 1.08 or 1.0


def seed_columns(result: InitSweep, trained: Trained | None = None) -> dict[str, list]:
    """One row per seed and site: the keys' mean percentile among that seed's shares and its
    p-value; ``own`` marks the compared variant's own initialisation."""
    n_seeds, n_sites = result.key_percentile_by_seed.shape
    own = trained.model_seed if trained is not None else None
    return {"site": [s for _ in range(n_seeds) for s in result.sites],
            "seed": [seed for seed in result.seeds for _ in range(n_sites)],
            "percentile": result.key_percentile_by_seed.ravel().tolist(),
            "p_value": result.key_p_value_by_seed.ravel().tolist(),
            "own": [seed == own for seed in result.seeds for _ in range(n_sites)]}


def seed_figure(result: InitSweep, trained: Trained | None = None, *, width: int = 440,
                height: int = 270):
    """The keys' mean percentile seed by seed, per site (named ``init-sweep:seeds``); the
    variant's own seed, if swept, as a red diamond. 50% is no preference."""
    from bokeh.models import (
        CDSView,
        ColumnDataSource,
        GroupFilter,
        HoverTool,
        NumeralTickFormatter,
        Span,
    )
    from bokeh.transform import jitter

    source = ColumnDataSource(seed_columns(result, trained), name="init-sweep-seeds")
    fig = plot.figure("The keys' percentile, seed by seed", x_label="site",
                      y_label="mean percentile of the keys", x_range=list(result.sites),
                      y_range=(-0.03, 1.03), width=width, height=height)
    fig.name = "init-sweep:seeds"
    x = jitter("site", width=0.5, range=fig.x_range)
    fig.scatter(x=x, y="percentile", source=source, size=6, alpha=0.5, color=OTHER)
    own = source.data["own"]
    if any(own):
        source.data["own_mark"] = ["own" if o else "" for o in own]
        fig.scatter(x="site", y="percentile", source=source, size=11, marker="diamond",
                    color=KEY, legend_label=f"seed {trained.model_seed} (the variant's own)",
                    view=CDSView(filter=GroupFilter(column_name="own_mark", group="own")))
        plot.legend_outside(fig, "below")  # inside, it would hide the dots
    fig.add_layout(Span(location=0.5, dimension="width", line_dash="dashed",
                        line_color=plot.CURRENT, line_alpha=0.8))
    fig.yaxis.formatter = NumeralTickFormatter(format="0%")
    fig.select_one(HoverTool).tooltips = [("seed", "@seed"), ("site", "@site"),
                                          ("percentile", "@percentile{0.0%}"),
                                          ("p", "@p_value{0.000}")]
    return fig


def key_table(result: InitSweep, trained: Trained | None = None) -> str:
    """Per site, the keys' ranks, their mean percentile at the mean shares and its exact
    p-value, and the same at the variant's own seed when it was swept (HTML)."""
    n_freq = result.mean.shape[-1]
    own = trained is not None and trained.model_seed in result.seeds
    seed = result.seeds.index(trained.model_seed) if own else None
    headers = ["site", f"key ranks (of {n_freq})", "mean percentile", "p-value"] + (
        [f"seed {trained.model_seed}: percentile", "p-value"] if own else [])
    rows = [[site, ", ".join(f"#{int(result.rank[i, k - 1])}" for k in result.keys),
             f"{result.key_percentile[i]:.1%}", f"{result.key_p_value[i]:.3g}"]
            + ([f"{result.key_percentile_by_seed[seed, i]:.1%}",
                f"{result.key_p_value_by_seed[seed, i]:.3g}"] if own else [])
            for i, site in enumerate(result.sites)]
    head = "".join(f"<th style='{_CELL_STYLE}'>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr class='tdw-init-key-row'>" + "".join(
        f"<td style='{_CELL_STYLE}'>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows)
    return f"<table style='{_TABLE_STYLE}'><tr>{head}</tr>{body}</table>"
