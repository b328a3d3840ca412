"""The text of docs/reproductions.md's blocks, one template per block: Modulo Addition's
canonical variant once per recipe (``cm_NAME`` figures read the user's recipe, ``ct_NAME``
tdw's; :mod:`benchmarks._docs_repro`), and the quick runs of Induction Heads and Toy
Operations (their families' figures). To change the prose inside a block, change it here
and run ``python -m benchmarks.reproductions``."""

from __future__ import annotations

from benchmarks._docs_blocks import Template
from benchmarks._docs_repro import PREFIXES

__all__ = ["TEMPLATES", "REPORT", "modulo"]

REPORT = "docs/reproductions.md"


# ruff: noqa: E501 (a template line is a doc line, placeholders and all)
def modulo(p: str, block: str) -> Template:
    """The block of one recipe's canonical run (figure prefix ``p``)."""
    return Template(REPORT, block, f"""\
Variant `{{{p}variant}}`, {{{p}checkpoints}} checkpoints over {{{p}epochs}} epochs.

| phase, and the rule that ends it | Nanda et al. | this run | over the paper's | test accuracy then |
| --- | --- | --- | --- | --- |
| memorisation: the excluded loss is at its lowest | 1.4k | {{{p}phase@memorisation}} | {{{p}paper_ratio@memorisation}} | {{{p}test_acc_at@memorisation}} |
| circuit formation: the test loss starts its fall | 9.4k | {{{p}phase@circuit}} | {{{p}paper_ratio@circuit}} | {{{p}test_acc_at@circuit}} |
| clean-up: the test accuracy reaches 99% | about 14k | {{{p}phase@cleanup}} | {{{p}paper_ratio@cleanup}} | {{{p}test_acc_at@cleanup}} |

- **Accuracy.** Train accuracy reaches 99% at epoch {{{p}reach@train99}}. Test accuracy
  reaches 50% at {{{p}reach@test50}} and 95% at {{{p}reach@test95}}; at the end it is {{{p}final_test_acc}} (test loss
  {{{p}final_test_loss}}).
- **Key frequencies** of the final embedding: {{{p}keys}} ({{{p}key_count}}, holding {{{p}key_share}} of its
  squared Fourier norm; the strongest other frequency holds {{{p}next_share}}). The MLP neurons
  that end specialised (85% of their variance in one frequency): {{{p}neuron_keys}}.
- **Restricted against test loss.** The restricted loss (the logits kept to the final key
  frequencies' terms) falls first: from the end of memorisation to the start of clean-up it
  goes {{{p}restricted_at@memorisation}} -> {{{p}restricted_at@circuit}} ({{{p}decades@restricted.circuit}} decades) while the test loss goes
  {{{p}test_loss_at@memorisation}} -> {{{p}test_loss_at@circuit}} ({{{p}decades@test.circuit}}); by the end of clean-up they have fallen {{{p}decades@restricted.cleanup}} and
  {{{p}decades@test.cleanup}} decades. As shares of those falls, the restricted loss makes 10% of its fall by
  epoch {{{p}fall@restricted.10}} and 90% by {{{p}fall@restricted.90}}, the test loss by {{{p}fall@test.10}} and {{{p}fall@test.90}}.
- **Excluded loss** (those terms removed, on the training pairs): {{{p}excluded@memorisation}} when
  memorisation ends, {{{p}excluded@circuit}} when clean-up starts, highest ({{{p}excluded@peak}}) at epoch
  {{{p}excluded_peak_epoch}}, {{{p}excluded@end}} at the end.
- **Sum of squared weights**: {{{p}sq_weights@0}} at initialisation, {{{p}sq_weights@memorisation}} when memorisation
  ends, {{{p}sq_weights@circuit}} when clean-up starts, {{{p}sq_weights@cleanup}} when it ends.
- **tdw's own marker** beside `grokking_transition` (whose transition is the start of
  clean-up above): `phase_change`, which also reads the restricted loss and the LLC, says
  "{{{p}phase_change}}".
- **Cost on this CPU**: training, {{~train_cost@{PREFIXES[p]}}}; `tdw analyze` of every
  analyzer, {{~analysis_cost@{PREFIXES[p]}}}.""")


TEMPLATES = (
    modulo("cm_", "repro_modulo_miscope"),
    Template(REPORT, "repro_induction", """\
The quick preset (`tdw train induction_heads --preset quick`, {ih_checkpoints} checkpoints
over 24 epochs) shows the phase change from epoch {ih_onset}: the induction score is steepest at
{ih_steepest@induction_score} and the in-context learning score at {ih_steepest@in-context_learning_score} (confidence {ih_confidence}). Over epochs {ih_jump@induction_score}
the best head's induction score goes {ih_induction@onset} -> {ih_induction@top}, the in-context score
{ih_icl@onset} -> {ih_icl@top} nats and the test loss {ih_test_loss@onset} -> {ih_test_loss@top}, and the previous-token heads
{ih_previous_heads} of layer 0 rise {ih_previous@onset} -> {ih_previous@top} in the same epochs. The test loss
falls {ih_loss_slope@before} nats an epoch over as many epochs before the jump, {ih_loss_slope@during} during it and
{ih_loss_slope@after} after it. The control
(`--set repeat_fraction=0`, no repeats to copy) has no phase change: "{ihc_summary}"; its
in-context score stays near zero ({ihc_icl@0} -> {ihc_icl@end} nats).
Cost on this CPU: training {~train_cost@ih_quick}, analysis {~analysis_cost@ih_quick}; the control
{~train_cost@ih_control} and {~analysis_cost@ih_control}."""),
    Template(REPORT, "repro_toy", """\
The default run (the study's settings: lr 1e-3, batch 32, 50 epochs) learns within its
first epoch: held-out accuracy per operation is already {toy_op_acc_range@1} after epoch 1 and
ends at {toy_final_acc@test} held out. The `quick` preset (lr 1e-4, batch 64) spreads the learning over
the first epochs: after epoch 1 the held-out accuracy is {toyq_op_accs@1}; on
the "stays ≥ 0.9" criterion {toyq_learned}; {toyq_learned_last} is learned last.
Cost on this CPU: the default run {~train_cost@toy} to train and {~analysis_cost@toy} to
analyse; the quick run {~train_cost@toy_quick} and {~analysis_cost@toy_quick}."""),
)
