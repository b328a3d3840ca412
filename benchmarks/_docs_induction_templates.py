"""The text of the figures blocks of Induction Heads' README, one template per block.

``ih_NAME`` figures are of the quick preset, ``ihc_NAME`` of its plain-random control
(:mod:`benchmarks._docs_induction`); ``{~...}`` are measured (times, load averages). To
change the prose inside a block, change it here and run ``python -m benchmarks.docs``.
"""

from __future__ import annotations

from benchmarks._docs_blocks import Template

__all__ = ["TEMPLATES"]

README = "families/induction_heads/README.md"

# ruff: noqa: E501 (a template line is a doc line, placeholders and all)
TEMPLATES = (
    Template(README, "ih_presets", """\
| preset | parameters | measured on a {~ih_cores}-core CPU |
| --- | --- | --- |
| *(default)* | as above, 40 epochs | not measured as a whole; its first 24 epochs are the quick preset's |
| `quick` | 24 epochs (1,536 steps), {ih_checkpoints} checkpoints | phase change from epoch {ih_onset} (induction score steepest at {ih_steepest@induction_score}, in-context score at {ih_steepest@in-context_learning_score}; confidence {ih_confidence}): over epochs {ih_jump@induction_score} the best induction score goes {ih_induction@onset} -> {ih_induction@top}, the in-context score {ih_icl@onset} -> {ih_icl@top} nats and the test loss {ih_test_loss@onset} -> {ih_test_loss@top}; the previous-token heads {ih_previous_heads} rise {ih_previous@onset} -> {ih_previous@top} over the same epochs ({ih_previous@end} at the end). The Hessian top eigenvalue jumps before the transition, over epochs {ih_jump@Hessian_top_eigenvalue} (steepest at {ih_steepest@Hessian_top_eigenvalue}; {ih_hessian@0} at initialisation, peak {ih_hessian_peak} at epoch {ih_hessian_peak_epoch}), and does not mark it: the signals that agree are the {ih_agreeing}. `tdw train`: job {~ih_train_job} ({~ih_train_seconds} s of epochs, {~ih_ms_per_epoch} ms/epoch, load average {~ih_train_load}); `tdw analyze`: job {~ih_analysis_job} ({~ih_workers} workers, load average {~ih_analysis_load}); {~ih_total} in all |
| `quick` + `repeat_fraction=0` (control) | plain random sequences | "{ihc_summary}": best induction score {ihc_induction@0} -> {ihc_induction@end}, in-context score {ihc_icl@0} -> {ihc_icl@end} nats, test loss {ihc_test_loss@0} -> {ihc_test_loss@end} while the train loss falls to {ihc_train_loss@end} (it memorises training sequences); `tdw train`: job {~ihc_train_job} ({~ihc_train_seconds} s of epochs, load average {~ihc_train_load}); `tdw analyze`: job {~ihc_analysis_job} (load average {~ihc_analysis_load}) |"""),
    Template(README, "ih_loss_by_position", """\
At the end of the quick run the `loss_by_position` view shows what was learned. On the
repeated probe the loss averages {ih_first_copy_loss} nats over the first copy (its tokens 2-16); on the
second copy it is {ih_second_copy@2} at token 2, falls to {ih_second_copy_min} by token {ih_second_copy_min_token}, is {ih_second_copy@12} at token 12 (the
training segments are 12 long, the probe's halves 16) and rises to {ih_second_copy@16} at token 16, the last.
On plain random sequences it averages {ih_random_first_half} nats over the first half and {ih_random_second_half} over the second,
{ih_random_vs_uniform} log {ih_d_vocab} = {ih_uniform_loss}, a uniform guess: every training sequence held a repeat, and the
model copies chance recurrences."""),
)
