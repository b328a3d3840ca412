"""Recipes: which split and which initial weights a Modulo Addition variant starts from.

``tdw`` (the default) draws the split with ``numpy.random.default_rng(data_seed)`` and
takes the initial weights of the TransformerLens 4 bridge (``boot_native``, seeded by
``model_seed``). ``miscope`` is the recipe of MIScope and of
Nanda's Grokking demo: ``torch.manual_seed(data_seed); torch.randperm(p * p)`` with the
first ``int(p * p * train_fraction)`` pairs for training, and the weights TransformerLens
2.x's ``HookedTransformer(cfg)`` gives with ``init_weights=True, seed=model_seed``.

This module re-implements that initialisation without the old package: ``init_weights``
calls ``torch.manual_seed(seed)``, then for each parameter whose name holds ``W_``, in
``named_parameters()`` order (:data:`HOOKED_ORDER`), draws ``normal_(0,
initializer_range)`` with ``initializer_range = 0.8 / sqrt(d_model)`` (``init_mode``
"gpt2"); biases stay zero. The weights are then mapped onto the bridge's layout
(:func:`hooked_to_bridge`), and its biases are frozen at zero, as MIScope froze them
(:func:`make_boot`). ``tests/families/test_miscope_recipe.py`` checks both the weights
and the split bit for bit against ``tests/fixtures/miscope_recipe.json``, written from a real
``HookedTransformer`` by ``tools/miscope_fixture.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdw.errors import ParameterError
from tdw.family.model import boot_model, live_tensors, load_weights

if TYPE_CHECKING:
    import torch

__all__ = ["RECIPES", "DEFAULT_RECIPE", "HOOKED_ORDER", "recipe_of", "hooked_init",
           "hooked_to_bridge", "miscope_split", "recipe_weights", "make_boot"]

RECIPES = ("tdw", "miscope")
DEFAULT_RECIPE = "tdw"
"""Variants recorded before the ``recipe`` parameter existed were all made this way."""

HOOKED_ORDER = (
    "embed.W_E", "pos_embed.W_pos",
    "blocks.0.attn.W_Q", "blocks.0.attn.W_O", "blocks.0.attn.b_Q", "blocks.0.attn.b_O",
    "blocks.0.attn.W_K", "blocks.0.attn.W_V", "blocks.0.attn.b_K", "blocks.0.attn.b_V",
    "blocks.0.mlp.W_in", "blocks.0.mlp.b_in", "blocks.0.mlp.W_out", "blocks.0.mlp.b_out",
    "unembed.W_U", "unembed.b_U",
)
"""``HookedTransformer.named_parameters()`` for this one-layer, LayerNorm-free model, in
its order (transformer-lens 2.x registers W_Q, W_O and their biases in the abstract
attention class, W_K and W_V after them). The order is the RNG order of the weights."""


def recipe_of(values: Mapping[str, Any]) -> str:
    """The variant's recipe; a record written before the parameter existed is ``tdw``."""
    return values.get("recipe", DEFAULT_RECIPE)


def _hooked_shapes(cfg) -> dict[str, tuple[int, ...]]:
    """Shapes of :data:`HOOKED_ORDER` for a ``TransformerBridgeConfig`` of this family."""
    h, m, d, mlp = cfg.n_heads, cfg.d_model, cfg.d_head, cfg.d_mlp
    return {
        "embed.W_E": (cfg.d_vocab, m), "pos_embed.W_pos": (cfg.n_ctx, m),
        "blocks.0.attn.W_Q": (h, m, d), "blocks.0.attn.W_O": (h, d, m),
        "blocks.0.attn.b_Q": (h, d), "blocks.0.attn.b_O": (m,),
        "blocks.0.attn.W_K": (h, m, d), "blocks.0.attn.W_V": (h, m, d),
        "blocks.0.attn.b_K": (h, d), "blocks.0.attn.b_V": (h, d),
        "blocks.0.mlp.W_in": (m, mlp), "blocks.0.mlp.b_in": (mlp,),
        "blocks.0.mlp.W_out": (mlp, m), "blocks.0.mlp.b_out": (m,),
        "unembed.W_U": (m, cfg.d_vocab_out), "unembed.b_U": (cfg.d_vocab_out,),
    }


