"""The probe of an imported series: a user's prompt set with a metric, from a JSON file.

The file (format in the family README)::

    {"name": "decimal_compare",
     "description": "9.8 vs 9.11: which is larger?",
     "metric": "logit_diff",
     "prepend_bos": true,
     "head_groups": {"even": "even", "odd": "odd"},
     "correct": " 8", "wrong": " 11",
     "items": [{"prompt": "...", "source": "...", "correct": " 8", "wrong": " 11"}, ...]}

Every item has a ``prompt`` (the run that is measured, ablated and patched into), a
``source`` (the run whose head outputs are patched in; it must tokenize to as many tokens
as the prompt, so positions line up) and two single-token answers, ``correct`` and
``wrong`` (per item, or once at the top level). The metric of a prompt is read at its
last token: ``logit_diff`` = logit(correct) - logit(wrong), or ``prob_diff`` = p(correct)
- p(wrong). ``head_groups`` names disjoint groups of heads for activation patching;
``"even"``/``"odd"`` stand for the even/odd head indices (the default).

:func:`read_probe_file` checks the file without a model; :func:`probe_tensors` tokenizes
it with the series' tokenizer into the stored, hashed probe, which keeps the whole
definition (canonical JSON bytes) beside the tokens, so the hash covers the metric too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdw.errors import TdwError

if TYPE_CHECKING:
    import torch

__all__ = ["METRICS", "README", "ProbeItem", "ProbeSpec", "read_probe_file", "probe_tensors",
           "definition", "group_heads"]

METRICS = ("logit_diff", "prob_diff")
"""Metric names: logit(correct) - logit(wrong), or p(correct) - p(wrong), at the last token."""

README = Path(__file__).with_name("README.md")
"""The family README, installed with the family (package data), that documents the prompt
file format; the errors and the command's help name its path on this machine, which is true
for an installed copy as for the source checkout."""

_FIX = f"see the probe file format in {README}"


class ProbeFileError(TdwError):
    """A prompt file that cannot be read or does not follow the documented format."""


@dataclass(frozen=True)
class ProbeItem:
    """One prompt: the measured run, the patching source and its two answers."""

    prompt: str
    source: str
    correct: str
    wrong: str


@dataclass(frozen=True)
class ProbeSpec:
    """A parsed prompt file.

    Attributes:
        name: short name of the prompt set.
        description: what the prompts test.
        metric: one of :data:`METRICS`.
        prepend_bos: whether each prompt starts with the tokenizer's BOS token.
        head_groups: group name -> head indices, or ``"even"``/``"odd"`` (resolved against
            the model's head count by :func:`group_heads`).
        items: the prompts.
    """

    name: str
    description: str
    metric: str
    prepend_bos: bool
    head_groups: Mapping[str, Any]
    items: tuple[ProbeItem, ...]


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProbeFileError(f"{where} must be a non-empty string, got {value!r}; {_FIX}")
    return value


def read_probe_file(path: str | Path) -> ProbeSpec:
    """Parse and check a prompt file (no tokenizer needed). Raises :class:`ProbeFileError`."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProbeFileError(f"the prompt file {path} does not exist; pass --probe FILE.json "
                             f"({_FIX})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProbeFileError(f"the prompt file {path} is not readable JSON ({exc}); {_FIX}") \
            from None
    if not isinstance(raw, dict):
        raise ProbeFileError(f"the prompt file {path} must hold a JSON object; {_FIX}")
    known = {"name", "description", "metric", "prepend_bos", "head_groups", "correct", "wrong",
             "items"}
    if extra := sorted(set(raw) - known):
        raise ProbeFileError(f"{path}: unknown key(s) {extra}; known: {sorted(known)}")
    metric = raw.get("metric", "logit_diff")
    if metric not in METRICS:
        raise ProbeFileError(f"{path}: metric {metric!r} is not one of {list(METRICS)}")
    items = raw.get("items")
    if not isinstance(items, list) or not items:
        raise ProbeFileError(f"{path}: 'items' must be a non-empty list of prompts; {_FIX}")
    parsed = []
    for i, item in enumerate(items):
        where = f"{path} item {i}"
        if not isinstance(item, dict):
            raise ProbeFileError(f"{where} must be an object with prompt and source; {_FIX}")
        if extra := sorted(set(item) - {"prompt", "source", "correct", "wrong"}):
            raise ProbeFileError(f"{where}: unknown key(s) {extra}; an item has prompt, "
                                 "source, correct, wrong")
        parsed.append(ProbeItem(
            _text(item.get("prompt"), f"{where} 'prompt'"),
            _text(item.get("source"), f"{where} 'source' (the run patched in)"),
            _text(item.get("correct", raw.get("correct")), f"{where} 'correct' answer"),
            _text(item.get("wrong", raw.get("wrong")), f"{where} 'wrong' answer")))
    groups = raw.get("head_groups", {"even": "even", "odd": "odd"})
    if not isinstance(groups, dict) or not groups:
        raise ProbeFileError(f"{path}: 'head_groups' must map group names to head lists or "
                             "'even'/'odd'")
    return ProbeSpec(str(raw.get("name", path.stem)), str(raw.get("description", "")), metric,
                     bool(raw.get("prepend_bos", True)), dict(groups), tuple(parsed))


def group_heads(groups: Mapping[str, Any], n_heads: int) -> dict[str, list[int]]:
    """Resolve ``head_groups`` against ``n_heads``: disjoint, in-range head lists."""
    out: dict[str, list[int]] = {}
    for name, heads in groups.items():
        if heads in ("even", "odd"):
            heads = list(range(0 if heads == "even" else 1, n_heads, 2))
        if (not isinstance(heads, list) or not heads
                or not all(isinstance(h, int) and 0 <= h < n_heads for h in heads)):
            raise ProbeFileError(f"head group {name!r} must be 'even', 'odd' or a non-empty "
                                 f"list of head indices in 0..{n_heads - 1}, got {heads!r}")
        out[str(name)] = sorted(set(heads))
    seen: dict[int, str] = {}
    for name, heads in out.items():
        for h in heads:
            if h in seen:
                raise ProbeFileError(f"head {h} is in both groups {seen[h]!r} and {name!r}; "
                                     "head groups must be disjoint")
            seen[h] = name
    return out


def _single_token(tokenizer, text: str, where: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = tokenizer.convert_ids_to_tokens(ids)
        raise ProbeFileError(f"{where} {text!r} is {len(ids)} tokens {pieces} for this model's "
                             "tokenizer; answers must be one token each (mind the leading "
                             "space, e.g. ' 8')")
    return int(ids[0])


def probe_tensors(spec: ProbeSpec, tokenizer, n_heads: int) -> dict[str, torch.Tensor]:
    """The stored probe: right-padded tokens of prompts and sources, each prompt's last
    position, the answer token ids, and the canonical definition (JSON as uint8).

    Returns:
        ``tokens`` and ``source_tokens`` ``(prompt, pos)`` int64, ``last``, ``correct``,
        ``wrong`` ``(prompt,)`` int64, ``definition`` ``(bytes,)`` uint8.
    """
    import torch
    bos = [tokenizer.bos_token_id] if spec.prepend_bos and tokenizer.bos_token_id is not None \
        else []
    prompts, sources, correct, wrong = [], [], [], []
    for i, item in enumerate(spec.items):
        p = bos + tokenizer(item.prompt, add_special_tokens=False)["input_ids"]
        s = bos + tokenizer(item.source, add_special_tokens=False)["input_ids"]
        if len(p) != len(s):
            raise ProbeFileError(
                f"item {i}: the prompt is {len(p)} tokens and the source {len(s)}; activation "
                "patching lines positions up, so each source must tokenize to as many tokens "
                "as its prompt (rephrase one of them)")
        prompts.append(p)
        sources.append(s)
        correct.append(_single_token(tokenizer, item.correct, f"item {i} correct answer"))
        wrong.append(_single_token(tokenizer, item.wrong, f"item {i} wrong answer"))
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def padded(rows: list[list[int]]) -> torch.Tensor:
        import torch
        return torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.int64)

    groups = group_heads(spec.head_groups, n_heads)
    text = json.dumps({
        "name": spec.name, "description": spec.description, "metric": spec.metric,
        "prepend_bos": spec.prepend_bos, "head_groups": groups,
        "items": [vars(item) for item in spec.items]}, sort_keys=True)
    return {
        "tokens": padded(prompts),
        "source_tokens": padded(sources),
        "last": torch.tensor([len(p) - 1 for p in prompts], dtype=torch.int64),
        "correct": torch.tensor(correct, dtype=torch.int64),
        "wrong": torch.tensor(wrong, dtype=torch.int64),
        "definition": torch.frombuffer(bytearray(text.encode()), dtype=torch.uint8).clone(),
    }


def definition(probe: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The stored probe's definition (name, metric, head groups, prompts) as a dict."""
    return json.loads(bytes(probe["definition"].numpy().tobytes()).decode())
