"""Induction Heads: small attention-only transformers and the phase change of Olsson et al.

"In-context learning and induction heads" (Olsson et al. 2022, transformer-circuits.pub):
two-layer attention-only transformers trained on sequences that repeat random segments
form induction heads (a previous-token head in layer 0 whose output a layer-1 head's keys
read, so the layer-1 head attends to the token after the previous occurrence of the
current one and copies it) in an abrupt phase change, visible at once in the heads'
induction scores, the in-context learning score and the loss. ``repeat_fraction = 0`` is
the plain-random control, where nothing can be learned in context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tdw.errors import ParameterError
from tdw.family.family import Family, TrainConfig
from tdw.family.params import Param
from tdw.library.blocks import block_snapshot, block_trajectory
from tdw.library.hessian import make_hessian_spectrum
from tdw.library.phase import Signal, make_phase_change
from tdw.library.trajectory import parameter_trajectory
from tdw.library.weights import effective_dimensionality, make_flatness, parameter_snapshot

from . import data
from .analyzers import ANALYZERS, probe_loss, probe_loss_float32
from .forward import sequence_logits
from .views import VIEWS

__all__ = ["FAMILY"]

PARAMS = (
    Param("n_layers", "int", 2, "attention-only layers (induction needs two)",
          minimum=1, maximum=4, identity=True, short="L"),
    Param("n_heads", "int", 4, "attention heads per layer", minimum=1, maximum=16,
          identity=True, short="H"),
    Param("d_head", "int", 16, "dimension of each head; d_model = n_heads * d_head",
          minimum=2, maximum=128),
    Param("d_vocab", "int", 32, "vocabulary size (tokens drawn uniformly)", minimum=4,
          maximum=4096),
    Param("n_ctx", "int", 32, "sequence length", minimum=8, maximum=1024),
    Param("segment_length", "int", 12, "length of the repeated random segment "
          "(at most n_ctx // 2)", minimum=2, maximum=512),
    Param("repeat_fraction", "float", 1.0, "share of training sequences with a repeated "
          "segment; 0 is the plain-random control", minimum=0.0, maximum=1.0),
    Param("n_train", "int", 4096, "training sequences (one epoch is one pass)", minimum=64,
          maximum=1_000_000),
    Param("batch_size", "int", 64, "minibatch size", minimum=1, maximum=65_536),
    Param("n_epochs", "int", 40, "training epochs", minimum=1, maximum=100_000),
    Param("lr", "float", 3e-3, "AdamW learning rate", minimum=1e-6, maximum=1.0),
    Param("weight_decay", "float", 0.01, "AdamW weight decay", minimum=0.0, maximum=10.0),
    # 32-bit seeds: torch's and numpy's generators take them, and variant ids stay short
    Param("model_seed", "int", 0, "seed of the weight initialisation", minimum=0,
          maximum=2**32 - 1, identity=True, short="ms"),
    Param("data_seed", "int", 0, "seed of the training, test and probe sequences", minimum=0,
          maximum=2**32 - 1, identity=True, short="ds"),
)

MAX_CHECKPOINTS = 100
"""The default schedule keeps every epoch up to this many, then spaces them evenly."""


def check(values: Mapping[str, Any]) -> None:
    """Constraints between parameters, which :class:`~tdw.family.params.Param` checks one by
    one: the repeated segment must fit twice in a sequence, and a minibatch in the data."""
    if 2 * values["segment_length"] > values["n_ctx"]:
        raise ParameterError(
            f"segment_length {values['segment_length']} does not fit twice in n_ctx "
            f"{values['n_ctx']}: set segment_length <= {values['n_ctx'] // 2}")
    if values["batch_size"] > values["n_train"]:
        raise ParameterError(f"batch_size {values['batch_size']} exceeds n_train "
                             f"{values['n_train']}: lower it (or raise n_train)")


def model_config(values: Mapping[str, Any]):
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig(
        n_layers=values["n_layers"], d_model=values["n_heads"] * values["d_head"],
        n_heads=values["n_heads"], d_head=values["d_head"], attn_only=True,
        act_fn="relu", normalization_type=None, positional_embedding_type="standard",
        d_vocab=values["d_vocab"], d_vocab_out=values["d_vocab"], n_ctx=values["n_ctx"],
        seed=values["model_seed"],
    )


def train_config(values: Mapping[str, Any]) -> TrainConfig:
    return TrainConfig(n_epochs=values["n_epochs"], lr=values["lr"],
                       weight_decay=values["weight_decay"], betas=(0.9, 0.98),
                       batch_size=values["batch_size"], shuffle_seed=values["data_seed"])


def default_schedule(values: Mapping[str, Any]) -> str:
    n = values["n_epochs"]
    return f"0-{n}/{max(1, -(-n // MAX_CHECKPOINTS))},end"


SIGNALS = (
    Signal("induction score", "head_scores", lambda a: a.attrs["max_induction"],
           direction=1, min_change=0.2),
    Signal("in-context learning score", "in_context_learning",
           lambda a: a.attrs["icl_score"], direction=-1, min_change=0.5),
    Signal("Hessian top eigenvalue", "hessian_spectrum",
           lambda a: a.attrs["top_eigenvalue"], direction=1, min_change=0.1, log=True),
)
"""The phase change's signals (Olsson et al. 2022, Fig. 2 and 7): the best head's induction
score jumps (by >= 0.2 of attention), the in-context score falls (by >= 0.5 nats), and the
curvature of the probe loss rises (by >= 0.1 decades, x1.26)."""

phase_change = make_phase_change(SIGNALS)

FAMILY = Family(
    name="induction_heads",
    title="Induction Heads",
    description=(
        "Attention-only transformers (2 layers, 4 heads of 16, no LayerNorm, learned "
        "positions) trained with AdamW minibatches on random token sequences that repeat a "
        "random segment at random places; they form induction heads in an abrupt phase "
        "change (Olsson et al. 2022). repeat_fraction = 0 is the plain-random control. The "
        "probe is 64 repeated random sequences [x, x] and 64 plain random ones."
    ),
    params=PARAMS,
    model_config=model_config,
    dataset=data.dataset,
    probe=data.probe,
    train_config=train_config,
    default_schedule=default_schedule,
    check=check,
    readout=sequence_logits,
    analyzers=(*ANALYZERS, make_hessian_spectrum(probe_loss_float32, k=3, iterations=50),
               parameter_snapshot, block_snapshot, effective_dimensionality,
               make_flatness(probe_loss)),
    cross_epoch=(parameter_trajectory, block_trajectory, phase_change),
    views=VIEWS,
    transition="phase_change",
    summaries=(("best induction head", "head_scores", "best_induction_head"),
               ("phase-change signals agreeing", "phase_change", "agreeing")),
    presets={
        # A CPU-sized run that forms induction heads; see the README for measurements.
        "quick": {"n_epochs": 24},
        # Two heads of 4 on sequences of 8 tokens: four checkpoints in seconds (forms no
        # induction heads; it exercises every analyzer and view).
        "tiny": {"n_heads": 2, "d_head": 4, "d_vocab": 7, "n_ctx": 8, "segment_length": 3,
                 "n_train": 64, "batch_size": 32, "n_epochs": 3},
    },
)
