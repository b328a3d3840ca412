"""Training throughput against a plain TransformerLens loop, and the cost of checkpointing.

The reference is what a researcher writes in a notebook: the bridge's full forward on the
training set, the loss at the last position, backward, AdamW, and a full forward on the test
set each epoch for the test loss and accuracy. tdw trains the same model from the same
initialisation with :func:`tdw.training.loop.train` and the family's answer-position readout,
writing checkpoints on the family's default schedule into a real store.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks._measure import BenchConfig, Row, Timing, alternate, peak_rss_mb
from tdw.family.family import variant_id
from tdw.family.model import boot_model, weights_of
from tdw.family.registry import get_family
from tdw.family.schedule import parse_schedule
from tdw.store.store import Store
from tdw.training.checkpointing import Checkpointer
from tdw.training.loop import make_optimizer, train

FAMILY = "modulo_addition_1l"


def _setup(p: int, train_fraction: float = 0.3):
    fam = get_family(FAMILY)
    values = fam.resolve({"p": p, "train_fraction": train_fraction})
    return fam, values, fam.dataset(values)


def reference_loop(fam, values, data, n_epochs: int):
    """The plain loop: full forwards, metrics every epoch. Returns (weights, metrics)."""
    config = fam.train_config(values)
    model = boot_model(fam.model_config(values))
    optimizer = make_optimizer(model, config)
    rows = []
    for epoch in range(n_epochs + 1):
        logits = model(data.train_tokens)[:, -1]
        loss = F.cross_entropy(logits.to(torch.float64), data.train_labels)
        train_acc = (logits.argmax(-1) == data.train_labels).double().mean()
        with torch.no_grad():
            test_logits = model(data.test_tokens)[:, -1]
            test_loss = F.cross_entropy(test_logits.to(torch.float64), data.test_labels)
            test_acc = (test_logits.argmax(-1) == data.test_labels).double().mean()
        rows.append([loss.item(), test_loss.item(), train_acc.item(), test_acc.item()])
        if epoch == n_epochs:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return weights_of(model), np.asarray(rows)


def tdw_loop(fam, values, data, n_epochs: int, root: Path | None, checkpoints: frozenset[int],
             spent: list[float] | None = None):
    """tdw's loop; with ``root``, checkpoints on ``checkpoints`` into a fresh store there.

    With ``spent``, appends the seconds spent inside checkpoint writes during the run.
    """
    config = fam.train_config(values)
    config = type(config)(**{**config.__dict__, "n_epochs": n_epochs})
    model = boot_model(fam.model_config(values))
    callbacks = []
    if root is not None:
        store = Store(root)
        vid = variant_id(fam, values)
        store.ensure_variant(fam, values, ",".join(map(str, sorted(checkpoints))), n_epochs)
        write = Checkpointer(store, vid, checkpoints)
        seconds = [0.0]

        def timed(state):
            began = time.perf_counter()
            write(state)
            seconds[0] += time.perf_counter() - began

        callbacks.append(timed)
    state = train(model, config, data, readout=fam.readout, callbacks=callbacks)
    if spent is not None and root is not None:
        spent.append(seconds[0])
    table = state.metrics()
    return weights_of(model), np.stack([table[c] for c in
                                        ("train_loss", "test_loss", "train_acc", "test_acc")], 1)


def _gradients(model, logits_fn, data) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(logits_fn(model).to(torch.float64), data.train_labels).backward()
    return {k: v.grad.detach().clone() for k, v in model.named_parameters() if v.grad is not None}


def _agree(fam, values, data, n_epochs: int) -> str:
    """The readout equals the bridge's forward in logits and gradients, and both loops record
    the same per-epoch metrics; a sentence saying how close.

    Weights are not compared elementwise after training: AdamW's first steps are sign-like
    (m / sqrt(v) is +-1 at step one), so an element whose gradient is rounding-sized moves a
    full learning rate either way. The key bias is the extreme case: softmax ignores it, so
    its gradient is pure rounding. Gradients are compared on the scale of the largest.
    """
    model = boot_model(fam.model_config(values))
    with torch.no_grad():
        full = model(data.train_tokens)[:, -1]
        logits = float((full - fam.readout(model, data.train_tokens)).abs().max())
    g_full = _gradients(model, lambda m: m(data.train_tokens)[:, -1], data)
    g_fast = _gradients(model, lambda m: fam.readout(m, data.train_tokens), data)
    scale = max(float(g.norm()) for g in g_full.values())
    grads = max(float((g_full[k] - g_fast[k]).norm()) for k in g_full) / scale
    (_, ma), (_, mb) = (reference_loop(fam, values, data, n_epochs),
                        tdw_loop(fam, values, data, n_epochs, None, frozenset()))
    metrics = float(np.abs(ma - mb).max())
    if logits > 1e-5 or grads > 1e-4 or metrics > 1e-5:
        raise AssertionError(f"tdw and the reference disagree: logits {logits:.1e}, "
                             f"gradients {grads:.1e} (relative), metrics {metrics:.1e}")
    return (f"logits within {logits:.0e}, every gradient within {grads:.0e} of the largest "
            f"gradient's norm, losses and accuracies of {n_epochs} epochs within {metrics:.0e}")


def run(cfg: BenchConfig) -> list[Row]:
    p, n_epochs = (11, 6) if cfg.smoke else (113, 30)
    fam, values, data = _setup(p)
    # Checkpoints where the canonical 25k-epoch default schedule puts them (every 100 epochs here).
    canonical = parse_schedule(fam.default_schedule(fam.resolve({"p": p})), 25_000).epochs
    ckpts = frozenset(e for e in canonical if e <= n_epochs) | {n_epochs}
    scratch = Path(tempfile.mkdtemp(dir=cfg.workdir))
    counter = iter(range(10**6))

    def ours():
        return tdw_loop(fam, values, data, n_epochs, scratch / f"s{next(counter)}", ckpts)

    agreement = _agree(fam, values, data, 3)
    ref, tdw = alternate(lambda: reference_loop(fam, values, data, n_epochs), ours, cfg.repeat)
    per_epoch = lambda t: Timing(tuple(s / n_epochs for s in t.samples))  # noqa: E731
    rows = [Row(
        f"training, Modulo Addition p={p} full batch, {n_epochs} epochs with train+test "
        f"metrics and {len(ckpts)} checkpoints (per epoch)",
        "plain loop on the TransformerLens bridge: full forward, full test forward",
        "tdw >= 2x faster", tdw=per_epoch(tdw), ref=per_epoch(ref), unit="ms", paired=True,
        agreement=agreement,
        note="the answer-position readout computes attention output, MLP and unembedding "
             "only where the loss reads them; test metrics under inference_mode",
        peak_rss_mb=peak_rss_mb())]
    rows[0] = replace(rows[0], met=rows[0].ratio >= 2)
    rows.append(_overhead(cfg, fam, scratch))
    return rows


def _overhead(cfg: BenchConfig, fam, scratch: Path) -> Row:
    """Checkpointing cost where it is densest: the quick preset's first epochs.

    The figure is the time spent inside checkpoint writes over the rest of the same run,
    which a change of the machine's load affects on both sides. Runs with checkpointing
    off are timed alternately as the reference, and the pairs' ratio is reported beside it;
    on a busy machine that A/B difference is mostly noise.
    """
    values = fam.resolve(preset="quick")
    data = fam.dataset(values)
    n_epochs = 8 if cfg.smoke else 300
    schedule = parse_schedule(fam.default_schedule(values), values["n_epochs"]).epochs
    ckpts = frozenset(e for e in schedule if e <= n_epochs) | {n_epochs}
    counter = iter(range(10**6))
    spent: list[float] = []
    bare, ours = alternate(
        lambda: tdw_loop(fam, values, data, n_epochs, None, ckpts),
        lambda: tdw_loop(fam, values, data, n_epochs, scratch / f"o{next(counter)}", ckpts,
                         spent), cfg.repeat)
    share = statistics.median(s / (t - s) for s, t in zip(spent, ours.samples, strict=True))
    row = Row(
        f"checkpointing overhead, quick preset (p={values['p']}), first {n_epochs} epochs "
        f"with {len(ckpts)} checkpoints (its densest window)",
        "tdw's loop with checkpointing off", "<= 3%", tdw=ours, ref=bare, paired=True,
        met=share <= 0.03,
        agreement="same loop; the checkpointed run's files re-hash to the catalog",
        note="each checkpoint: weights and AdamW state to safetensors, fsync, rename, "
             "one catalog row. The figure is the time inside checkpoint writes over the "
             "rest of the same run; the A/B figure compares whole runs with checkpointing "
             "on and off, alternately", peak_rss_mb=peak_rss_mb())
    return replace(row, value=f"{share:+.1%} in-run; A/B {1 / row.ratio - 1:+.1%}")
