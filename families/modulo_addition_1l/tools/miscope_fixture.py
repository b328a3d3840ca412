"""Write ``tests/fixtures/miscope_recipe.json`` from a real TransformerLens ``HookedTransformer``.

The user's earlier tool (MIScope) built its Modulo Addition model with TransformerLens 2.x's
``HookedTransformer(cfg)``, ``init_weights=True, seed=model_seed``, and split the (a, b) grid
with ``torch.manual_seed(data_seed); torch.randperm(p * p)``, training on the first
``int(p * p * frac)`` pairs (Neel Nanda's Grokking demo does the same). This script records
what those calls give, so that ``tests/families/test_miscope_recipe.py`` can check the
family's own re-implementation (``families/modulo_addition_1l/recipes.py``) bit for bit
without the old package.

It runs ONLY in a throwaway environment with transformer-lens < 3 (TransformerLens 4, which
tdw uses, has no ``HookedTransformer``), and the same torch as tdw (the fixture pins
torch's generator). The fixture committed with the repository was written with
transformer-lens 2.18.0 and torch 2.13.0+cpu::

    python3 -m venv /tmp/tl2 # any throwaway folder
    /tmp/tl2/bin/pip install "torch==2.13.0" "transformer-lens<3" "datasets<4" "pyarrow<19"
    /tmp/tl2/bin/python families/modulo_addition_1l/tools/miscope_fixture.py

(``datasets<4`` and ``pyarrow<19``: transformer-lens 2.x imports ``datasets``, and the newest
``datasets``/``pyarrow`` need numpy 2, which that transformer-lens does not allow.)

Assumptions about MIScope's configuration, stated because the fixture depends on them: the
family's architecture (1 layer, d_model 128, 4 heads of 32, d_mlp 512, ReLU, no LayerNorm,
d_vocab p + 1, d_vocab_out p, n_ctx 3, standard positions) and everything else at
``HookedTransformerConfig``'s defaults (``init_mode="gpt2"``, ``initializer_range`` therefore
0.8 / sqrt(d_model), attention scale sqrt(d_head), no ``attn_only``), exactly the config of
Nanda's Grokking demo; pairs indexed ``a * p + b`` (the demo's ``einops.repeat`` grid).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
import transformer_lens
from transformer_lens import HookedTransformer, HookedTransformerConfig

OUT = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "miscope_recipe.json"
MODELS = ((7, 999), (7, 1), (113, 999))  # (p, model_seed)
SPLITS = ((7, 598, 0.3), (113, 598, 0.3))  # (p, data_seed, train_fraction)
SAMPLES = (0, 1, 2, 3, -1)  # flat indices of the sample values recorded per parameter
LOGIT_ROWS = 6  # inputs whose answer logits are recorded (they check the layout mapping)


def sha256(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()


def config(p: int, seed: int) -> HookedTransformerConfig:
    return HookedTransformerConfig(
        n_layers=1, d_model=128, d_head=32, n_heads=4, d_mlp=512, act_fn="relu",
        normalization_type=None, d_vocab=p + 1, d_vocab_out=p, n_ctx=3,
        init_weights=True, device="cpu", seed=seed,
    )


def grid(p: int) -> torch.Tensor:
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    return torch.stack([a, b, torch.full_like(a, p)], dim=1)  # (p*p, 3)


def model_record(p: int, seed: int) -> dict:
    model = HookedTransformer(config(p, seed))
    params = {}
    for name, tensor in model.named_parameters():
        flat = tensor.detach().reshape(-1)
        params[name] = {"shape": list(tensor.shape), "sha256": sha256(tensor),
                        "samples": [float(flat[i]) for i in SAMPLES]}
    rows = torch.linspace(0, p * p - 1, LOGIT_ROWS).round().long()
    tokens = grid(p)[rows]  # (LOGIT_ROWS, 3): pairs spread over the grid
    with torch.no_grad():
        logits = model(tokens)[:, -1, :]  # (rows, p)
    return {"p": p, "model_seed": seed, "order": [n for n, _ in model.named_parameters()],
            "params": params, "logit_tokens": tokens.tolist(),
            "logits": [[float(x) for x in row] for row in logits]}


def split_record(p: int, data_seed: int, frac: float) -> dict:
    torch.manual_seed(data_seed)
    order = torch.randperm(p * p)
    n_train = int(p * p * frac)
    return {"p": p, "data_seed": data_seed, "train_fraction": frac, "n_train": n_train,
            "randperm_sha256": sha256(order.to(torch.int64)), "head": order[:10].tolist()}


def main() -> None:
    fixture = {
        "about": "HookedTransformer init and randperm split of the user's earlier tool "
                 "(MIScope); written by families/modulo_addition_1l/tools/miscope_fixture.py",
        "transformer_lens": transformer_lens.__version__
        if hasattr(transformer_lens, "__version__") else _version("transformer-lens"),
        "torch": torch.__version__,
        "models": [model_record(p, seed) for p, seed in MODELS],
        "splits": [split_record(*s) for s in SPLITS],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


def _version(dist: str) -> str:
    from importlib.metadata import version
    return version(dist)


if __name__ == "__main__":
    main()
