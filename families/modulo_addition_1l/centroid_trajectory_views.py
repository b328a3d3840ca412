"""Views of the centroid trajectory (:mod:`.centroid_trajectory`): each class's path on the
principal components shared by every checkpoint, the DMD one-step residual across
training, and the DMD eigenvalues.

``centroid_paths`` is built once around three sources: ``paths`` (every class's path,
from ``data``), ``now`` (the classes at the current checkpoint) and ``label`` (its
caption), both from ``epoch_data``, so moving the checkpoint only replaces those two, and
a change of selector replaces the data of all three. Its ``site`` selector
indexes the artifact's ``site`` axis (0 resid_post, 1 attn_out, 2 mlp_out) and its
``plane`` selector the three planes of the three shared PCs (0: PC1-PC2, 1: PC1-PC3,
2: PC2-PC3). The other two views draw the three sites together.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Columns, Labels, View, ViewContext

from .centroid_trajectory import CEILING, RANK, WINDOW
from .geometry_views import CYCLIC, class_points

__all__ = ["VIEWS", "PLANES"]

ANALYZER = "centroid_trajectory"
GROUP = "Geometry"
PLANES = ((0, 1), (0, 2), (1, 2))
"""The ``plane`` selector's planes, as pairs of shared PCs (three PCs, three planes)."""
SELECTORS = {"site": (ANALYZER, "paths", 0), "plane": (ANALYZER, "share", 1)}


def _class_colours(p: int) -> list[str]:
    """One colour per class on the hue wheel of :data:`.geometry_views.CYCLIC`."""
    return [CYCLIC[int(len(CYCLIC) * c / p)] for c in range(p)]


def _plane(ctx: ViewContext) -> tuple[int, int, int]:
    """The selected site and the two PCs of the selected plane."""
    return (ctx.selection.get("site", 0), *PLANES[ctx.selection.get("plane", 0)])


# --- centroid_paths ---------------------------------------------------------------------


