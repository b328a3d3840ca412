"""Clustering a layer's attention heads by their weights, and scoring the partitions.

Each head is one vector: its rows of W_Q, W_K, W_V and its columns of W_O, concatenated
and scaled to unit length, so heads are compared by direction (cosine), not by norm,
which grows over training. Partitions come from k-means (Lloyd's algorithm with k-means++
seeding, best of several seeded restarts; ``scipy.cluster.vq.kmeans2``) and from
average-linkage hierarchical clustering on cosine distance (``scipy.cluster.hierarchy``).
A partition is scored by its silhouette (Rousseeuw 1987, "Silhouettes: a graphical aid to
the interpretation and validation of cluster analysis"), and two partitions are compared
by the adjusted Rand index (Hubert & Arabie 1985, "Comparing partitions").
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["head_vectors", "span_coordinates", "kmeans", "hierarchical", "silhouette",
           "adjusted_rand", "group_labels", "RESTARTS"]

RESTARTS = 8
"""Seeded k-means restarts; the partition with the lowest within-cluster sum is kept."""


def head_vectors(weights: Mapping[str, torch.Tensor], layer: int, n_heads: int) -> np.ndarray:
    """``(head, features)`` float64 unit vectors of one layer's heads.

    The bridge's ``attn.q/k/v.weight`` are ``(n_heads * d_head, d_model)`` (head-major rows)
    and ``attn.o.weight`` is ``(d_model, n_heads * d_head)``. With grouped-query attention
    (fewer key/value heads) each head takes the key/value rows of the group it reads.
    """
    import torch
    prefix = f"blocks.{layer}.attn."
    d_head = weights[prefix + "q.weight"].shape[0] // n_heads
    parts = []
    for name in ("q", "k", "v"):
        w = weights[prefix + name + ".weight"].double()  # (heads * d_head, d_model)
        per_head = w.reshape(w.shape[0] // d_head, -1)  # (heads or kv heads, features)
        parts.append(per_head.repeat_interleave(n_heads // len(per_head), dim=0))
    o = weights[prefix + "o.weight"].double()  # (d_model, heads * d_head)
    parts.append(o.T.reshape(n_heads, -1))
    vectors = torch.cat(parts, dim=1).numpy()  # (head, features)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def span_coordinates(vectors: np.ndarray) -> np.ndarray:
    """``(head, head)`` coordinates of the heads in the span of their own vectors.

    An isometry: every distance, angle and inner product between the heads is kept, so
    k-means, linkage and silhouettes give the same answers as on the ``(head, features)``
    vectors (196,608 features per head for Pythia-160M), in a few milliseconds.
    """
    u, s, _ = np.linalg.svd(vectors, full_matrices=False)  # u: (head, r), s: (r,)
    return u * s


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel clusters in order of first appearance (head 0's cluster is 0), so equal
    partitions get equal label arrays across checkpoints."""
    order = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=np.int64)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """``(head,)`` labels of the best of :data:`RESTARTS` seeded k-means++ runs."""
    from scipy.cluster.vq import kmeans2
    best, best_inertia = None, np.inf
    for restart in range(RESTARTS):
        with warnings.catch_warnings():  # an emptied cluster loses on inertia to the restarts
            warnings.simplefilter("ignore")
            centres, labels = kmeans2(vectors, k, minit="++", seed=np.random.default_rng(
                [seed, restart]))
        inertia = float(((vectors - centres[labels]) ** 2).sum())
        if inertia < best_inertia - 1e-12:
            best, best_inertia = labels, inertia
    return _canonical(best)


def hierarchical(vectors: np.ndarray, k: int) -> np.ndarray:
    """``(head,)`` labels of average-linkage clustering on cosine distance, cut at k clusters."""
    from scipy.cluster.hierarchy import fcluster, linkage
    tree = linkage(vectors, method="average", metric="cosine")
    return _canonical(fcluster(tree, t=k, criterion="maxclust"))


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette under cosine distance: near 1 for tight, separated clusters, near 0
    for no structure. A head alone in its cluster scores 0 (Rousseeuw's convention); NaN
    when there are fewer than two clusters."""
    from scipy.spatial.distance import pdist, squareform
    clusters = np.unique(labels)
    if len(clusters) < 2:
        return float("nan")
    dist = squareform(pdist(vectors, metric="cosine"))  # (head, head)
    scores = np.zeros(len(labels))
    for i, label in enumerate(labels):
        same = (labels == label)
        if same.sum() == 1:
            continue
        a = dist[i, same].sum() / (same.sum() - 1)
        b = min(dist[i, labels == other].mean() for other in clusters if other != label)
        scores[i] = (b - a) / max(a, b) if max(a, b) > 0 else 0.0
    return float(scores.mean())


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two partitions of the same heads: 1 identical, about 0 for
    chance agreement (and exactly 0 when either partition is a single cluster)."""
    from scipy.special import comb
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    pairs = comb(table, 2).sum()
    rows, cols = comb(table.sum(1), 2).sum(), comb(table.sum(0), 2).sum()
    expected = rows * cols / comb(len(a), 2)
    top = (rows + cols) / 2
    return 0.0 if top == expected else float((pairs - expected) / (top - expected))


def group_labels(groups: Mapping[str, list[int]], n_heads: int) -> np.ndarray:
    """``(head,)`` the index of each head's group; heads in no group share one extra label."""
    labels = np.full(n_heads, len(groups), dtype=np.int64)
    for g, heads in enumerate(groups.values()):
        labels[heads] = g
    return labels
