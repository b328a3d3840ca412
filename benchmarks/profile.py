"""Where the time goes: ``python -m benchmarks.profile [--epochs N] [--checkpoints N]``.

Two profiles, printed as tables (the numbers in ``docs/benchmarks.md`` come from here):

* **training** -- tdw's loop on Modulo Addition p=113 (full batch) under ``torch.profiler``:
  the share of CPU time of the forward, the backward, the optimiser step, the test
  evaluation and the checkpoint writes, then the operators with the most self time;
* **analysis** -- the parts of one checkpoint's analysis on one thread, as each worker
  process does them: loading, the shared forward pass, every analyzer; and the full
  forward the naive loop repeats per analyzer that reads activations.

Profiling is slow and perturbs what it measures; it says where the time is, the benchmark
says how much there is.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from benchmarks.training import _setup
from tdw.family.family import variant_id
from tdw.family.model import boot_model, loss_and_accuracy
from tdw.store.store import Store
from tdw.training.checkpointing import Checkpointer
from tdw.training.loop import make_optimizer

PHASES = ("forward", "backward", "optimizer step", "test evaluation", "checkpoint write")


def training_profile(n_epochs: int, every: int, root: Path) -> tuple[dict[str, float], str]:
    """(milliseconds per epoch of each phase, table of the top operators).

    The loop is :func:`tdw.training.loop.train`'s full-batch body written out with a label per
    phase; ``tests/integration/test_benchmarks.py`` does not time it, only the benchmark does.
    """
    fam, values, data = _setup(113)
    config = fam.train_config(values)
    model = boot_model(fam.model_config(values))
    optimizer = make_optimizer(model, config)
    store = Store(root)
    checkpoints = frozenset(range(0, n_epochs + 1, every))
    store.ensure_variant(fam, values, ",".join(map(str, sorted(checkpoints))), n_epochs)
    from tdw.training.loop import TrainState

    table = torch.full((n_epochs + 1, 4), float("nan"), dtype=torch.float64)
    state = TrainState(model, optimizer, config, 0, table)
    write = Checkpointer(store, variant_id(fam, values), checkpoints)
    seconds = dict.fromkeys(PHASES, 0.0)

    def phase(name, fn):
        began = time.perf_counter()
        with record_function(name):
            out = fn()
        seconds[name] += time.perf_counter() - began
        return out

    model.train()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for epoch in range(n_epochs):
            state.epoch = epoch
            loss, acc = phase("forward", lambda: loss_and_accuracy(
                fam.readout(model, data.train_tokens), data.train_labels))
            test = phase("test evaluation", lambda: _evaluate(fam, model, data))
            table[epoch] = torch.stack([loss.detach(), test[0], acc, test[1]])
            phase("checkpoint write", lambda: write(state))
            optimizer.zero_grad(set_to_none=True)
            phase("backward", loss.backward)
            phase("optimizer step", optimizer.step)
    per_epoch = {k: 1e3 * v / n_epochs for k, v in seconds.items()}
    ops = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
    return per_epoch, ops


def _evaluate(fam, model, data):
    with torch.inference_mode():
        return loss_and_accuracy(fam.readout(model, data.test_tokens), data.test_labels)


def analysis_profile(root: Path, n_checkpoints: int = 20) -> tuple[dict[str, float], int]:
    """(median milliseconds per checkpoint of each part of the analysis, hooked analyzers).

    The parts of one checkpoint as a worker does them, timed one by one on one thread (as
    each of the engine's worker processes runs): loading the checkpoint, the shared
    forward pass (the family's ``probe_forward``, else the bridge's filtered
    ``run_with_cache``), each per-checkpoint analyzer of the analysis benchmark; plus the
    full ``run_with_cache`` that the naive loop repeats for every analyzer reading
    activations. Middle checkpoints of the benchmark's 100-checkpoint variant.
    """
    from benchmarks.analysis import _per_checkpoint, trained_variant
    from tdw.analysis.forward import shared_forward
    from tdw.family.analyzer import CheckpointInputs
    from tdw.family.model import load_weights
    from tdw.family.registry import get_family

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store, vid = trained_variant(root, smoke=False)
        variant = store.variant(vid)
        fam = get_family(variant.family)
        names = _per_checkpoint(fam)
        analyzers = [a for a in fam.analyzers if a.name in names]
        hooks = {h for a in analyzers for h in a.hooks}
        checkpoints = store.checkpoints(vid)
        final = store.load_checkpoint(vid, checkpoints[-1].epoch)
        probe = store.load_probe(vid).tensors
        model = boot_model(fam.model_config(variant.params))
        model.eval()
        samples: dict[str, list[float]] = {}

        def timed(part: str, fn):
            began = time.perf_counter()
            out = fn()
            samples.setdefault(part, []).append((time.perf_counter() - began) * 1e3)
            return out

        middle = len(checkpoints) // 2 - n_checkpoints // 2
        for checkpoint in checkpoints[middle:middle + n_checkpoints]:
            weights = timed("loading the checkpoint", lambda c=checkpoint:
                            store.load_checkpoint(vid, c.epoch))
            timed("loading the checkpoint", lambda w=weights: load_weights(model, w))
            with torch.inference_mode():
                activations = timed("shared forward (tdw, once)", lambda:
                                    shared_forward(fam, model, probe, hooks))
                timed("full run_with_cache (naive loop, per analyzer reading activations)",
                      lambda: model.run_with_cache(probe["tokens"]))
            for analyzer in analyzers:
                inputs = CheckpointInputs(
                    variant.params, checkpoint.epoch, weights, final, probe,
                    {h: activations[h] for h in analyzer.hooks},
                    model if analyzer.needs_model else None)
                timed(f"analyzer {analyzer.name}", lambda a=analyzer, i=inputs: a.run(i))
    finally:
        torch.set_num_threads(threads)
    parts = {part: statistics.median(ms) for part, ms in samples.items()}
    return dict(sorted(parts.items(), key=lambda kv: -kv[1])), sum(
        1 for a in analyzers if a.hooks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60, help="training epochs profiled")
    parser.add_argument("--every", type=int, default=10, help="a checkpoint every N epochs")
    parser.add_argument("--skip-analysis", action="store_true")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="tdw-profile-") as scratch:
        per_epoch, ops = training_profile(args.epochs, args.every, Path(scratch) / "train")
        total = sum(per_epoch.values())
        print(f"training, p=113 full batch, {args.epochs} epochs, a checkpoint every "
              f"{args.every}: {total:.1f} ms per epoch")
        for name, ms in per_epoch.items():
            print(f"  {name:<18} {ms:7.1f} ms  {ms / total:6.1%}")
        print(ops)
        if not args.skip_analysis:
            parts, hooked = analysis_profile(Path(scratch) / "analysis")
            naive_only = "full run_with_cache (naive loop, per analyzer reading activations)"
            ours = {k: v for k, v in parts.items() if k != naive_only}
            tdw_ms = sum(ours.values())
            naive_ms = tdw_ms - ours["shared forward (tdw, once)"] + \
                hooked * parts[naive_only]
            print("analysis, one thread, ms per checkpoint (median of 20 checkpoints):")
            for name, ms in parts.items():
                share = f"{ms / tdw_ms:6.1%}" if name in ours else "      "
                print(f"  {name:<70} {ms:7.1f} ms {share}")
            print(f"  tdw's worker: {tdw_ms:.0f} ms per checkpoint; the naive loop's "
                  f"{hooked} full forwards make it {naive_ms:.0f} ms "
                  f"({naive_ms / tdw_ms:.2f}x before tdw's 2 worker processes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