def hooked_init(cfg, seed: int) -> dict[str, torch.Tensor]:
    """``HookedTransformer(cfg).state_dict()`` parameters with ``init_weights=True,
    seed=seed``, under their HookedTransformer names, for this family's bridge ``cfg``.

    A private generator seeded like ``torch.manual_seed(seed)`` draws the same numbers
    without touching the global RNG.
    """
    import torch
    std = 0.8 / math.sqrt(cfg.d_model)  # HookedTransformerConfig's gpt2 initializer_range
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in _hooked_shapes(cfg).items():
        tensor = torch.zeros(shape)
        if "W_" in name:
            tensor.normal_(0.0, std, generator=generator)
        out[name] = tensor
    return out


def hooked_to_bridge(hooked: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HookedTransformer weights in the bridge's ``nn.Linear`` layout and names.

    Heads are stacked head-major along the projection's output (q, k, v) or input (o)
    features: ``q.weight[h * d_head + j, i] = W_Q[h, i, j]``.
    """
    a, m = "blocks.0.attn.", "blocks.0.mlp."
    out = {"embed.weight": hooked["embed.W_E"], "pos_embed.weight": hooked["pos_embed.W_pos"]}
    for x in "qkv":
        w = hooked[f"{a}W_{x.upper()}"]  # (head, d_model, d_head)
        out[f"{a}{x}.weight"] = w.permute(0, 2, 1).reshape(-1, w.shape[1])  # (h d, d_model)
        out[f"{a}{x}.bias"] = hooked[f"{a}b_{x.upper()}"].reshape(-1)
    w = hooked[f"{a}W_O"]  # (head, d_head, d_model)
    out[f"{a}o.weight"] = w.reshape(-1, w.shape[2]).T  # (d_model, h d)
    out[f"{a}o.bias"] = hooked[f"{a}b_O"]
    out[f"{m}in.weight"], out[f"{m}in.bias"] = hooked[f"{m}W_in"].T, hooked[f"{m}b_in"]
    out[f"{m}out.weight"], out[f"{m}out.bias"] = hooked[f"{m}W_out"].T, hooked[f"{m}b_out"]
    out["unembed.weight"], out["unembed.bias"] = hooked["unembed.W_U"].T, hooked["unembed.b_U"]
    return {k: v.contiguous() for k, v in out.items()}


def miscope_split(p: int, data_seed: int, train_fraction: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, test)`` pair indices (``a * p + b``) in MIScope's order: a
    ``torch.randperm(p * p)`` after ``torch.manual_seed(data_seed)``, cut at
    ``int(p * p * train_fraction)`` (truncated, where the ``tdw`` recipe rounds)."""
    import torch
    n_train = int(p * p * train_fraction)
    if not 0 < n_train < p * p:
        raise ParameterError(
            f"recipe miscope: int({p}*{p}*{train_fraction}) = {n_train} training pairs leaves "
            "no training or no test pair; raise train_fraction or p")
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(data_seed))
    return order[:n_train], order[n_train:]


def recipe_weights(cfg, values: Mapping[str, Any]) -> dict[str, torch.Tensor] | None:
    """The initial bridge weights of the variant's recipe, or None for ``tdw`` (the
    bridge's own initialisation)."""
    if recipe_of(values) == "miscope":
        return hooked_to_bridge(hooked_init(cfg, values["model_seed"]))
    return None


def make_boot(model_config: Callable[[Mapping[str, Any]], Any]):
    """The family's ``boot``: the bridge of ``model_config(values)``, holding the recipe's
    initial weights (training starts from them; analysis loads checkpoints over them).

    A ``miscope`` model's biases are frozen, as MIScope froze every ``b_`` parameter
    (``requires_grad = False``, "matches original experiment"): its AdamW skips them, so
    they stay zero. The ``tdw`` bridge trains every bias but ``unembed.bias``.
    """

    def boot(values: Mapping[str, Any], folder: Path, device: torch.device):
        cfg = model_config(values)
        model = boot_model(cfg, device)
        weights = recipe_weights(cfg, values)
        if weights is not None:
            load_weights(model, weights, source=f"the {recipe_of(values)} recipe's weights")
            for name, tensor in live_tensors(model).items():
                if name.endswith(".bias"):
                    tensor.requires_grad_(False)
        return model

    return boot
