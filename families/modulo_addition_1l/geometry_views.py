"""Views of the representation-geometry analyzer (:mod:`.geometry`): the ring of class
centroids, the class x class distance and Fisher matrices, and the measures across training.

Each per-checkpoint view has a ``site`` selector indexing the artifact's ``site`` axis:
0 resid_post, 1 attn_out, 2 mlp_out, 3 resid_pre (the matrices stop at 2: resid_pre's are 0).
"""

from __future__ import annotations

import colorsys

import numpy as np

from tdw.family import plot
from tdw.family.views import Columns, Labels, View, ViewContext

from .geometry import fisher_matrix

__all__ = ["VIEWS"]

ANALYZER = "repr_geometry"
GROUP = "Geometry"
SITE = {"site": (ANALYZER, "centroids", 0)}
MATRIX_SITE = {"site": (ANALYZER, "distances", 0)}
SITE_NAMES = {"site": Labels("sites", "{value}")}
_SITES = "site 0 is resid_post, 1 attn_out, 2 mlp_out, 3 resid_pre"



def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * v):02x}" for v in rgb)


CYCLIC = tuple(_hex(colorsys.hsv_to_rgb(i / 256, 0.75, 0.85)) for i in range(256))
"""A hue wheel: classes are residues mod p, so class p - 1 sits next to class 0."""


def _site(ctx: ViewContext) -> int:
    return ctx.selection.get("site", 0)


# --- class_ring -----------------------------------------------------------------------


