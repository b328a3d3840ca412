"""The parameter trajectory block by block: which part of the model moves when.

:data:`parameter_trajectory <tdw.library.trajectory.parameter_trajectory>` follows all
parameters at once, so a phase where the embedding settles while the MLP still moves is
hidden in one curve. Here the parameters are split into blocks by name and each block gets
its own distance-preserving sketch (:data:`block_snapshot`, per checkpoint) and its own
trajectory PCA and speed (:data:`block_trajectory`, across checkpoints).

**The name rule** (:data:`BLOCK_RULES`, :func:`block_of`) reads the TransformerLens
state-dict name of a tensor, the same in every family built on ``TransformerBridge``:

* ``embedding``: ``embed.*`` and ``pos_embed.*`` (token and positional embedding);
* ``attention``: ``blocks.<layer>.attn.*`` (queries, keys, values, output and their biases,
  every layer together);
* ``mlp``: ``blocks.<layer>.mlp.*`` (input and output weights and biases, every layer);
* ``unembedding``: ``unembed.*``;
* ``other``: every other tensor, e.g. the LayerNorm scales and biases (``blocks.0.ln1.*``,
  ``ln_final.*``) or an architecture's extra parts. They are kept, not refused, so that the
  blocks partition the parameters: the blocks' squared distances add up to the whole
  model's, and an unknown architecture still gets a trajectory (under ``other``).

The rule matches whole dotted components, so the bridge's names (``blocks.0.attn.q.weight``)
and the older TransformerLens aliases (``blocks.0.attn.W_Q``, ``embed.W_E``) land alike,
and ``embed_ln.weight`` is not an embedding. A block with no tensor (the MLP of an
attention-only model) is left out of the artifact; its ``blocks`` attribute lists the
blocks present, in :data:`BLOCKS` order.

>>> [block_of(n) for n in ("pos_embed.weight", "blocks.1.attn.o.bias", "blocks.0.mlp.W_in",
...                        "unembed.weight", "blocks.0.ln1.weight", "embed_ln.weight")]
['embedding', 'attention', 'mlp', 'unembedding', 'other', 'other']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from tdw.family.analyzer import (
    Analyzer,
    CheckpointInputs,
    CrossEpochAnalyzer,
    CrossEpochInputs,
    Output,
)
from tdw.family.artifacts import ArraySpec, Artifact, AttrSpec
from tdw.library.trajectory import MAX_COMPONENTS, rate_of_change, trajectory_pca
from tdw.library.weights import SKETCH_SEED, flatten, random_projection

__all__ = ["BLOCKS", "BLOCK_RULES", "OTHER", "BLOCK_SKETCH_DIM", "block_of", "group_blocks",
           "block_snapshot", "block_trajectory"]

OTHER = "other"
"""The block of every tensor no rule claims."""
BLOCK_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("embedding", re.compile(r"(?:embed|pos_embed)\.")),
    ("attention", re.compile(r"blocks\.\d+\.attn\.")),
    ("mlp", re.compile(r"blocks\.\d+\.mlp\.")),
    ("unembedding", re.compile(r"unembed\.")),
)
"""(block, pattern) in order; a name belongs to the first block whose pattern matches its
start, else to :data:`OTHER`."""
BLOCKS = (*(block for block, _ in BLOCK_RULES), OTHER)
"""Every block, in the order artifacts list them."""
BLOCK_SKETCH_DIM = 256
"""Components of each block's sketch. Distances are kept to about ±sqrt(1/(2*256)) = 4.4%
(one standard deviation), against 2% for the whole model's 1024; the four blocks of a
grokking model then take 4 KB per checkpoint, as much as the whole-model sketch. A block
with fewer parameters is zero-padded and its sketch is exact."""


def block_of(name: str) -> str:
    """The block of the tensor called ``name`` (a TransformerLens state-dict name)."""
    for block, pattern in BLOCK_RULES:
        if pattern.match(name):
            return block
    return OTHER


def group_blocks(names: Iterable[str]) -> dict[str, list[str]]:
    """Block -> its tensor names, sorted; only blocks with a tensor, in :data:`BLOCKS` order."""
    groups: dict[str, list[str]] = {block: [] for block in BLOCKS}
    for name in names:
        groups[block_of(name)].append(name)
    return {block: sorted(members) for block, members in groups.items() if members}


def _block_snapshot(inputs: CheckpointInputs) -> Output:
    import torch
    groups = group_blocks(inputs.weights)
    sketches, norms, sizes = [], [], []
    for members in groups.values():
        vector = flatten({name: inputs.weights[name] for name in members})  # (n_block,)
        sketches.append(random_projection(vector, BLOCK_SKETCH_DIM, SKETCH_SEED))
        norms.append(float(torch.linalg.vector_norm(vector.double())))
        sizes.append(vector.numel())
    arrays = {"sketch": np.stack(sketches).astype(np.float32),  # (block, component)
              "norms": np.array(norms, dtype=np.float32),
              "n_params": np.array(sizes, dtype=np.int64)}
    return arrays, {"blocks": list(groups), "tensors": groups, "seed": SKETCH_SEED,
                    "dim": BLOCK_SKETCH_DIM}


block_snapshot = Analyzer(
    name="block_snapshot",
    version=1,
    description=(
        "parameter_snapshot block by block: the parameters split by name into embedding "
        "(embed, pos_embed), attention (blocks.*.attn), MLP (blocks.*.mlp), unembedding "
        "(unembed) and other (e.g. LayerNorms), each block sketched by the same seeded fast "
        f"Johnson-Lindenstrauss projection to {BLOCK_SKETCH_DIM} numbers (sketch distances "
        "estimate the block's L2 distances, about 4% error), plus each block's L2 norm."
    ),
    arrays=(
        ArraySpec("sketch", "float32", ("block", "component"),
                  f"per block, sqrt(n/{BLOCK_SKETCH_DIM}) * DCT(signs * theta_block)[sampled], "
                  "the block's tensors in sorted name order, fixed seed"),
        ArraySpec("norms", "float32", ("block",), "L2 norm of each block's parameters"),
        ArraySpec("n_params", "int64", ("block",), "number of parameters in each block"),
    ),
    attrs=(
        AttrSpec("blocks", "json", "the blocks present, in the order of the arrays"),
        AttrSpec("tensors", "json", "block -> its tensor names, sorted"),
        AttrSpec("seed", "int", "seed of the projection"),
        AttrSpec("dim", "int", "components of each block's sketch"),
    ),
    compute=_block_snapshot,
)


def _same_blocks(artifacts: Sequence[Artifact]) -> list[str]:
    """The blocks every checkpoint's ``block_snapshot`` lists; they must agree, since a
    block's path means nothing across different sets of tensors."""
    listed = [list(a.attrs["blocks"]) for a in artifacts]
    if any(blocks != listed[0] for blocks in listed):
        raise ValueError(f"block_snapshot artifacts list different blocks across checkpoints "
                         f"({sorted({tuple(b) for b in listed})}); re-run block_snapshot on "
                         "every checkpoint")
    return listed[0]


