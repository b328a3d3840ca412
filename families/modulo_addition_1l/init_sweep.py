"""The initialisation sweep: were a variant's key frequencies favoured before training?

Per model seed, the untrained model (epoch 0; the other parameters fixed, so the data split
is the same for all) gets the ``gradient_sites`` measurement of :mod:`.gradients`: per site
and frequency, the energy of the full-batch training-loss gradient over the input token.
Over the seeds: each frequency's mean share of a site's energy, its spread and its rank. A
frequency the split favours stands out in the mean; one a single initialisation favours, in
that seed's shares. A variant's key frequencies (its last ``dominant_frequencies``) are
placed by their :func:`percentiles` (50%: no preference) and an exact p-value against
random sets of as many frequencies (:func:`set_p_value`, a one-sided rank-sum test).
``tdw init-gradients`` runs it (:data:`COMMAND`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from tdw.errors import ParameterError, StoreError, TdwError
from tdw.family.commands import Command, CommandResult
from tdw.family.family import variant_id
from tdw.family.model import boot_variant, live_tensors
from tdw.family.params import parse_assignments
from tdw.family.registry import get_family
from tdw.store.store import Store

from . import data
from .embedding import ANALYZERS as EMBEDDING
from .gradients import SITES, _loss_gradients, energy_shares, frequency_rms, site_functions
from .grid import to_numpy
from .readout import answer_logits

__all__ = ["InitSweep", "init_gradient_sweep", "seed_energies", "summarise", "percentiles",
           "set_p_value", "parse_seeds", "Trained", "trained_variant", "sweep_values",
           "COMMAND"]

FAMILY = "modulo_addition_1l"  # looked up when used: the family's package imports this module


@dataclass(frozen=True, eq=False)
class InitSweep:
    """The gradient energies of untrained models over many seeds (arrays are float64).

    Attributes:
        values: the parameters of every model but ``model_seed``, which is each seed.
        seeds: the model seeds, in the order of every ``seed`` axis.
        rms: ``(seed, site, freq)`` the ``gradient_sites`` rms of frequency i + 1.
        train_loss: ``(seed,)`` the training loss differentiated.
        shares: ``(seed, site, freq)`` each frequency's share of the site's energy.
        mean: ``(site, freq)`` the shares' mean over the seeds.
        spread: ``(site, freq)`` their standard deviation over the seeds (ddof 0).
        rank: ``(site, freq)`` 1 for the largest mean share (ties share the better rank).
        percentile: ``(site, freq)`` :func:`percentiles` of the mean shares.
        keys: the frequencies compared, sorted; empty for none.
        key_percentile: ``(site,)`` the keys' mean percentile at the mean shares (NaN: no keys).
        key_p_value: ``(site,)`` the chance that a random set of as many ranks as high.
        key_percentile_by_seed, key_p_value_by_seed: ``(seed, site)`` the same per seed.
    """

    values: Mapping[str, Any]
    seeds: tuple[int, ...]
    rms: np.ndarray
    train_loss: np.ndarray
    shares: np.ndarray
    mean: np.ndarray
    spread: np.ndarray
    rank: np.ndarray
    percentile: np.ndarray
    keys: tuple[int, ...]
    key_percentile: np.ndarray
    key_p_value: np.ndarray
    key_percentile_by_seed: np.ndarray
    key_p_value_by_seed: np.ndarray
    sites: tuple[str, ...] = SITES

    def as_dict(self) -> dict[str, Any]:
        """Every attribute, arrays as nested lists on the axes above (NaN as null)."""
        def plain(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                return np.where(np.isnan(value), None, value).tolist()
            return list(value) if isinstance(value, tuple) else dict(value)

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def percentiles(shares: np.ndarray) -> np.ndarray:
    """``(..., freq)`` -> each entry's share of the other entries below it, ties half.

    >>> percentiles(np.array([0.1, 0.4, 0.2, 0.2, 0.1])).tolist()
    [0.125, 1.0, 0.625, 0.625, 0.125]
    """
    from scipy.stats import rankdata
    n = shares.shape[-1]
    below = rankdata(shares, method="average", axis=-1) - 1  # (..., freq)
    return below / (n - 1) if n > 1 else np.full(shares.shape, 0.5)


def set_p_value(shares: np.ndarray, members: Sequence[int]) -> float:
    """The exact chance that a uniformly random set of ``len(members)`` entries of the
    ``(freq,)`` ``shares`` has a rank sum (mid-ranks) at least that of ``members`` (indices).

    >>> set_p_value(np.array([0.1, 0.2, 0.3, 0.4]), [3])  # 1 of the 4 single entries
    0.25
    """
    from scipy.stats import rankdata
    if len(members) == 0:
        return float("nan")
    twice = np.rint(2 * rankdata(shares)).astype(int)  # (freq,) doubled mid-ranks, >= 2
    size = len(members)
    total = int(np.sort(twice)[-size:].sum())  # no set of this size sums to more
    # ways[j, s]: sets of j entries whose doubled ranks sum to s (0/1 knapsack, in floats:
    # the counts outgrow int64 for p in the hundreds, while their ratio needs no more)
    ways = np.zeros((size + 1, total + 1))
    ways[0, 0] = 1.0
    for r in twice:
        ways[1:, r:] += ways[:-1, :total + 1 - r].copy()
    observed = int(twice[np.asarray(members)].sum())
    return float(ways[size, observed:].sum() / ways[size].sum())


def seed_energies(values: Mapping[str, Any], seed: int) -> tuple[np.ndarray, float]:
    """The untrained model of ``values`` with ``model_seed = seed``: its ``(site, freq)``
    gradient rms and training loss, as :mod:`.gradients` measures a checkpoint."""
    values = {**values, "model_seed": seed}
    model = boot_variant(get_family(FAMILY), values, Path("."))  # the recipe's weights
    loss, grads = _loss_gradients(model, answer_logits, data.dataset(values))
    weights = {name: to_numpy(t) for name, t in live_tensors(model).items()}
    functions = site_functions(weights, grads, values["p"], model.cfg.n_heads)
    return np.stack([frequency_rms(functions[s]) for s in SITES]), loss  # (site, freq)


def summarise(values: Mapping[str, Any], seeds: Sequence[int], rms: np.ndarray,
              train_loss: Sequence[float], keys: Sequence[int] = ()) -> InitSweep:
    """The :class:`InitSweep` of measured ``(seed, site, freq)`` rms; ``keys`` are
    frequencies 1 .. p // 2."""
    rms = np.asarray(rms, np.float64)
    n_freq = rms.shape[-1]
    keys = tuple(sorted({int(k) for k in keys}))
    if any(not 1 <= k <= n_freq for k in keys):
        raise ParameterError(f"key frequencies {list(keys)} are not all in 1 .. {n_freq}, "
                             f"the frequencies of p = {values['p']}")
    shares = energy_shares(rms)  # (seed, site, freq)
    mean = shares.mean(0)  # (site, freq)
    members = [k - 1 for k in keys]

    def key_stats(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(..., freq)`` shares -> the keys' mean percentile and p-value (NaN: no keys)."""
        none = np.full(table.shape[:-1], np.nan)
        return (percentiles(table)[..., members].mean(-1) if keys else none,
                np.apply_along_axis(set_p_value, -1, table, members))

    key_percentile, key_p_value = key_stats(mean)
    by_seed_percentile, by_seed_p_value = key_stats(shares)
    return InitSweep(
        values={k: v for k, v in values.items() if k != "model_seed"}, seeds=tuple(seeds),
        rms=rms, train_loss=np.asarray(train_loss, np.float64), shares=shares, mean=mean,
        spread=shares.std(0), rank=1 + (mean[:, None, :] > mean[:, :, None]).sum(-1),
        percentile=percentiles(mean), keys=keys, key_percentile=key_percentile,
        key_p_value=key_p_value, key_percentile_by_seed=by_seed_percentile,
        key_p_value_by_seed=by_seed_p_value)


def init_gradient_sweep(values: Mapping[str, Any], seeds: Sequence[int], *,
                        keys: Sequence[int] = (),
                        progress: Callable[[int, int], None] | None = None) -> InitSweep:
    """Measure every seed's untrained model (:func:`seed_energies`) and :func:`summarise`.

    Args:
        values: the family's resolved parameters; ``model_seed`` is replaced by each seed.
        seeds: model seeds, at least one.
        keys: frequencies to rank among the others (a trained variant's key frequencies).
        progress: called as ``progress(done, total)`` after each seed.
    """
    if not seeds:
        raise ParameterError("no model seeds to sweep; give at least one, e.g. --seeds 0-63")
    measured = []
    for i, seed in enumerate(seeds):
        measured.append(seed_energies(values, seed))
        if progress is not None:
            progress(i + 1, len(seeds))
    rms, losses = zip(*measured, strict=True)
    return summarise(values, seeds, np.stack(rms), losses, keys)


# --- the command: tdw init-gradients -------------------------------------------------------

MAX_SEEDS = 10_000  # about an hour at p = 113 on one core
_SEED_PART = re.compile(r"(\d+)(?:-(\d+))?")


def parse_seeds(text: str, maximum: int = 2**32 - 1, name: str = "--seeds"
                ) -> tuple[int, ...]:
    """``0-63`` or ``0-9,20,100-109``: seeds and inclusive ranges up to ``maximum``,
    unioned and sorted; errors name the input ``name``.

    >>> parse_seeds("5,0-2,2")
    (0, 1, 2, 5)
    """
    seeds: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not (match := _SEED_PART.fullmatch(part)):
            raise ParameterError(f"{name} {text!r}: {part!r} is not a seed or a range; write "
                                 "comma-separated seeds and ranges (both ends included), "
                                 f"e.g. {name} 0-63 or {name} 0-9,20,100-109")
        lo, hi = int(match[1]), int(match[2] or match[1])
        if hi < lo:
            raise ParameterError(f"{name} {text!r}: the range {part} runs downward; "
                                 f"write it upward, e.g. {hi}-{lo}")
        if hi > maximum:
            raise ParameterError(f"{name} {text!r}: {hi} is above {maximum}, the largest "
                                 f"model_seed; choose seeds in 0-{maximum}")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise ParameterError(f"{name} {text!r} is more than {MAX_SEEDS:,} seeds; "
                                 f"sweep fewer, e.g. {name} 0-63")
        seeds.update(range(lo, hi + 1))
    return tuple(sorted(seeds))


def _spec(seeds: Sequence[int]) -> str:
    """Seeds written back as :func:`parse_seeds` reads them: ``0-63,100``."""
    starts = [s for i, s in enumerate(seeds) if i == 0 or seeds[i - 1] != s - 1]
    ends = [s for i, s in enumerate(seeds) if i + 1 == len(seeds) or seeds[i + 1] != s + 1]
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in zip(starts, ends, strict=True))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns under a dashed rule: ``tdw.cli.format.table``, out of reach here."""
    cells = [list(map(str, headers))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class Trained:
    """The variant whose key frequencies are ranked, read at its last checkpoint."""

    id: str
    model_seed: int
    state: str
    epoch: int
    keys: tuple[int, ...]


def trained_variant(store: Store, vid: str) -> Trained:
    """Variant ``vid`` (an id or unique prefix) and its key frequencies at its last
    checkpoint; :class:`StoreError` if it has no checkpoint or no key frequencies."""
    record = store.variant(vid)
    checkpoints = store.checkpoints(record.id)
    if not checkpoints:
        raise StoreError(f"variant {record.id} has no checkpoints yet; train it first, or "
                         f"name a trained variant with --against")
    epoch = checkpoints[-1].epoch
    artifact = store.load_artifact(record.id, EMBEDDING[0].schema, epoch)
    return Trained(record.id, record.params["model_seed"], record.state, epoch,
                   tuple(artifact.attrs["key_frequencies"]))


def sweep_values(store: Store, given: Mapping[str, Any], preset: str | None = None,
                 against: str | None = None) -> tuple[dict[str, Any], Trained | None, str]:
    """The swept parameters (``given`` over ``against``'s or the ``preset``'s), the variant
    to compare with (``against``; default: the variant of the values, if stored) or None,
    and a note saying why there is none."""
    family = get_family(FAMILY)
    if against is None:
        values = family.resolve(given, preset=preset)
        vid = variant_id(family, values)
        if vid not in {r.id for r in store.variants(FAMILY)}:
            return values, None, ("No trained variant to compare with: name one with "
                                  "--against VARIANT (tdw variants lists them).")
        try:
            return values, trained_variant(store, vid), ""
        except StoreError as exc:  # found but not analysed: the sweep still stands
            return values, None, f"Not compared with {vid}: {exc}."
    if preset is not None:
        raise ParameterError("--against takes the variant's parameters, --preset others; "
                             "give one of them")
    record = store.variant(against)
    if record.family != FAMILY:
        known = [r.id for r in store.variants(FAMILY)] or ["(none yet)"]
        raise ParameterError(f"variant {record.id} is of family {record.family}, not "
                             f"{FAMILY}; name one of: {', '.join(known)}")
    values = family.resolve({**record.params, **given})
    if values["p"] != record.params["p"]:
        raise ParameterError(f"--set p={values['p']}: the key frequencies of {record.id} "
                             f"are of p = {record.params['p']}; drop --set p")
    return values, trained_variant(store, record.id), ""


def report(result: InitSweep, trained: Trained | None = None, note: str = "") -> str:
    """The sweep as ``tdw init-gradients`` prints it."""
    v, n_freq = result.values, result.rms.shape[-1]
    n_train = int(data.split_mask(v).sum())
    keys = set(result.keys)
    rows = [[f"{k}*" if k in keys else k] + [
        f"{100 * result.mean[i, k - 1]:.2f} ±{100 * result.spread[i, k - 1]:.2f} "
        f"#{result.rank[i, k - 1]}" for i in range(len(result.sites))]
        for k in range(1, n_freq + 1)]
    lines = [f"Training-loss gradient energy at initialisation, {FAMILY} p={v['p']} "
             f"data_seed={v['data_seed']} train_fraction={v['train_fraction']} "
             f"({n_train:,} training pairs), {len(result.seeds)} model seeds "
             f"({_spec(result.seeds)}).",
             f"Each site's energy share per frequency in %: mean ±sd over the seeds, #rank "
             f"of the mean (flat: {100 / n_freq:.2f}% each).", "",
             _table(["freq", *result.sites], rows), ""]
    if trained is None:
        return "\n".join([*lines, note] if note else lines[:-1])
    if not trained.keys:
        return "\n".join([*lines, f"{trained.id} has no key frequencies at epoch "
                           f"{trained.epoch} (its embedding is not sparse): nothing to rank."])
    own = trained.model_seed in result.seeds
    seed = result.seeds.index(trained.model_seed) if own else None
    rows = [[s, ", ".join(str(int(result.rank[i, k - 1])) for k in result.keys),
             f"{100 * result.key_percentile[i]:.1f}%", f"{result.key_p_value[i]:.3g}"]
            + ([f"{100 * result.key_percentile_by_seed[seed, i]:.1f}%",
                f"{result.key_p_value_by_seed[seed, i]:.3g}"] if own else [])
            for i, s in enumerate(result.sites)]
    headers = ["site", "key ranks", "percentile", "p"] + (
        [f"seed {trained.model_seed}: percentile", "p"] if own else [])
    n = len(result.keys)
    unfinished = "" if trained.state == "trained" else f" (it is {trained.state}: not final)"
    lines += [f"Key frequencies (*) of {trained.id} at epoch {trained.epoch}, its last "
              f"checkpoint{unfinished}: {', '.join(map(str, result.keys))}.", "",
              _table(headers, rows), "",
              f"percentile: the share of the other frequencies with a smaller mean share, "
              f"averaged over the {n} keys (50%: no preference); p: the exact chance that "
              f"{n} frequencies drawn at random rank at least as high."]
    lines.append(f"Seed {trained.model_seed}: the same at the variant's own initialisation."
                 if own else f"Its own initialisation (model_seed {trained.model_seed}) is "
                 f"not among the seeds; add it (--seeds {_spec(result.seeds)},"
                 f"{trained.model_seed}) to rank the keys there too.")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``tdw init-gradients``."""
    parser.add_argument("--seeds", default="0-63", metavar="SPEC",
                        help="model seeds: integers and ranges, e.g. 0-63 or 0-9,20 "
                        "(default: 0-63)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a parameter of the family (repeatable), e.g. --set p=59")
    parser.add_argument("--preset", help="start from a preset of the family, e.g. quick")
    parser.add_argument("--against", metavar="VARIANT", help="rank this trained variant's "
                        "key frequencies; the sweep takes its parameters (--set changes "
                        "them). Default: the variant of the --set values, if stored")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")