def _ring_data(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    site = _site(ctx)
    coords = art["centroids"][site]  # (class, pc)
    x, y, radius = (float(v) for v in art["circle"][site])
    text = (f"{art.attrs['sites'][site]}: circularity {art['circularity'][site]:.2f}, "
            f"k = {art['best_k'][site]} (R² {art['alignment'][site]:.2f}), "
            f"PR {art['participation_ratio'][site]:.1f}")
    return {"ring": {"x": coords[:, 0], "y": coords[:, 1], "pc3": coords[:, 2],
                     "c": np.arange(len(coords))},
            "circle": {"x": [x], "y": [y], "r": [radius]},
            "label": {"text": [text]}}


def class_points(fig, source, label, ctx: ViewContext, *, size: int = 8,
                 tooltips: tuple[tuple[str, str], ...] = (("class", "@c"),)):
    """Class centroids of ``source`` (columns ``x``, ``y``, ``c``) as points on a hue wheel
    with its colour bar, the caption of ``label`` (column ``text``) in the corner, and hover
    on the points; returns the points' renderer."""
    from bokeh.models import ColorBar, HoverTool, LabelSet, LinearColorMapper

    # high = p: the wheel closes, class p - 1 one step before class 0
    mapper = LinearColorMapper(palette=list(CYCLIC), low=0, high=ctx.values["p"])
    points = fig.scatter("x", "y", source=source, size=size, line_color="#333333",
                         line_width=0.5, fill_color={"field": "c", "transform": mapper})
    fig.add_layout(ColorBar(color_mapper=mapper, title="class (a + b) mod p", width=10),
                   "right")
    fig.add_layout(LabelSet(x=4, y=4, x_units="screen", y_units="screen", text="text",
                            source=label, text_font_size="9pt",
                            background_fill_color="white", background_fill_alpha=0.85))
    hover = fig.select_one(HoverTool)
    hover.renderers = [points]
    hover.tooltips = list(tooltips)
    return points


def _build_ring(sources, ctx: ViewContext):
    fig = plot.figure("Class centroids, top-2 PC plane",
                      x_label="class 0 fitted at angle 0, classes counter-clockwise",
                      width=460, height=420, match_aspect=True)
    points = class_points(fig, sources["ring"], sources["label"], ctx,
                          tooltips=(("class", "@c"), ("PC 3", "@pc3{0.000}")))
    fig.circle("x", "y", radius="r", source=sources["circle"], fill_alpha=0,
               line_color=plot.CURRENT, line_dash="dashed")
    # the axes follow the centroids: a fitted circle can be huge (a line is a wide arc)
    fig.x_range.renderers = [points]
    fig.y_range.renderers = [points]
    return fig


CLASS_RING = View(
    "class_ring", "Class ring", "The centroid of each answer class (a + b) mod p at '=' "
    "projected on the centroids' top two principal components, with the circle fitted to "
    "them (dashed). The plane is turned so that the best Fourier fit puts class 0 at angle "
    "0 and runs counter-clockwise, so a formed ring holds still between checkpoints; at "
    "frequency k class c sits at angle 2 pi k c / p, so ring neighbours are k^-1 mod p "
    f"classes apart (hover for the class). The caption gives the site's circularity, best "
    f"frequency, its alignment R² and the participation ratio; {_SITES}.", (ANALYZER,),
    "checkpoint", build=_build_ring, epoch_data=_ring_data, selectors=SITE, labels=SITE_NAMES,
    group=GROUP)


# --- class_distances and class_fisher -------------------------------------------------


def _distances(ctx: ViewContext) -> np.ndarray:
    return ctx.load(ANALYZER, ctx.epoch)["distances"][_site(ctx)]  # (class, class)


def _log_fisher(ctx: ViewContext) -> np.ndarray:
    art = ctx.load(ANALYZER, ctx.epoch)
    site = _site(ctx)
    fisher = fisher_matrix(art["distances"][site], art["radii"][site])  # (class, class)
    with np.errstate(divide="ignore"):
        log = np.log10(fisher)
    log[~np.isfinite(log)] = np.nan  # the diagonal, and classes that are distinct points
    return log


_MATRIX = dict(x_label="class s", y_label="class r", selectors=MATRIX_SITE, labels=SITE_NAMES,
               group=GROUP, width=420, height=380, match_aspect=True)

CLASS_DISTANCES = plot.heatmap_view(
    "class_distances", "Class centroid distances", "Distance |mu_r - mu_s| between the "
    "centroids of answer classes r and s at '='. A ring at frequency k gives the circulant "
    "2 R |sin(pi k (r - s) / p)|: stripes parallel to the diagonal, k of them across a row. "
    f"Stored as float16; {_SITES}.", (ANALYZER,), _distances, label="|μ_r − μ_s|", **_MATRIX)
CLASS_FISHER = plot.heatmap_view(
    "class_fisher", "Class separability (Fisher)", "log10 of Fisher's discriminant J(r, s) = "
    "|mu_r - mu_s|^2 / (sigma_r^2 + sigma_s^2) for answer classes r and s at '=', sigma^2 "
    "being a class's mean squared distance to its centroid: above 0 the pair is further "
    "apart than it is wide. Computed from the stored distances and class radii; the "
    f"diagonal is blank; {_SITES}.", (ANALYZER,), _log_fisher, label="log10 J",
    palette="Magma256", **_MATRIX)


# --- repr_geometry_series -------------------------------------------------------------

_SERIES = ("circularity", "Fourier alignment R²", "class share of variance",
           "worst pair J / (1 + J)", "2 / participation ratio")


def _series(ctx: ViewContext):
    site = _site(ctx)
    arts = [ctx.load(ANALYZER, e) for e in ctx.epochs]

    def column(name: str) -> np.ndarray:  # (checkpoint,)
        return np.array([art[name][site] for art in arts], np.float64)

    pr = column("participation_ratio")
    planes = np.minimum(1.0, np.divide(2.0, pr, out=np.zeros_like(pr), where=pr > 0))
    # x / (1 + x) written so that x = inf gives 1
    share = [1 - 1 / (1 + column(name)) for name in ("snr", "fisher_min")]
    return list(ctx.epochs), [column("circularity"), column("alignment"), *share,
                              planes], _SERIES



REPR_GEOMETRY_SERIES = plot.lines_view(
    "repr_geometry_series", "Class geometry across training", "The class geometry of one "
    "site across checkpoints, every measure on 0 to 1: circularity (a ring in the top-2 PC "
    "plane, times that plane's share of the centroid variance: n equally strong key "
    "frequencies cap it near 1/n), the Fourier alignment R² of the centroid angles at the "
    "best frequency (about 1/p by chance), the class share of variance "
    "spread² / (spread² + radius²) = snr / (1 + snr), the worst class pair's Fisher J "
    "mapped the same way (0.5 where its centroids are as far apart as the classes are "
    "wide), and 2 / participation ratio of the centroids (1 for one plane, 1/n for n "
    "equal rings; capped at 1). The mean Fisher J is left out: it follows snr. "
    f"{_SITES[0].upper()}{_SITES[1:]}.", (ANALYZER,), _series,
    heading="Class geometry", y_label="0 to 1", selectors=SITE, labels=SITE_NAMES, group=GROUP,
    y_range=(-0.02, 1.02), trace=plot.line_trace("circularity", _series))

VIEWS = (CLASS_RING, CLASS_DISTANCES, CLASS_FISHER, REPR_GEOMETRY_SERIES)
