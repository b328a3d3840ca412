"""Which checkpoints make a series, and loading each one through TransformerLens.

A series is either Hugging Face Hub revisions of one model (``EleutherAI/pythia-160m`` at
``step1000``, ``step2000``, ... as Pythia publishes them), revisions that are subfolders of
one local folder, or a list of local directories, each written by ``save_pretrained``.
Every revision's step comes from its name (``step1000``, ``step_1000``) unless given.

:func:`check_series` reads only each revision's ``config.json`` (cheap, and on the Hub a
small download) and refuses a missing revision, a model that is not a causal language
model, or revisions of different architectures, before anything is written.
:func:`load_weights` boots one revision with ``TransformerBridge.boot_transformers`` and
returns its weights under TransformerLens names, exactly as a trained checkpoint holds them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdw.errors import IntegrityError, TdwError
from tdw.family.model import weights_of

if TYPE_CHECKING:
    import torch

__all__ = ["Revision", "SeriesError", "resolve_series", "check_series", "load_tokenizer",
           "load_weights", "boot_stored", "architecture_sha256"]

_STEP = re.compile(r"step[_-]?(\d+)$")
_IGNORED = {"transformers_version", "dtype", "torch_dtype", "_name_or_path", "_commit_hash"}
"""Config keys that differ between saves of one model without changing its architecture."""


class SeriesError(TdwError):
    """A series that cannot be imported: a missing revision, not a causal LM, mixed models."""


@dataclass(frozen=True)
class Revision:
    """One checkpoint of the series.

    Attributes:
        label: what the user named: a Hub revision (``step1000``) or a directory.
        step: the training step; the variant's "epoch" for this checkpoint.
        model: what ``boot_transformers`` loads: the Hub id or the directory.
        revision: the Hub revision, or None for a directory.
    """

    label: str
    step: int
    model: str
    revision: str | None


def _step_of(label: str) -> int:
    match = _STEP.search(Path(label.rstrip("/")).name)
    if match is None:
        raise SeriesError(f"cannot tell the training step of {label!r}; name revisions and "
                          "folders stepN (step1000) or pass --steps 0,1000,...")
    return int(match.group(1))


def resolve_series(sources: Sequence[str], revisions: Sequence[str] = (),
                   steps: Sequence[int] = ()) -> tuple[str, tuple[Revision, ...]]:
    """The series' source (a Hub id, or ``local``) and its revisions in step order.

    Args:
        sources: one Hub id or local folder when ``revisions`` are given; else one local
            directory per checkpoint.
        revisions: Hub revisions, or subfolder names of the one local folder.
        steps: the step of each revision (default: parsed from the names).
    """
    if not sources:
        raise SeriesError("name a model: tdw import EleutherAI/pythia-160m --revisions "
                          "step1000,step2000 ..., or tdw import DIR1 DIR2 ...")
    if revisions:
        if len(sources) != 1:
            raise SeriesError(f"--revisions takes one model (a Hub id or a folder holding the "
                              f"revisions), got {len(sources)}: {', '.join(sources)}")
        folder = Path(sources[0]).expanduser()
        if folder.is_dir():
            source = "local"
            entries = [(r, str((folder / r).resolve()), None) for r in revisions]
        else:
            source = sources[0]
            entries = [(r, source, r) for r in revisions]
    else:
        source = "local"
        entries = [(s, str(Path(s).expanduser().resolve()), None) for s in sources]
    if steps and len(steps) != len(entries):
        raise SeriesError(f"--steps gives {len(steps)} steps for {len(entries)} revisions; "
                          "give one step per revision")
    found = [Revision(label, steps[i] if steps else _step_of(label), model, revision)
             for i, (label, model, revision) in enumerate(entries)]
    found.sort(key=lambda r: r.step)
    for a, b in zip(found, found[1:], strict=False):
        if a.step == b.step:
            raise SeriesError(f"{a.label} and {b.label} are both step {a.step}; each "
                              "checkpoint of a series needs its own step")
    if found[0].step < 0:
        raise SeriesError(f"step {found[0].step} of {found[0].label} is negative")
    return source, tuple(found)


def _config(rev: Revision):
    from transformers import AutoConfig

    if rev.revision is None:
        folder = Path(rev.model)
        if not folder.is_dir():
            raise SeriesError(f"the checkpoint directory {rev.model} does not exist; check the "
                              "path (each checkpoint is a folder written by save_pretrained)")
        if not (folder / "config.json").is_file():
            raise SeriesError(f"{rev.model} has no config.json, so it is not a saved Hugging "
                              "Face model; save each checkpoint with model.save_pretrained(dir)")
    try:
        return AutoConfig.from_pretrained(rev.model, revision=rev.revision)
    except Exception as exc:  # transformers and the Hub raise many types; all mean "absent"
        where = rev.model if rev.revision is None else f"revision {rev.revision} of {rev.model}"
        raise SeriesError(f"cannot read the config of {where} ({type(exc).__name__}: {exc}); "
                          "check the name (Pythia publishes step0, step1, step2, step4, ..., "
                          "step512, then every 1000 up to step143000) and the connection to "
                          "the Hugging Face Hub") from None


def _is_causal_lm(config) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    names = list(getattr(config, "architectures", None) or [])
    if names:
        return any(n.endswith(("ForCausalLM", "LMHeadModel")) for n in names)
    return getattr(config, "model_type", None) in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def _architecture(config) -> dict[str, Any]:
    return {k: v for k, v in config.to_diff_dict().items() if k not in _IGNORED}


def architecture_sha256(config) -> str:
    """sha256 of the architecture part of a Hugging Face config (what a series shares)."""
    return hashlib.sha256(json.dumps(_architecture(config), sort_keys=True,
                                     default=str).encode()).hexdigest()


def check_series(revisions: Sequence[Revision]):
    """Every revision exists, is a causal LM, and has the first one's architecture.

    Returns the first revision's Hugging Face config. Reads configs only.
    """
    first = None
    for rev in revisions:
        config = _config(rev)
        if not _is_causal_lm(config):
            kind = ", ".join(getattr(config, "architectures", None) or [config.model_type])
            raise SeriesError(f"{rev.label} is not a causal language model (its config declares "
                              f"{kind}); tdw import needs checkpoints of a causal LM "
                              "(...ForCausalLM), e.g. GPT-NeoX/Pythia or GPT-2")
        if first is None:
            first, reference = (rev, config), _architecture(config)
            continue
        mine = _architecture(config)
        differ = sorted(k for k in set(reference) | set(mine) if reference.get(k) != mine.get(k))
        if differ:
            shown = "; ".join(f"{k}: {first[0].label} has {reference.get(k)!r}, {rev.label} has "
                              f"{mine.get(k)!r}" for k in differ[:3])
            raise SeriesError(f"the revisions are not one architecture ({shown}); a series must "
                              "be checkpoints of one model: import each model separately")
    return first[1]


@contextlib.contextmanager
def _quiet():
    """TransformerLens and transformers print progress bars and notices; keep output clean."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def load_tokenizer(rev: Revision):
    from transformers import AutoTokenizer

    try:
        with _quiet():
            return AutoTokenizer.from_pretrained(rev.model, revision=rev.revision)
    except Exception as exc:
        raise SeriesError(f"cannot load the tokenizer of {rev.label} ({type(exc).__name__}: "
                          f"{exc}); save it beside the weights (tokenizer.save_pretrained(dir))"
                          ) from None


