"""Toy Operations: a two-block transformer learns Max/Min/First/Second/Last of three digits.

The user's seed study 002 ("Training dynamics over time") reports that attention sharpens
from uniform to focused, embeddings organise (digits in order, operations in groups),
neurons specialise by operation and by digit magnitude, and some operations are learned
before others; the analyzers measure each claim per checkpoint. Inputs are
``Op ( a , b , c )``; the answer digit is read at ``)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tdw.family.family import Family, TrainConfig
from tdw.family.params import Param
from tdw.library.blocks import block_snapshot, block_trajectory
from tdw.library.trajectory import parameter_trajectory
from tdw.library.weights import (
    effective_dimensionality,
    make_flatness,
    parameter_snapshot,
    readout_cross_entropy,
)

from . import data
from .hooks import D_HEAD, D_MLP, D_MODEL, N_HEADS, N_LAYERS
from .readout import answer_logits

__all__ = ["FAMILY"]

PARAMS = (
    # 32-bit seeds: torch's and numpy's generators take them, and variant ids stay short
    Param("model_seed", "int", 0, "seed of the weight initialisation",
          minimum=0, maximum=2**32 - 1, identity=True, short="ms"),
    Param("data_seed", "int", 0, "seed of the train/held-out split of the 5000 inputs",
          minimum=0, maximum=2**32 - 1, identity=True, short="ds"),
    Param("train_fraction", "float", 0.8, "share of each operation's 1000 inputs used for "
          "training (the rest are held out)", minimum=0.01, maximum=0.99),
    Param("n_epochs", "int", 50, "passes over the training inputs", minimum=1,
          maximum=1_000_000),
    Param("batch_size", "int", 32, "minibatch size", minimum=1,
          maximum=5000),
    Param("lr", "float", 1e-3, "AdamW learning rate", minimum=1e-6, maximum=1.0),
    Param("weight_decay", "float", 0.0, "AdamW weight decay (0: plain Adam, as in the seed "
          "study)", minimum=0.0, maximum=100.0),
)



def model_config(values: Mapping[str, Any]):
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig(
        n_layers=N_LAYERS, d_model=D_MODEL, n_heads=N_HEADS, d_head=D_HEAD, d_mlp=D_MLP,
        act_fn="relu", normalization_type="LN", positional_embedding_type="standard",
        d_vocab=len(data.VOCAB), d_vocab_out=data.N_DIGITS, n_ctx=data.N_CTX,
        seed=values["model_seed"],
    )


def train_config(values: Mapping[str, Any]) -> TrainConfig:
    return TrainConfig(n_epochs=values["n_epochs"], lr=values["lr"],
                       weight_decay=values["weight_decay"], betas=(0.9, 0.999),
                       batch_size=values["batch_size"], shuffle_seed=values["data_seed"])


def default_schedule(values: Mapping[str, Any]) -> str:
    """About 50 evenly spaced checkpoints (every epoch for runs of up to 50 epochs)."""
    n = values["n_epochs"]
    return f"0-{n}/{max(1, n // 50)},end"


from .analyzers import ANALYZERS, CROSS_EPOCH  # noqa: E402  (after the constants they read)
from .views import VIEWS  # noqa: E402

FAMILY = Family(
    name="toy_operations",
    title="Toy Operations",
    description=(
        "Two-block transformer (d_model 64, 4 heads, d_mlp 256, ReLU, LayerNorm) trained with "
        "minibatch Adam to answer Max/Min/First/Second/Last of three digits, "
        "'Max ( 1 , 6 , 2 )' -> 6. The probe is all 5000 inputs."
    ),
    params=PARAMS,
    model_config=model_config,
    dataset=data.dataset,
    probe=data.probe,
    train_config=train_config,
    default_schedule=default_schedule,
    readout=answer_logits,
    analyzers=(*ANALYZERS, parameter_snapshot, block_snapshot, effective_dimensionality,
               # Every 5th input (200 per operation): 9 forward passes of 1000 inputs per
               # checkpoint instead of 5000.
               make_flatness(readout_cross_entropy(answer_logits, every=5))),
    cross_epoch=(parameter_trajectory, block_trajectory, *CROSS_EPOCH),
    # No transition: the held-out loss falls from the first epoch on (no plateau, no grokking), so
    # grokking_transition finds none; the learning order is in operation_learning instead.
    transition=None,
    views=VIEWS,
    summaries=(("learned first", "operation_learning", "first"),
               ("digit order", "embedding_geometry", "digit_order")),
    presets={
        "quick": {"n_epochs": 15, "batch_size": 64, "lr": 1e-4},
        # Two full-batch steps over half the inputs: three checkpoints in seconds.
        "tiny": {"n_epochs": 2, "batch_size": 2500, "train_fraction": 0.5},
    },
)
