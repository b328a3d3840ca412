"""A tiny local checkpoint series for the Checkpoint Series tests, built offline.

A 2-layer, 4-head GPT-NeoX with random weights (``transformers.GPTNeoXConfig``) is saved as
one ``save_pretrained`` directory per "revision" (``step0``, ``step1000``, ``step2000``),
each with a word-level tokenizer (``tokenizers.WordLevel`` wrapped in
``PreTrainedTokenizerFast``). Nothing touches the network.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

__all__ = ["WORDS", "STEPS", "make_series", "write_probe", "PROBE"]

WORDS = ("<|endoftext|>", "<unk>", "which", "is", "larger", "bigger", "?", "answer", ":",
         "9", ".", "8", "11", "7", "12", "a", "b", "the", "number")
STEPS = (0, 1000, 2000)

PROBE = {
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


def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", unk_token="<unk>",
                                   pad_token="<|endoftext|>")


def config(**overrides):
    from transformers import GPTNeoXConfig

    settings = dict(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                    rotary_pct=0.25, bos_token_id=0, eos_token_id=0)
    settings.update(overrides)
    return GPTNeoXConfig(**settings)


def make_series(root: Path, steps=STEPS, **overrides) -> list[Path]:
    """Save one random GPT-NeoX per step as ``root/step<N>``; returns the directories."""
    from transformers import GPTNeoXForCausalLM

    tok, cfg = tokenizer(), config(**overrides)
    folders = []
    for i, step in enumerate(steps):
        torch.manual_seed(1000 + i)
        folder = Path(root) / f"step{step}"
        GPTNeoXForCausalLM(cfg).save_pretrained(folder)
        tok.save_pretrained(folder)
        folders.append(folder)
    return folders


def write_probe(path: Path, **changes) -> Path:
    Path(path).write_text(json.dumps({**PROBE, **changes}))
    return Path(path)
