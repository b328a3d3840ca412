"""Per-checkpoint analyzers of the parameters themselves (no activations).

* :data:`parameter_snapshot`: a 1024-number fast random projection of all parameters,
  preserving distances between checkpoints (Johnson-Lindenstrauss), plus per-tensor norms.
* :data:`effective_dimensionality`: the participation ratio of every weight matrix's
  singular values.
* :func:`make_flatness`: how much the probe loss rises under random perturbations of the
  weights of a fixed size (random-direction sharpness).

Every tensor is addressed by its TransformerLens state-dict name; the set of names is
whatever the family's model has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.family.model import live_tensors

if TYPE_CHECKING:
    import torch

__all__ = [
    "SKETCH_DIM", "SKETCH_SEED",
    "flatten", "random_projection", "participation_ratio", "weight_matrices",
    "trainable_parameters",
    "direction", "parameter_snapshot", "effective_dimensionality", "make_flatness",
    "singular_values_of",
    "readout_cross_entropy",
]

SKETCH_DIM = 1024
"""Components of the parameter sketch: distances are kept to about ±sqrt(1/(2*1024)) = 2%."""
SKETCH_SEED = 0
"""Seed of the projection; fixed, so sketches of every checkpoint (and run) are comparable."""
def _generator(seed: int, index: int) -> torch.Generator:
    """A CPU generator for stream ``(seed, index)``; streams are independent (the two
    integers are mixed by numpy's SeedSequence, so no two pairs share a seed)."""
    import torch
    state = np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def flatten(weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """All tensors flattened and concatenated in sorted name order: ``(n_params,)`` float32."""
    import torch
    return torch.cat([weights[name].detach().reshape(-1).to("cpu", torch.float32)
                      for name in sorted(weights)])


def random_projection(vector: torch.Tensor, dim: int = SKETCH_DIM, seed: int = SKETCH_SEED
                      ) -> np.ndarray:
    """A fast Johnson-Lindenstrauss sketch: random signs, an orthonormal DCT, ``dim``
    sampled coordinates, rescaled by ``sqrt(n / dim)``.

    This is the subsampled randomized trigonometric transform (Ailon & Chazelle 2009, "The
    fast Johnson-Lindenstrauss transform"; Tropp 2011 for the subsampled form): the random
    signs and the orthonormal transform spread any vector's energy evenly over all
    coordinates, so a uniform sample of ``dim`` of them, rescaled, keeps squared lengths
    in expectation and distances to about ``1/sqrt(2 * dim)``. It is linear, seeded by
    ``(seed, n)``, and costs O(n log n): milliseconds for 10^5 parameters, where a dense
    Gaussian projection takes seconds.
    Returns ``(dim,)`` float64.
    """
    import scipy.fft
    import torch
    x = vector.detach().to("cpu", torch.float64).numpy()  # (n,)
    n = max(x.size, dim)
    padded = np.zeros(n)
    padded[:x.size] = x  # a vector shorter than the sketch is zero-padded (still isometric)
    rng = np.random.default_rng([seed, x.size])
    signs = rng.choice((-1.0, 1.0), size=n)  # (n,)
    keep = rng.choice(n, size=dim, replace=False)  # (dim,)
    mixed = scipy.fft.dct(padded * signs, norm="ortho")  # (n,)
    return mixed[keep] * math.sqrt(n / dim)


def _snapshot(inputs: CheckpointInputs) -> Output:
    import torch
    names = sorted(inputs.weights)
    vector = flatten(inputs.weights)  # (n_params,)
    norms = [float(torch.linalg.vector_norm(inputs.weights[name].double())) for name in names]
    arrays = {"sketch": random_projection(vector).astype(np.float32),
              "group_norms": np.array(norms, dtype=np.float32)}
    return arrays, {"groups": names, "seed": SKETCH_SEED, "n_params": int(vector.numel())}


parameter_snapshot = Analyzer(
    name="parameter_snapshot",
    version=1,
    description=(
        "A distance-preserving sketch of all parameters: a seeded fast Johnson-Lindenstrauss "
        f"projection (random signs, DCT, subsampling) of the parameters in sorted name order to "
        f"{SKETCH_DIM} numbers, scaled so that sketch distances estimate parameter L2 "
        "distances (about 2% error); plus the L2 norm of every named tensor."
    ),
    arrays=(
        ArraySpec("sketch", "float32", ("component",),
                  "sqrt(n/1024) * DCT(signs * theta)[sampled], fixed seed"),
        ArraySpec("group_norms", "float32", ("group",),
                  "L2 norm of each named tensor, in the order of the 'groups' attribute"),
    ),
    attrs=(
        AttrSpec("groups", "json", "tensor names (one group per tensor), sorted"),
        AttrSpec("seed", "int", "seed of the projection"),
        AttrSpec("n_params", "int", "number of projected parameters"),
    ),
    compute=_snapshot,
)


def participation_ratio(matrix: torch.Tensor) -> float:
    """``(sum s^2)^2 / sum s^4`` over the singular values ``s`` of a 2-D ``matrix``.

    The participation ratio of the spectrum (Gao et al. 2017, "A theory of multineuronal
    dimensionality, dynamics and measurement"; Recanatesi et al. 2019): ``r`` for ``r``
    equal singular values and zeros, ``min(shape)`` for an orthogonal matrix, near 1 when one
    direction dominates. NaN for an all-zero matrix.
    """
    import torch
    energy = torch.linalg.svdvals(matrix.double()) ** 2  # (min(shape),)
    return float(energy.sum() ** 2 / (energy ** 2).sum())


def weight_matrices(weights: Mapping[str, torch.Tensor]) -> list[str]:
    """The names of the 2-D tensors of ``weights``, sorted: the matrices whose spectra
    ``effective_dimensionality`` (and :mod:`tdw.library.spectrum`) measure, in their order."""
    return sorted(name for name, tensor in weights.items() if tensor.ndim == 2)


_LAST_SPECTRA: list[tuple[tuple, dict[str, np.ndarray]]] = []
"""``[(key, spectra)]``: the last checkpoint's singular values, which both
``effective_dimensionality`` and ``singular_values`` (:mod:`tdw.library.spectrum`) read.
The key holds a weak reference to every matrix (it keeps none alive) and its in-place
version, so a tensor changed in place, or another checkpoint's, is never answered from
here; tensors made under ``torch.inference_mode`` keep no version and are not cached."""


def singular_values_of(weights: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """``{name: (rank,) float64 singular values, descending}`` of each 2-D tensor of
    ``weights`` (:func:`weight_matrices`), computed once per checkpoint (read-only arrays:
    two analyzers share them)."""
    import weakref

    import torch
    names = weight_matrices(weights)
    cacheable = not any(weights[name].is_inference() for name in names)
    key = tuple((name, weakref.ref(weights[name]), weights[name]._version) for name in names
                ) if cacheable else ()
    if cacheable and _LAST_SPECTRA and len(_LAST_SPECTRA[0][0]) == len(key) and all(
            n == m and a() is weights[n] and u == v
            for (n, a, u), (m, _, v) in zip(_LAST_SPECTRA[0][0], key, strict=True)):
        return _LAST_SPECTRA[0][1]
    spectra = {name: torch.linalg.svdvals(weights[name].detach().to("cpu", torch.float64)
                                          ).numpy() for name in names}
    for values in spectra.values():
        values.flags.writeable = False
    if cacheable:
        _LAST_SPECTRA[:] = [(key, spectra)]
    return spectra


def _effective_dimensionality(inputs: CheckpointInputs) -> Output:
    spectra = singular_values_of(inputs.weights)
    with np.errstate(invalid="ignore", divide="ignore"):  # an all-zero matrix: NaN
        ratios = [(s ** 2).sum() ** 2 / (s ** 4).sum() for s in spectra.values()]
    return ({"participation_ratio": np.array(ratios, dtype=np.float32)},
            {"matrices": list(spectra)})


effective_dimensionality = Analyzer(
    name="effective_dimensionality",
    version=1,
    description=(
        "Participation ratio (sum s^2)^2 / sum s^4 of the singular values of every 2-D weight "
        "tensor: how many directions a matrix effectively uses (Gao et al. 2017; Recanatesi "
        "et al. 2019)."
    ),
    arrays=(ArraySpec("participation_ratio", "float32", ("matrix",),
                      "participation ratio per matrix, between 1 and min(shape)"),),
    attrs=(AttrSpec("matrices", "json", "names of the 2-D tensors, sorted"),),
    compute=_effective_dimensionality,
)


def trainable_parameters(model: Any) -> dict[str, torch.Tensor]:
    """The model's live trainable parameters under their state-dict names, sorted by name.

    Buffers and frozen tensors (e.g. the bridge's fixed ``unembed.bias``) are left out:
    they are not part of the loss landscape the optimiser moves in.
    """
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    return {name: t for name, t in sorted(live_tensors(model).items()) if id(t) in trainable}


def direction(shapes: Mapping[str, tuple[int, ...]], seed: int, index: int
              ) -> dict[str, torch.Tensor]:
    """Random direction ``index`` of the stream ``seed`` over tensors of ``shapes``.

    i.i.d. N(0, 1) entries drawn tensor by tensor in sorted name order, then scaled by one
    global factor to unit L2 norm over all tensors together (no per-filter normalisation).
    """
    import torch
    generator = _generator(seed, index)
    raw = {name: torch.randn(shapes[name], generator=generator) for name in sorted(shapes)}
    norm = math.sqrt(sum(float((t.double() ** 2).sum()) for t in raw.values()))
    return {name: t / norm for name, t in raw.items()}


def _perturbed_loss(loss_fn: Callable[[Any, Mapping[str, torch.Tensor]], torch.Tensor],
                    inputs: CheckpointInputs, params: Mapping[str, torch.Tensor],
                    base: Mapping[str, torch.Tensor], step: Mapping[str, torch.Tensor]) -> float:
    """The loss with every parameter set to ``base + step`` (in place)."""
    for name, tensor in params.items():
        tensor.copy_(base[name] + step[name].to(tensor.device))
    return float(loss_fn(inputs.model, inputs.probe))


def readout_cross_entropy(readout: Callable[[Any, torch.Tensor], torch.Tensor], *,
                          every: int = 1
                          ) -> Callable[[Any, Mapping[str, torch.Tensor]], torch.Tensor]:
    """A ``loss_fn`` for :func:`make_flatness`: the float64 cross-entropy of
    ``readout(model, tokens)`` (``(batch, vocab)`` answer logits, a family's ``readout``)
    against the labels, over every ``every``-th input of the probe (``probe["tokens"]``,
    ``probe["labels"]``); ``every > 1`` trades precision for ``every`` times fewer forward
    passes on a large probe."""
    if every < 1:
        raise ValueError(f"every must be a positive stride, got {every}")

    def loss(model: Any, probe: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch
        logits = readout(model, probe["tokens"][::every]).to(torch.float64)
        return torch.nn.functional.cross_entropy(logits, probe["labels"][::every])

    return loss


def make_flatness(loss_fn: Callable[[Any, Mapping[str, torch.Tensor]], torch.Tensor], *,
                  radius: float = 0.1, n_directions: int = 8, seed: int = 0) -> Analyzer:
    """The ``flatness`` analyzer for a family whose probe loss is ``loss_fn(model, probe)``.

    For directions ``d_i`` from :func:`direction` (unit norm over all trainable parameters,
    the same directions at every checkpoint), ``delta_loss[i] = L(w + radius * d_i) - L(w)``:
    random-direction sharpness (Keskar et al. 2017; Jiang et al. 2020, "Fantastic
    generalization measures"). Its expectation over random directions is, to second order,
    ``radius^2 * trace(H) / (2 * n_params)``; the gradient term averages out only in
    expectation, so away from a minimum single deltas can be negative. Small deltas need a
    ``loss_fn`` computed in float64. The radius is absolute, not filter-normalised
    (Li et al. 2018): compare it with the weight norm (``parameter_snapshot.group_norms``),
    which weight decay shrinks during training.

    The model's parameters are perturbed in place and restored bit for bit from a copy,
    also when ``loss_fn`` raises.

    Args:
        loss_fn: the family's mean loss of ``model`` on the probe, a scalar tensor.
        radius: L2 length of each perturbation.
        n_directions: number of random directions.
        seed: seed of the directions.
    """
    if not radius > 0:
        raise ValueError(f"flatness radius must be positive, got {radius}")
    if n_directions < 1:
        raise ValueError(f"flatness needs at least one direction, got {n_directions}")

    steps: dict[tuple, list[dict[str, torch.Tensor]]] = {}  # the same at every checkpoint

    def compute(inputs: CheckpointInputs) -> Output:
        import torch
        params = trainable_parameters(inputs.model)
        base = {name: t.detach().clone() for name, t in params.items()}
        shapes = {name: tuple(t.shape) for name, t in base.items()}
        key = tuple(sorted(shapes.items()))
        drawn = steps.get(key)
        if drawn is None:  # drawn once per process (a few ms each), kept for the next
            drawn = [{name: radius * d for name, d in direction(shapes, seed, i).items()}
                     for i in range(n_directions)]
            steps.clear()
            steps[key] = drawn
        with torch.no_grad():
            base_loss = float(loss_fn(inputs.model, inputs.probe))
            try:
                losses = [_perturbed_loss(loss_fn, inputs, params, base, step)
                          for step in drawn]
            finally:
                for name, tensor in params.items():
                    tensor.copy_(base[name])
        delta = np.array(losses, dtype=np.float64) - base_loss  # (direction,)
        return ({"delta_loss": delta.astype(np.float32)},
                {"radius": float(radius), "base_loss": base_loss,
                 "mean_delta": float(delta.mean()), "n_directions": n_directions})

    return Analyzer(
        name="flatness",
        version=1,
        description=(
            f"Loss rise on the probe when all trainable parameters move by L2 distance {radius} "
            f"along {n_directions} seeded random unit directions (global normalisation, not "
            "filter-normalised): random-direction sharpness (Keskar et al. 2017; Jiang et al. "
            "2020). Flat minima give small rises."
        ),
        arrays=(ArraySpec("delta_loss", "float32", ("direction",),
                          "L(w + radius * d_i) - L(w) for each direction d_i"),),
        attrs=(
            AttrSpec("radius", "float", "L2 length of each perturbation"),
            AttrSpec("base_loss", "float", "probe loss at the checkpoint"),
            AttrSpec("mean_delta", "float", "mean of delta_loss"),
            AttrSpec("n_directions", "int", "number of directions"),
        ),
        compute=compute,
        needs_model=True,
    )
