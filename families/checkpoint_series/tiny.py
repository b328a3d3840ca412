"""A tiny checkpoint series, built offline: the family's stand-in for a ``tiny`` preset.

An imported family has no parameters to shrink, so :func:`tiny_variant` (the family's
``tiny_variant`` hook) makes something small to import instead: a 2-layer, 4-head
GPT-NeoX with random weights (``transformers.GPTNeoXConfig``), saved as one
``save_pretrained`` directory per "revision" (``step0``, ``step1000``, ``step2000``), each
with a word-level tokenizer (``tokenizers.WordLevel`` wrapped in
``PreTrainedTokenizerFast``), and a prompt file of three 9.8-vs-9.11 prompts. It is imported
exactly as ``tdw import DIR1 DIR2 DIR3 --probe prompts.json`` would, in seconds, without
touching the network.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from tdw.store.store import Store

from .importer import ImportRequest, plan_import, run_import

__all__ = ["WORDS", "STEPS", "PROBE", "NAME", "make_series", "write_probe", "tiny_variant"]

WORDS = ("<|endoftext|>", "<unk>", "which", "is", "larger", "bigger", "?", "answer", ":",
         "9", ".", "8", "11", "7", "12", "a", "b", "the", "number")
"""The tokenizer's whole vocabulary: every word of :data:`PROBE`."""
STEPS = (0, 1000, 2000)
NAME = "tiny"
"""The series' label in the variant id (``checkpoint_series/mtiny-...``)."""

PROBE: dict[str, Any] = {
    "name": "decimal_compare",
    "description": "9.8 vs 9.11 in two phrasings; the source phrasing is patched in",
    "metric": "logit_diff",
    "correct": "8", "wrong": "11",
    "items": [
        {"prompt": "which is larger 9 . 8 or 9 . 11 ? answer : 9 .",
         "source": "which is bigger 9 . 8 or 9 . 11 ? answer : 9 ."},
        {"prompt": "the number 9 . 8 or 9 . 11 is larger ? 9 .",
         "source": "the number 9 . 8 or 9 . 11 is bigger ? 9 ."},
        {"prompt": "a 9 . 8 b 9 . 11 larger ? answer : 9 .",
         "source": "a 9 . 8 b 9 . 11 bigger ? answer : 9 .", "correct": "7", "wrong": "12"},
    ],
}
"""A prompt file (format: :mod:`.probe`) whose every word is in :data:`WORDS`."""


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", unk_token="<unk>",
                                   pad_token="<|endoftext|>")


def _config(**overrides):
    from transformers import GPTNeoXConfig

    settings = dict(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                    rotary_pct=0.25, bos_token_id=0, eos_token_id=0)
    settings.update(overrides)
    return GPTNeoXConfig(**settings)


def make_series(root: Path, steps: tuple[int, ...] = STEPS, **overrides: Any) -> list[Path]:
    """Save one random GPT-NeoX per step as ``root/step<N>``; the directories, in order.

    ``overrides`` change the ``GPTNeoXConfig`` (e.g. ``num_attention_heads=2``).
    """
    import torch
    from transformers import GPTNeoXForCausalLM

    tok, cfg = _tokenizer(), _config(**overrides)
    folders = []
    for i, step in enumerate(steps):
        torch.manual_seed(1000 + i)  # each revision's own, reproducible weights
        folder = Path(root) / f"step{step}"
        GPTNeoXForCausalLM(cfg).save_pretrained(folder)
        tok.save_pretrained(folder)
        folders.append(folder)
    return folders


def write_probe(path: Path, **changes: Any) -> Path:
    """Write :data:`PROBE` (with top-level keys replaced by ``changes``) to ``path``."""
    Path(path).write_text(json.dumps({**PROBE, **changes}))
    return Path(path)


def tiny_variant(store: Store) -> str:
    """Import the tiny series into ``store``; its variant id.

    The series is written to a temporary folder and removed after the import, which copies
    what the variant needs (weights, config, tokenizer) into the store.
    """
    with tempfile.TemporaryDirectory(prefix="tdw-tiny-series-") as scratch:
        folders = make_series(Path(scratch) / "series")
        probe = write_probe(Path(scratch) / "prompts.json")
        plan = plan_import(store, ImportRequest(tuple(map(str, folders)), str(probe),
                                                name=NAME))
        return run_import(store, plan).variant