def run(args: argparse.Namespace, store: Store) -> CommandResult:
    """Resolve everything (refusing bad input before any model is built), sweep, print."""
    from tqdm import tqdm  # only when the command runs, as loading the family stays light

    seeds = parse_seeds(args.seeds, int(get_family(FAMILY).param("model_seed").maximum))
    target = Path(args.json).absolute() if args.json else None
    if target is not None and not os.access(target.parent, os.W_OK):
        raise TdwError(f"--json {args.json}: cannot write in {target.parent}; name a file "
                       f"in a folder you can write")
    values, trained, note = sweep_values(store, parse_assignments(args.set or ()),
                                         args.preset, args.against)
    with tqdm(total=len(seeds), unit="seed", dynamic_ncols=True, leave=False) as bar:
        result = init_gradient_sweep(values, seeds, keys=trained.keys if trained else (),
                                     progress=lambda done, _: bar.update(done - bar.n))
    print(report(result, trained, note))
    if target is not None:
        document = {"family": FAMILY, **result.as_dict(),
                    "variant": trained.id if trained else None,
                    "key_epoch": trained.epoch if trained else None}
        try:
            target.write_text(json.dumps(document) + "\n")
        except OSError as exc:
            raise TdwError(f"cannot write --json {args.json}: {exc.strerror}; name a file "
                           f"in a folder you can write") from None
        print(f"wrote {args.json}", file=sys.stderr)
    return CommandResult()


COMMAND = Command(
    name="init-gradients",
    help="modulo_addition_1l: the gradient's frequencies at initialisation, over many seeds",
    add_arguments=add_arguments,
    run=run,
    description="Were a trained variant's key frequencies favoured before training? Per "
    "model seed, the untrained\nModulo Addition model gets the gradient_sites measurement "
    "(each site's training-loss\ngradient energy per token frequency). Printed: each "
    "frequency's mean share, spread and\nrank over the seeds, and where a variant's key "
    "frequencies rank.",
    epilog="examples:\n  tdw init-gradients --preset quick --seeds 0-63\n"
    "  tdw init-gradients --against p59-ms999 --seeds 0-63,999 --json init.json",
)
