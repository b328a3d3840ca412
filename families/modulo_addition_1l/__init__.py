"""Modulo Addition 1-Layer: the grokking model of Nanda et al. (2023).

"Progress measures for grokking via mechanistic interpretability" (arXiv:2301.05217):
a one-layer transformer without LayerNorm learns (a + b) mod p from 30% of all pairs,
memorises first, and generalises thousands of epochs later via a Fourier circuit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tdw.family.family import Family, TrainConfig
from tdw.family.params import Param, is_prime
from tdw.library.blocks import block_snapshot, block_trajectory
from tdw.library.llc import SGLDConfig, make_llc
from tdw.library.llc_views import LLC_DIAGNOSTIC_VIEWS
from tdw.library.phase import Signal, make_phase_change
from tdw.library.progress import graduation, neuron_specialisation
from tdw.library.spectrum import singular_values
from tdw.library.trajectory import parameter_trajectory
from tdw.library.transition import grokking_transition
from tdw.library.weights import effective_dimensionality, make_flatness, parameter_snapshot

from . import data, recipes
from .grid import D_HEAD, D_MLP, D_MODEL, N_HEADS
from .grid_forward import grid_activations, grid_logits, is_grid
from .init_sweep import COMMAND as INIT_GRADIENTS
from .miscope_import import COMMAND as IMPORT_MISCOPE
from .pages import PAGES
from .readout import answer_logits

__all__ = ["FAMILY"]


def _prime(value: int) -> str | None:
    return None if is_prime(value) else "the modulus must be prime (e.g. 53, 59, 97, 113)"


PARAMS = (
    Param("p", "int", 113, "modulus: inputs and answers are residues mod p",
          minimum=3, maximum=1021, check=_prime, identity=True, short="p"),
    # Seeds stay within 32 bits: numpy's and torch's generators accept them, and the
    # variant id stays short.
    Param("model_seed", "int", 999, "seed of the weight initialisation",
          minimum=0, maximum=2**32 - 1, identity=True, short="ms"),
    Param("data_seed", "int", 598, "seed of the train/test split of the (a, b) grid",
          minimum=0, maximum=2**32 - 1, identity=True, short="ds"),
    Param("train_fraction", "float", 0.3, "share of the p*p pairs used for training",
          minimum=0.01, maximum=0.99),
    Param("n_epochs", "int", 25_000, "full-batch training epochs", minimum=1, maximum=10_000_000),
    Param("lr", "float", 1e-3, "AdamW learning rate", minimum=1e-6, maximum=1.0),
    Param("weight_decay", "float", 1.0, "AdamW weight decay (drives the clean-up phase)",
          minimum=0.0, maximum=100.0),
    # Not identity: variants made before it existed keep their ids (they are "tdw"); a
    # miscope variant's id carries the hash of recipe=miscope. See the README.
    Param("recipe", "str", recipes.DEFAULT_RECIPE,
          "split and initial weights: tdw (numpy split, TransformerLens 4 bridge init) or "
          "miscope (MIScope's and Nanda's demo's: torch randperm split, HookedTransformer init, "
          "frozen biases)",
          choices=recipes.RECIPES),
)


# Checkpoint windows as fractions of the run: dense through memorisation, sparse through
# circuit formation, dense again where the test loss falls, then sparse through clean-up.
# For the canonical 25k epochs this is 0-1500/100, 1500-9000/500, 9000-13000/100,
# 13000-25000/500 and the final epoch.
_WINDOWS = ((0.0, 0.06, 0.004), (0.06, 0.36, 0.02), (0.36, 0.52, 0.004), (0.52, 1.0, 0.02))


def model_config(values: Mapping[str, Any]):
    from transformer_lens.config import TransformerBridgeConfig

    p = values["p"]
    return TransformerBridgeConfig(
        n_layers=1, d_model=D_MODEL, n_heads=N_HEADS, d_head=D_HEAD, d_mlp=D_MLP,
        act_fn="relu", normalization_type=None, positional_embedding_type="standard",
        d_vocab=p + 1, d_vocab_out=p, n_ctx=3, seed=values["model_seed"],
    )


def train_config(values: Mapping[str, Any]) -> TrainConfig:
    return TrainConfig(n_epochs=values["n_epochs"], lr=values["lr"],
                       weight_decay=values["weight_decay"], betas=(0.9, 0.98))


def default_schedule(values: Mapping[str, Any]) -> str:
    n = values["n_epochs"]
    segments = []
    for start, stop, step in _WINDOWS:
        lo, hi, dt = round(start * n), round(stop * n), max(1, round(step * n))
        segments.append(f"{lo}-{hi}/{dt}")
    return ",".join(segments) + ",end"


def probe_loss(model, probe: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy over the full (a, b) grid: the loss whose landscape ``flatness`` probes
    (logits from the token tables of ``grid_forward.py``: the bridge's, with a fifth of the
    arithmetic of the answer-position readout)."""
    import torch
    import torch.nn.functional as F
    tokens = probe["tokens"]
    p = int(tokens[0, 2])
    logits = grid_logits(model, p) if is_grid(tokens, p) else answer_logits(model, tokens)
    return F.cross_entropy(logits.to(torch.float64), probe["labels"].to(logits.device))