def _block_trajectory(inputs: CrossEpochInputs) -> Output:
    epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
    artifacts = inputs.artifacts["block_snapshot"]
    blocks = _same_blocks(artifacts)
    sketches = np.stack([a["sketch"] for a in artifacts]
                        ).astype(np.float64)  # (checkpoint, block, component)
    n_components = min(MAX_COMPONENTS, len(epochs))
    pcs, ratios, speeds = [], [], []
    for b in range(len(blocks)):
        scores, ratio = trajectory_pca(sketches[:, b], n_components)
        pcs.append(scores)
        ratios.append(ratio)
        speeds.append(np.linalg.norm(rate_of_change(sketches[:, b], epochs), axis=1))
    arrays = {
        "epochs": epochs,
        "pcs": np.stack(pcs).astype(np.float32),  # (block, checkpoint, component)
        "explained_variance_ratio": np.stack(ratios).astype(np.float32),  # (block, component)
        "speed": np.stack(speeds).astype(np.float32),  # (block, checkpoint), NaN at 0
    }
    return arrays, {"blocks": blocks,
                    "n_params": [int(n) for n in artifacts[-1]["n_params"]]}


block_trajectory = CrossEpochAnalyzer(
    name="block_trajectory",
    version=1,
    description=(
        "parameter_trajectory block by block: for each block of block_snapshot (embedding, "
        "attention, MLP, unembedding, other), PCA of its sketches centred across checkpoints "
        "(Li et al. 2018) and its speed, the sketch distance between consecutive checkpoints "
        "per epoch: which block moves when."
    ),
    arrays=(
        ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
        ArraySpec("pcs", "float32", ("block", "checkpoint", "component"),
                  "each block's scores on its own top min(10, n_checkpoints) principal "
                  "components, each signed so that the last checkpoint scores above the first"),
        ArraySpec("explained_variance_ratio", "float32", ("block", "component"),
                  "share of each block's trajectory variance on each of its components (NaN "
                  "for a block that never moves)"),
        ArraySpec("speed", "float32", ("block", "checkpoint"),
                  "||sketch_b[i] - sketch_b[i-1]|| / (epoch[i] - epoch[i-1]), estimating the "
                  "block's parameter L2 distance per epoch; NaN at the first checkpoint"),
    ),
    attrs=(
        AttrSpec("blocks", "json", "the blocks, in the order of the arrays"),
        AttrSpec("n_params", "json", "number of parameters in each block"),
    ),
    compute=_block_trajectory,
    inputs=("block_snapshot",),
)
