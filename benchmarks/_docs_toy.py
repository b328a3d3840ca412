"""The figures of toy_operations's README (families/toy_operations/README.md): its two
runs, the family's defaults (``toy``, the study's run) and the ``quick`` preset
(``toy_quick``), each figure registered twice, ``toy_NAME`` and ``toyq_NAME``; the
templates of the README's blocks are in :mod:`benchmarks._docs_toy_templates`.

A figure reads the run's metrics or the family's artifacts: held-out accuracy per
operation (``operation_accuracy``, ``operation_learning``), the attention entropy at ``)``
(``attention_entropy``), attention on the answer digit (``argument_attention``), selective
neurons (``neuron_selectivity``) and the embedding's digit order (``embedding_geometry``);
how far W_E moves is read from the first and last checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from benchmarks._docs_figures import (
    FigureError,
    checkpoint,
    count,
    figure,
    figure_per_run,
    listing,
    pct,
    two,
)
from benchmarks._docs_runs import RunData
from benchmarks._docs_times import timing_figures

__all__ = ["PREFIXES", "per_run", "TEMPLATES"]

PREFIXES = {"toy_": "toy", "toyq_": "toy_quick"}
"""Figure-name prefix -> the run in :data:`benchmarks._docs_runs.RUNS` it reads."""

timing_figures("toy", "toy_")
timing_figures("toy_quick", "toyq_")


@figure("toy_cores", run="toy", measured=True)
def _cores(run: RunData, arg: str | None) -> str:
    """The cores of this machine (the shared ``cores`` figure would train Modulo
    Addition's run)."""
    return str(os.cpu_count())


def per_run(name: str, needs: tuple[str, ...] = ()) -> Callable:
    """Register the decorated ``fn(run, arg) -> str`` once per run: ``toy_NAME`` and
    ``toyq_NAME``."""
    return figure_per_run(PREFIXES, name, needs=needs)


# ----------------------------------------------------------------------- the run itself

@per_run("checkpoints")
def _checkpoints(run: RunData, arg: str | None) -> str:
    return count(len(run.variant.epochs))


@per_run("final_acc")
def _final_acc(run: RunData, arg: str | None) -> str:
    """``final_acc@train`` / ``@test``: the last epoch's accuracy, ``99.9%``."""
    return pct(getattr(run.variant.record, f"final_{arg}_acc"), 1)


@per_run("final_test_loss")
def _final_test_loss(run: RunData, arg: str | None) -> str:
    return f"{run.variant.record.final_test_loss:.2g}"


@per_run("op_acc_range", needs=("operation_accuracy",))
def _op_acc_range(run: RunData, arg: str | None) -> str:
    """The lowest and highest held-out accuracy of an operation at checkpoint ``arg``."""
    acc = run.variant.artifact("operation_accuracy", checkpoint(run, arg))["test_accuracy"]
    return f"{two(min(acc))}-{two(max(acc))}"


def two_signed(x: float) -> str:
    """A correlation as the README writes it: ``0.82``, ``−0.28`` (a minus sign)."""
    return two(x).replace("-", "\u2212")


def _at(run: RunData, analyzer: str, arg: str | None):
    return run.variant.artifact(analyzer, checkpoint(run, arg))


def _operations(run: RunData) -> list[str]:
    return list(run.variant.artifact("operation_learning").attrs["operations"])


# ------------------------------------------------------------- which operation first

@per_run("op_accs", needs=("operation_accuracy",))
def _op_accs(run: RunData, arg: str | None) -> str:
    """Held-out accuracy per operation at checkpoint ``arg``, highest first:
    ``Max 0.76, Second 0.60, ...``."""
    art = _at(run, "operation_accuracy", arg)
    pairs = sorted(zip(art.attrs["operations"], art["test_accuracy"], strict=True),
                   key=lambda p: -p[1])
    return ", ".join(f"{op} {two(acc)}" for op, acc in pairs)


@per_run("op_top", needs=("operation_accuracy",))
def _op_top(run: RunData, arg: str | None) -> str:
    """The operation(s) with the highest held-out accuracy at checkpoint ``arg``."""
    art = _at(run, "operation_accuracy", arg)
    acc = np.asarray(art["test_accuracy"])
    ops = art.attrs["operations"]
    return listing([op for op, a in zip(ops, acc, strict=True) if a == acc.max()])


def learned_text(operations: list[str], learned: list[int]) -> str:
    """``Max, First, Second and Last are learned at epoch 4 and Min at epoch 6`` from each
    operation's ``learned_epoch`` (-1: never), earliest first."""
    groups: dict[int, list[str]] = {}
    for op, e in zip(operations, learned, strict=True):
        groups.setdefault(int(e), []).append(op)
    parts = []
    for e in sorted(groups, key=lambda e: (e < 0, e)):
        ops = groups[e]
        when = "never" if e < 0 else f"at epoch {e}"
        verb = "" if parts else ("is learned " if len(ops) == 1 else "are learned ")
        parts.append(f"{listing(ops)} {verb}{when}")
    return listing(parts)


@per_run("learned", needs=("operation_learning",))
def _learned(run: RunData, arg: str | None) -> str:
    art = run.variant.artifact("operation_learning")
    return learned_text(_operations(run), [int(e) for e in art["learned_epoch"]])


@per_run("learned_last", needs=("operation_learning",))
def _learned_last(run: RunData, arg: str | None) -> str:
    """The operation(s) learned last (or never)."""
    learned = np.asarray(run.variant.artifact("operation_learning")["learned_epoch"])
    last = -1 if (learned < 0).any() else learned.max()
    return listing([op for op, e in zip(_operations(run), learned, strict=True) if e == last])


@per_run("learned_first", needs=("operation_learning",))
def _learned_first(run: RunData, arg: str | None) -> str:
    """``operation_learning.first``: the operation(s) learned first, ``Max = First``."""
    return str(run.variant.artifact("operation_learning").attrs["first"])


# ------------------------------------------------------------------ attention at ')'

def _entropy(run: RunData, arg: str | None, layer: int) -> str:
    return two(_at(run, "attention_entropy", arg).attrs["answer_entropy_by_layer"][layer])


for _layer in (0, 1):
    per_run(f"entropy_l{_layer}", needs=("attention_entropy",))(
        lambda run, arg, layer=_layer: _entropy(run, arg, layer))


ANSWER_POSITION = 7
"""The position of ``)``, where the answer is read."""


def _sharpest(run: RunData) -> int:
    """The head with the lowest entropy at ``)`` at the last checkpoint."""
    art = run.variant.artifact("attention_entropy", run.variant.epochs[-1])
    return int(np.argmin(np.asarray(art["entropy"])[:, ANSWER_POSITION]))


@per_run("sharpest", needs=("attention_entropy",))
def _sharpest_label(run: RunData, arg: str | None) -> str:
    art = run.variant.artifact("attention_entropy", run.variant.epochs[-1])
    return art.attrs["heads"][_sharpest(run)]


@per_run("sharpest_entropy", needs=("attention_entropy",))
def _sharpest_entropy(run: RunData, arg: str | None) -> str:
    """The entropy at ``)`` of the sharpest head (at the end) at checkpoint ``arg``."""
    entropy = np.asarray(_at(run, "attention_entropy", arg)["entropy"])
    return two(entropy[_sharpest(run), ANSWER_POSITION])


def _final_attention(run: RunData):
    return run.variant.artifact("argument_attention", run.variant.epochs[-1])


# The head with the most attention on the answer at the end, and that share.
for _name, _attr, _fmt in (("answer_head", "answer_head", str),
                           ("answer_share", "answer_head_share", two)):
    per_run(_name, needs=("argument_attention",))(
        lambda run, arg, attr=_attr, fmt=_fmt: fmt(_final_attention(run).attrs[attr]))


@per_run("answer_by_op", needs=("argument_attention", "operation_learning"))
def _answer_by_op(run: RunData, arg: str | None) -> str:
    """The answer head's attention on the answer per operation at the end, highest first:
    ``0.91 for Second, 0.90 for Last, ...``."""
    art = _final_attention(run)
    head = list(art.attrs["heads"]).index(art.attrs["answer_head"])
    pairs = sorted(zip(_operations(run), np.asarray(art["to_answer"])[head], strict=True),
                   key=lambda p: -p[1])
    return ", ".join(f"{two(share)} for {op}" for op, share in pairs)


@per_run("layer1_answer_range", needs=("argument_attention",))
def _layer1_answer_range(run: RunData, arg: str | None) -> str:
    """The lowest and highest attention on the answer (mean over operations) of the
    layer-1 heads at the end."""
    art = _final_attention(run)
    rows = zip(art.attrs["heads"], art["to_answer"], strict=True)
    shares = [float(np.mean(row)) for label, row in rows if label.startswith("L1")]
    return f"{two(min(shares))}-{two(max(shares))}"


# --------------------------------------------------------------------------- neurons

@per_run("neurons", needs=("neuron_selectivity",))
def _neurons(run: RunData, arg: str | None) -> str:
    """``neurons@KIND.LAYER.EPOCH``: how many neurons of a layer are selective for
    ``operation``, ``answer`` or ``magnitude`` at a checkpoint (``answer.1.end``)."""
    kind, layer, at = (arg or "").split(".") if (arg or "").count(".") == 2 else (None,) * 3
    if kind is None:
        raise FigureError(f"neurons takes KIND.LAYER.EPOCH (answer.1.end), not {arg!r}")
    return count(_at(run, "neuron_selectivity", at).attrs["selective"][kind][int(layer)])


# ------------------------------------------------------------------------ embeddings

for _name in ("digit_order", "digit_order_all"):
    per_run(_name, needs=("embedding_geometry",))(
        lambda run, arg, name=_name: two_signed(_at(run, "embedding_geometry", arg).attrs[name]))


@per_run("digit_pc1_share", needs=("embedding_geometry",))
def _digit_pc1_share(run: RunData, arg: str | None) -> str:
    return pct(_at(run, "embedding_geometry", arg).attrs["digit_pc1_share"])


@per_run("cos_max_min", needs=("embedding_geometry",))
def _cos_max_min(run: RunData, arg: str | None) -> str:
    """cos(Max, Min) of the raw operation embeddings at checkpoint ``arg``."""
    return two_signed(np.asarray(_at(run, "embedding_geometry", arg)["operation_cosine"])[0, 1])


SETTLED = 0.5
"""A digit order (Spearman rho) from which the digits count as (partly) ordered."""


def _digit_orders(run: RunData) -> list[float]:
    return [float(run.variant.artifact("embedding_geometry", e).attrs["digit_order"])
            for e in run.variant.epochs]


def _settled(run: RunData) -> int:
    """The index of the first checkpoint from which the digit order (digit PC1) stays at
    least :data:`SETTLED` to the end."""
    rho = _digit_orders(run)
    if rho[-1] < SETTLED:
        raise FigureError(f"the digit order of {run.variant.id} ends at {rho[-1]:.2f}, "
                          f"below {SETTLED}: say so in the template instead")
    below = [i for i, r in enumerate(rho) if r < SETTLED]
    return below[-1] + 1 if below else 0


@per_run("digit_order_from", needs=("embedding_geometry",))
def _digit_order_from(run: RunData, arg: str | None) -> str:
    return count(run.variant.epochs[_settled(run)])


@per_run("digit_order_after", needs=("embedding_geometry",))
def _digit_order_after(run: RunData, arg: str | None) -> str:
    """The lowest and highest digit order from that checkpoint to the end."""
    after = _digit_orders(run)[_settled(run):]
    return f"{two_signed(min(after))}-{two_signed(max(after))}"


@per_run("embed_move")
def _embed_move(run: RunData, arg: str | None) -> str:
    """The largest change of any coordinate of W_E from the first to the last checkpoint
    (read from the checkpoints: no analyzer stores the weights)."""
    return two(_embedding_change(run).max())


@per_run("embed_std")
def _embed_std(run: RunData, arg: str | None) -> str:
    """The standard deviation of W_E's coordinates at initialisation."""
    return two(np.std(_embedding(run, run.variant.epochs[0])))


def _embedding(run: RunData, epoch: int) -> np.ndarray:
    """W_E (``embed.weight``, one row per token) at checkpoint ``epoch``."""
    weights = run.variant.store.load_checkpoint(run.variant.id, epoch)
    if "embed.weight" not in weights:
        raise FigureError(f"no embed.weight among the weights of {run.variant.id}")
    return weights["embed.weight"].double().numpy()


def _embedding_change(run: RunData) -> np.ndarray:
    first, last = run.variant.epochs[0], run.variant.epochs[-1]
    return np.abs(_embedding(run, last) - _embedding(run, first))


from benchmarks._docs_toy_templates import TEMPLATES  # noqa: E402  (after the figures)