LLC_CONFIG = SGLDConfig(lr=3e-5, localization=1000.0, chains=2, draws=80, burnin=40,
                        batch_size=256, seed=0)
"""SGLD for the local learning coefficient, calibrated on the quick preset (p = 59, 1,740
training pairs, n*beta = n / log n = 233): at step 3e-5 the chains plateau within ~30 steps
with localisation 1000 (with 100 they were still rising after 150 steps, at every step
size tried), and minibatches of 256 keep a checkpoint to 2 x 120 forward/backward passes.
See the family README for the measured curve and cost."""

SIGNALS = (
    Signal("restricted loss", "progress_measures", lambda a: a.attrs["restricted_loss"],
           direction=-1, min_change=1.0, log=True),
    Signal("test loss", "progress_measures", lambda a: a.attrs["test_loss"], direction=-1,
           min_change=1.0, log=True),
    Signal("LLC", "llc", lambda a: a.attrs["llc_mean"], direction=-1, min_change=0.1,
           log=True),
)
"""Signals of the grokking phase change: the restricted loss (only the key frequencies;
Nanda et al. 2023, §5) falls by >= 1 decade as the Fourier circuit forms, the test loss
falls with or after it, and the local learning coefficient falls (by >= 0.1 decades, x0.8)
as the memorising solution gives way to a simpler one. The restricted loss is primary: it
dates the circuit's formation (its jump starts at epoch 900 on the quick preset), while the
test loss falls later and drags a long tail on a log scale (its jump runs over 1,170-2,450,
its bulk from about 1,450), so it agrees, but would date the phase change late."""

from .analyzers import ANALYZERS  # noqa: E402  (after the constants the analyzers read)
from .centroid_trajectory import CROSS_EPOCH as TRAJECTORY  # noqa: E402
from .classes import CROSS_EPOCH as CLASSES  # noqa: E402
from .dynamics import CROSS_EPOCH as DYNAMICS  # noqa: E402
from .story import CROSS_EPOCH as STORY  # noqa: E402
from .viability import CROSS_EPOCH as VIABILITY  # noqa: E402
from .views import VIEWS  # noqa: E402

if TYPE_CHECKING:
    import torch

FAMILY = Family(
    name="modulo_addition_1l",
    title="Modulo Addition 1-Layer",
    description=(
        "One-layer transformer (d_model 128, 4 heads, d_mlp 512, ReLU, no LayerNorm) "
        "trained full-batch with AdamW on (a + b) mod p from a fraction of all pairs; "
        "it memorises, then groks (Nanda et al. 2023). The probe is the full p x p grid."
    ),
    params=PARAMS,
    model_config=model_config,
    boot=recipes.make_boot(model_config),  # the recipe's initial weights (recipes.py)
    dataset=data.dataset,
    probe=data.probe,
    train_config=train_config,
    default_schedule=default_schedule,
    readout=answer_logits,
    probe_forward=grid_activations,
    analyzers=(*ANALYZERS, parameter_snapshot, block_snapshot,
               effective_dimensionality, singular_values,
               make_flatness(probe_loss), make_llc(answer_logits, data.dataset, LLC_CONFIG)),
    cross_epoch=(parameter_trajectory, block_trajectory,
                 grokking_transition, graduation, neuron_specialisation,
                 make_phase_change(SIGNALS), *DYNAMICS, *TRAJECTORY, *CLASSES, *VIABILITY, *STORY),
    views=(*VIEWS, *LLC_DIAGNOSTIC_VIEWS),
    transition="grokking_transition",
    story="variant_story",
    commands=(INIT_GRADIENTS, IMPORT_MISCOPE),
    pages=PAGES,
    summaries=(("key frequencies", "dominant_frequencies", "key_frequencies"),),
    presets={
        # A CPU-sized run that still groks; see the family README for the measurements.
        "quick": {"p": 59, "train_fraction": 0.5, "n_epochs": 2500},
        # p = 11 for three epochs: the default schedule keeps every epoch, four checkpoints
        # in seconds (too short to grok; it exercises every analyzer and view, and the LLC's
        # SGLD chains, about 10 s per checkpoint on a CPU, dominate its analysis).
        "tiny": {"p": 11, "train_fraction": 0.5, "n_epochs": 3},
    },
)