def _paths_data(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    site, i, j = _plane(ctx)
    paths = art["paths"][site].astype(np.float64)  # (checkpoint, class, pc)
    p = paths.shape[1]
    return {"paths": {"xs": list(paths[:, :, i].T), "ys": list(paths[:, :, j].T),
                      "c": np.arange(p), "color": _class_colours(p)}}


def _paths_now(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    site, i, j = _plane(ctx)
    t = plot.nearest_index(art["epochs"], ctx.epoch)
    now = art["paths"][site, t].astype(np.float64)  # (class, pc)
    share, residual = art["share"][site], float(art["residual"][site, t])
    # The caption names the axes: a change of site or plane replaces the sources' data,
    # not the figure, so the axis labels cannot.
    text = (f"{art.attrs['sites'][site]}: x PC{i + 1} ({100 * share[i]:.0f}% of the "
            f"variance), y PC{j + 1} ({100 * share[j]:.0f}%)\nepoch {int(art['epochs'][t])}: "
            "DMD residual " + ("-" if np.isnan(residual) else f"{residual:.2f}"))
    return {"now": {"x": now[:, i], "y": now[:, j], "c": np.arange(len(now))},
            "label": {"text": [text]}}


def _build_paths(sources, ctx: ViewContext):
    fig = plot.figure("Class centroid paths, shared PCs", x_label="the plane's first PC",
                      y_label="the plane's second PC", width=480, height=420,
                      match_aspect=True)
    fig.multi_line("xs", "ys", source=sources["paths"], line_color="color", line_alpha=0.25,
                   line_width=1)
    class_points(fig, sources["now"], sources["label"], ctx, size=7)
    return fig


CENTROID_PATHS = View(
    "centroid_paths", "Class centroid paths", "Each answer class's centroid at '=' (about "
    "the mean of the classes) across training, on principal components shared by every "
    "checkpoint (unlike the class ring's, which are each checkpoint's own): faint lines are "
    "the classes' paths, points the classes at the current checkpoint, coloured round the "
    "hue wheel by class. A ring forming shows as the points spreading onto a circle and "
    "holding there; the caption names the plane's PCs with their shares of the variance, "
    "and gives the checkpoint's DMD residual. Selectors: site (0 "
    "resid_post, 1 attn_out, 2 mlp_out) and plane (0 PC1-PC2, 1 PC1-PC3, 2 PC2-PC3).",
    (ANALYZER,), "summary", build=_build_paths, data=_paths_data, epoch_data=_paths_now,
    selectors=SELECTORS, labels={"site": Labels("sites", "{value}")}, group=GROUP)


# --- centroid_dmd_residual --------------------------------------------------------------


def _residual_lines(ctx: ViewContext):
    art = ctx.load(ANALYZER, ctx.epoch)
    return art["epochs"], list(art["residual"]), list(art.attrs["sites"])


CENTROID_DMD_RESIDUAL = plot.lines_view(
    "centroid_dmd_residual", "Centroid DMD residual", "At each checkpoint, the share of the "
    "class centroids' step from the previous checkpoint that linear dynamics fitted on the "
    f"{WINDOW} steps before it fail to predict (dynamic mode decomposition on the top {RANK} "
    "POD modes of the centroid arrangement, checkpoint gaps in epochs): 0 when the recent "
    "dynamics predict the step, 1 when they do no better than standing still, capped at "
    f"{CEILING:g}. It stays low within one regime and jumps where the dynamics change, "
    f"reading no loss. The first {WINDOW + 1} checkpoints have no window yet.", (ANALYZER,),
    _residual_lines,
    heading="One-step DMD residual of the class centroids", y_label="share of the step missed",
    group=GROUP, y_range=(-0.02, CEILING + 0.05),
    trace=plot.line_trace("centroid DMD residual (resid_post)", _residual_lines))


# --- centroid_dmd_eigenvalues -----------------------------------------------------------


def _eigen_data(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    eigenvalues, amplitudes = art["eigenvalues"], art["amplitudes"]  # (site, mode, part)
    rows: dict[str, list] = {key: [] for key in ("x", "y", "site", "mode", "size", "color",
                                                "modulus", "turn", "amplitude")}
    for site, name in enumerate(art.attrs["sites"]):
        found = np.flatnonzero(np.isfinite(amplitudes[site]) & np.isfinite(
            eigenvalues[site]).all(-1))
        top = float(amplitudes[site, found].max()) if found.size else 1.0
        for mode in found:
            z = complex(*eigenvalues[site, mode].astype(np.float64))
            amplitude = float(amplitudes[site, mode])
            rows["x"].append(z.real)
            rows["y"].append(z.imag)
            rows["site"].append(name)
            rows["mode"].append(int(mode))
            rows["size"].append(6 + 12 * np.sqrt(amplitude / top) if top > 0 else 6)
            rows["color"].append(plot.PALETTE[site])
            rows["modulus"].append(abs(z))
            rows["turn"].append(float(np.degrees(np.angle(z))))
            rows["amplitude"].append(amplitude)
    return {"eigen": rows, "unit": {"x": [0.0], "y": [0.0], "r": [1.0]}}


def _build_eigen(sources, ctx: ViewContext):
    from bokeh.models import HoverTool

    gap = ctx.load(ANALYZER, ctx.epoch).attrs["reference_gap"]
    fig = plot.figure(f"DMD eigenvalues per {gap:g} epochs", x_label="real part",
                      y_label="imaginary part", width=480, height=420, match_aspect=True)
    fig.circle("x", "y", radius="r", source=sources["unit"], fill_alpha=0,
               line_color=plot.CURRENT, line_dash="dashed")
    points = fig.scatter("x", "y", source=sources["eigen"], size="size", color="color",
                         fill_alpha=0.6, legend_field="site")
    hover = fig.select_one(HoverTool)
    hover.renderers = [points]
    hover.tooltips = [("site", "@site"), ("mode", "@mode"), ("|λ|", "@modulus{0.0000}"),
                      ("turn", "@turn{0.0}°"), ("amplitude", "@amplitude{0.000}")]
    return plot.finish(fig, sources)


CENTROID_DMD_EIGENVALUES = View(
    "centroid_dmd_eigenvalues", "Centroid DMD eigenvalues", "Eigenvalues of one linear "
    f"model of the class centroids' whole path (DMD on the top {RANK} POD modes, fitted on "
    "every step), as the step over the median checkpoint gap: inside the dashed unit "
    "circle a pattern that decays, outside one that grows, on it one that persists; the "
    "angle is its turn per step. Larger marks are modes of larger amplitude; one colour "
    "per site.", (ANALYZER,), "summary", build=_build_eigen, data=_eigen_data, group=GROUP)

VIEWS = (CENTROID_PATHS, CENTROID_DMD_RESIDUAL, CENTROID_DMD_EIGENVALUES)