def load_weights(rev: Revision) -> dict[str, torch.Tensor]:
    """One revision's weights (TransformerLens names, float32, CPU) via ``boot_transformers``."""
    import torch
    from transformer_lens.model_bridge import TransformerBridge

    try:
        with _quiet():
            bridge = TransformerBridge.boot_transformers(
                rev.model, revision=rev.revision, device="cpu", dtype=torch.float32)
    except Exception as exc:
        raise SeriesError(f"cannot load {rev.label} with TransformerBridge.boot_transformers "
                          f"({type(exc).__name__}: {exc}); is it a complete save_pretrained "
                          "folder of an architecture TransformerLens supports?") from None
    return weights_of(bridge)


def boot_stored(folder: Path, device: torch.device, config_sha256: str):
    """A bridge with the stored architecture (``folder`` holds config.json and the
    tokenizer), random weights and float32, for the engine to load checkpoints into.

    The stored config must still hash to ``config_sha256`` (recorded at import)."""
    import torch
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoConfig

    try:
        found = architecture_sha256(AutoConfig.from_pretrained(str(folder)))
    except Exception as exc:
        raise IntegrityError(f"the stored architecture {folder}/config.json is unreadable "
                             f"({exc}); import the series again") from None
    if found != config_sha256:
        raise IntegrityError(f"the stored architecture {folder}/config.json was changed on disk "
                             f"(sha256 {found[:16]}..., recorded {config_sha256[:16]}...); "
                             "import the series again")
    with _quiet():
        bridge = TransformerBridge.boot_transformers(str(folder), device=device,
                                                     load_weights=False)
        bridge.to(torch.float32)
        bridge.to(device)
    return bridge
