"""Sequence Reversal: a one-layer attention-only transformer learns to reverse a sequence.

An example tdw family in a package of its own. The package declares ``FAMILY`` in its
``tdw.families`` entry point (see ``pyproject.toml``), and tdw registers it with the
built-ins: ``tdw families`` lists it, ``tdw train sequence_reversal`` trains it, and every
dashboard shows its views. It uses only tdw's public SDK: the names ``tdw`` exports, and
``tdw.family.*`` and ``tdw.library.*``.

The model reads ``x SEP`` and writes ``x`` backwards. Every answer is a copy of a token
at a position fixed by the answer's own position, so one attention layer suffices: a head
whose queries (from the positional embeddings) find the *mirror* key about the separator,
and whose OV circuit copies the token there. ``mirror_attention`` measures that head
forming; ``reversal_attention`` draws its pattern at every checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from tdw import Family, Param, ParameterError, TrainConfig

from . import data
from .analyzers import ANALYZERS
from .views import VIEWS

__all__ = ["FAMILY"]

PARAMS = (
    Param("length", "int", 8, "tokens to reverse; sequences are 2 * length long",
          minimum=2, maximum=32, identity=True, short="L"),
    Param("d_vocab", "int", 16, "distinct tokens (the separator is one more)", minimum=2,
          maximum=256),
    Param("n_train", "int", 1024, "training sequences (one epoch is one pass)", minimum=64,
          maximum=100_000),
    Param("batch_size", "int", 64, "minibatch size", minimum=1, maximum=100_000),
    Param("n_epochs", "int", 30, "training epochs", minimum=1, maximum=100_000),
    Param("lr", "float", 1e-3, "AdamW learning rate", minimum=1e-6, maximum=1.0),
    Param("weight_decay", "float", 0.01, "AdamW weight decay", minimum=0.0, maximum=10.0),
    # Seeds name the variant (identity=True): they appear in its id, e.g. L8-ms0-ds0.
    Param("model_seed", "int", 0, "seed of the weight initialisation", minimum=0,
          maximum=2**32 - 1, identity=True, short="ms"),
    Param("data_seed", "int", 0, "seed of the training and held-out sequences", minimum=0,
          maximum=2**32 - 1, identity=True, short="ds"),
)

# The architecture is the family's; variants differ only in PARAMS.
N_HEADS, D_HEAD = 2, 16


def check(values: Mapping[str, Any]) -> None:
    """Constraints between parameters (each ``Param`` checks only its own value): there
    must be room for the distinct held-out sequences, with as many to spare for training."""
    possible = values["d_vocab"] ** values["length"]
    if possible < 2 * data.N_HELD_OUT:
        raise ParameterError(
            f"d_vocab {values['d_vocab']} and length {values['length']} make only {possible} "
            f"distinct sequences, and the family holds out {data.N_HELD_OUT}: raise d_vocab or "
            f"length until d_vocab ** length >= {2 * data.N_HELD_OUT}")


def model_config(values: Mapping[str, Any]):
    """One attention-only layer (no MLP, no LayerNorm) with learned positions."""
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig(
        n_layers=1, d_model=N_HEADS * D_HEAD, n_heads=N_HEADS, d_head=D_HEAD, attn_only=True,
        act_fn="relu", normalization_type=None, positional_embedding_type="standard",
        d_vocab=values["d_vocab"] + 1, d_vocab_out=values["d_vocab"],
        n_ctx=2 * values["length"], seed=values["model_seed"],
    )


def train_config(values: Mapping[str, Any]) -> TrainConfig:
    return TrainConfig(n_epochs=values["n_epochs"], lr=values["lr"],
                       weight_decay=values["weight_decay"], betas=(0.9, 0.98),
                       batch_size=values["batch_size"], shuffle_seed=values["data_seed"])


def default_schedule(values: Mapping[str, Any]) -> str:
    """About 30 evenly spaced checkpoints (every epoch for runs of up to 30 epochs)."""
    n = values["n_epochs"]
    return f"0-{n}/{max(1, n // 30)},end"


def sequence_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    """``(batch, 2L)`` tokens -> ``(batch, 2L, d_vocab)`` logits at every position: the
    loss is taken per position, where the labels are not ``IGNORE_LABEL``."""
    return model(tokens)


FAMILY = Family(
    name="sequence_reversal",
    title="Sequence Reversal (example plugin)",
    description=(
        "One-layer attention-only transformer (2 heads of 16, learned positions, no "
        "LayerNorm) trained with AdamW minibatches to write a random sequence of 8 tokens "
        "backwards after a separator. The probe is the 256 held-out sequences. An example "
        "of a family in a package of its own (examples/tdw-example-family)."
    ),
    params=PARAMS,
    model_config=model_config,
    dataset=data.dataset,
    probe=data.probe,
    train_config=train_config,
    default_schedule=default_schedule,
    check=check,
    readout=sequence_logits,
    analyzers=ANALYZERS,
    views=VIEWS,
    summaries=(("best head's mirror attention", "mirror_attention", "max_mirror"),),
    presets={
        # Every family declares "tiny": four checkpoints in seconds on a CPU, which tdw's
        # every-family test trains, analyses and renders.
        "tiny": {"n_train": 128, "n_epochs": 3},
    },
)
