"""The analyzer library: generic analyzers that work for any family.

``weights`` holds per-checkpoint analyzers of the parameters themselves (a random-projection
sketch, effective dimensionality, loss-landscape flatness), ``hessian`` the curvature
of a family's probe loss (top Hessian eigenvalues by Lanczos, gradient norm) and ``llc``
the local learning coefficient of its training loss (SGLD, Lau et al. 2023);
``trajectory``, ``transition``, ``phase`` and ``progress`` hold cross-epoch analyzers that read
per-epoch metrics or other analyzers' artifacts across all checkpoints (parameter
trajectory PCA, the grokking transition, phase changes dated by several signals, when inputs
and neuron clusters settle). Registration with the engine happens elsewhere.
"""
