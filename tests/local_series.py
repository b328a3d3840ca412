"""The tiny local checkpoint series the Checkpoint Series tests build, offline.

It is the family's own stand-in for a ``tiny`` preset
(:mod:`tdw.families.checkpoint_series.tiny`): a 2-layer, 4-head GPT-NeoX with random
weights saved as one ``save_pretrained`` directory per "revision" (``step0``,
``step1000``, ``step2000``), each with a word-level tokenizer, and a 9.8-vs-9.11 prompt
file. The tests take it from the family rather than keeping a copy, so the series they
import is the one ``tiny_variant`` imports for the every-family checks. Nothing touches
the network.
"""

from __future__ import annotations

from tdw.families.checkpoint_series.tiny import PROBE, STEPS, WORDS, make_series, write_probe

__all__ = ["WORDS", "STEPS", "make_series", "write_probe", "PROBE"]
