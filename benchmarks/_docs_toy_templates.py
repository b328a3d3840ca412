"""The text of toy_operations's README blocks (families/toy_operations/README.md), one
template per block; the figures are in :mod:`benchmarks._docs_toy` (``toy_NAME`` reads
the family's defaults, ``toyq_NAME`` the ``quick`` preset). See
:mod:`benchmarks._docs_templates` for the placeholders."""

from __future__ import annotations

from benchmarks._docs_blocks import Template

__all__ = ["TEMPLATES"]

TOY = "families/toy_operations/README.md"

# ruff: noqa: E501 (a template line is a doc line, placeholders and all)
TEMPLATES = (
    Template(TOY, "toy_presets", """\
Measured with `python -m benchmarks.docs` (the `tdw` CLI, as jobs) on a {~toy_cores}-core CPU with
torch's default threads, the 1-minute load average beside each time. On a machine shared
with other jobs the times inflate, and by how much depends on the threads: under contention
torch's two default threads can make a job several times slower than `OMP_NUM_THREADS=1`
(which may also change a run's last bits: training is repeatable at a given thread count).

| preset | parameters | measured |
| --- | --- | --- |
| *(default)* | lr 1e-3, batch 32, 50 epochs | the study's run. `tdw train toy_operations`: job {~toy_train_job} ({~toy_train_seconds} s of epochs, {~toy_ms_per_epoch} ms per epoch; load {~toy_train_load}); `tdw analyze`: {toy_checkpoints} checkpoints in {~toy_analysis_job} as a job ({~toy_workers} workers, load {~toy_analysis_load}). Final train {toy_final_acc@train}, held out {toy_final_acc@test} (loss {toy_final_test_loss}). Learns within the first epoch (held-out {toy_op_acc_range@1} per operation after epoch 1), so most of the dynamics lie between checkpoints 0 and 1; the `quick` preset slows them down |
| `quick` | lr 1e-4, batch 64, 15 epochs | `tdw train toy_operations --preset quick`: job {~toyq_train_job} ({~toyq_train_seconds} s of epochs, {~toyq_ms_per_epoch} ms per epoch; load {~toyq_train_load}). `tdw analyze`: the {toyq_checkpoints} checkpoints in {~toyq_analysis_job} as a job ({~toyq_workers} workers, load {~toyq_analysis_load}). Final train {toyq_final_acc@train}, held out {toyq_final_acc@test} (loss {toyq_final_test_loss}). The low rate spreads learning over the first epochs (held-out {toyq_op_acc_range@1} per operation after epoch 1), so the checkpoints show it happen |"""),
    Template(TOY, "toy_quick_findings", """\
- **Which operation first**: after epoch 1 the held-out accuracy is
  {toyq_op_accs@1}. On the "stays ≥ 0.9" criterion
  {toyq_learned} (`operation_learning.first` is
  "{toyq_learned_first}"). {toyq_op_top@1} leads early, and {toyq_learned_last} is learned last.
- **Entropy falls in block 2, not block 1**: mean entropy at `)` of layer 1 falls from {toyq_entropy_l1@0}
  to {toyq_entropy_l1@end} bits (head {toyq_sharpest} from {toyq_sharpest_entropy@0} to {toyq_sharpest_entropy@end} bits), while layer 0 goes from
  {toyq_entropy_l0@0} to {toyq_entropy_l0@end} bits.
- **An answer-selection head**: {toyq_answer_head} puts {toyq_answer_share} of its attention from `)` on the digit(s)
  equal to the answer ({toyq_answer_by_op});
  a head attending uniformly puts ~0.15 there.
- **Neurons specialise**: in layer 0, neurons with ≥ 50% of their variance at `)`
  explained by the operation rise from {toyq_neurons@operation.0.0} to {toyq_neurons@operation.0.end} of 256; in layer 1, answer-digit-selective
  neurons rise from {toyq_neurons@answer.1.0} to {toyq_neurons@answer.1.end}, and {toyq_neurons@magnitude.1.end} track the answer's magnitude (|r| ≥ 0.5).
- **Digits are *not* ordered along PC1** in this run: the Spearman order is {toyq_digit_order@end} at the end
  (digit PC1; {toyq_digit_order@0} at initialisation) and {toyq_digit_order_all@end} (PC1 of all tokens; {toyq_digit_order_all@0}), the digit PC1
  holding {toyq_digit_pc1_share@end} of their variance ({toyq_digit_pc1_share@0} at initialisation). At lr 1e-4 the embeddings move at most
  {toyq_embed_move} per coordinate over the run, against an initial spread of std {toyq_embed_std}, so the random start
  dominates their PCA (the default run below gets a partial order). The operation embeddings
  do not group either (cos(Max, Min) {toyq_cos_max_min@0} at initialisation, {toyq_cos_max_min@end} at the end)."""),
    Template(TOY, "toy_default_findings", """\
The default run (ms0-ds0, lr 1e-3) goes further in every respect, the embeddings only part
of the way: the layer-1 entropy at `)` falls from {toy_entropy_l1@0} to {toy_entropy_l1@1} bits after one epoch and to
{toy_entropy_l1@end} bits by epoch 50 (layer 0: {toy_entropy_l0@0} to {toy_entropy_l0@end}), lower than the study's "3.0 → 0.7 bits";
every layer-1 head ends as an answer selector (the four put {toy_layer1_answer_range} of their attention from
`)` on the answer, {toy_answer_head} the most); {toy_neurons@operation.0.end} layer-0 neurons are operation-selective and
{toy_neurons@answer.1.end} of 256 layer-1 neurons answer-selective.
{toy_learned}.
The digit order along the digit PC1, {toy_digit_order@0} at initialisation, is {toy_digit_order_after} from epoch {toy_digit_order_from} on
({toy_digit_order_all@end} along PC1 of all tokens at the end) with PC1 still holding only {toy_digit_pc1_share@end} of the
digits' variance: a partial order, not the study's "perfect ordering by numeric value"; and the
operations still do not group (cos(Max, Min) = {toy_cos_max_min@end})."""),
)
