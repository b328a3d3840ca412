"""The text of every figures block in the docs, one template per block.

Each template line is a line of the doc. ``{name}`` is a deterministic figure, which
``python -m benchmarks.docs --check`` compares; ``{~name}`` a measured one (a time, a load
average), which only a rewrite changes; ``@arg`` passes an argument (see
:mod:`benchmarks._docs_figures`). To change the prose inside a block, change it here and
run ``python -m benchmarks.docs``; the text outside the blocks is the docs' own.
"""

from __future__ import annotations

from benchmarks._docs_blocks import Template

__all__ = ["TEMPLATES"]

README, GUIDE = "README.md", "docs/getting_started.md"
MODULO = "families/modulo_addition_1l/README.md"

# ruff: noqa: E501 (a template line is a doc line, placeholders and all)
TEMPLATES = (
    # ------------------------------------------------------------------------ README.md
    Template(README, "quickstart_times", """\
Set up and start the workbench: train the quick grokking preset of Modulo Addition 1-Layer
({~train_job} as a job on a {~cores}-core CPU at load average {~train_load}, {~ms_per_epoch} ms per epoch),
analyse every checkpoint ({~analysis_job} as a job at load average {~analysis_load}: {artifacts} artifacts,
{~analyzer_share@llc} of the worker time in the SGLD sampler of the local learning coefficient), then
serve the dashboards and print the URL to open:"""),
    Template(README, "adaptive_window", """\
On the quick preset, `0-2500/250,adaptive:0-2500/84` (at most 95 checkpoints, like the
default) puts {window_checkpoints@quick_adaptive} checkpoints in the grokking window (the 10%-90% fall of the log test loss)
against the default's {window_checkpoints@quick} ([docs/adaptive_checkpoints.md](docs/adaptive_checkpoints.md))."""),
    Template(README, "quick_preset", """\
Measured on a {~cores}-core CPU: train accuracy passes 99% at epoch {memorised}, test accuracy is
still {test_acc@740} at epoch 740 and passes 95% only at epoch {generalised} and is 100% from epoch
{perfect}, with test loss {test_loss@end} at the end: real grokking. The job took {~train_job} end to
end ({~train_seconds} s of epochs, {~ms_per_epoch} ms per epoch, {checkpoints} checkpoints, load average {~train_load}),
and `tdw analyze` then computed all {artifacts} artifacts ({analyzers} analyzers x {checkpoints} checkpoints +
{cross_epoch} cross-epoch) in {~analysis_job} as a job ({~workers} workers, load average {~analysis_load}), of
which the `llc` analyzer (local learning coefficient, {llc_passes} SGLD steps per checkpoint)
took {~analyzer_seconds@llc} s of worker time, about {~analyzer_per_checkpoint@llc} s per checkpoint."""),
    # ---------------------------------------------------------- docs/getting_started.md
    Template(GUIDE, "guide_machine", """\
The times and figures below were measured on a {~cores}-core CPU machine (no GPU), at load
average {~train_load} during training and {~analysis_load} during analysis (a load above the number
of cores means other work was competing for them); expect similar times on a machine of
the same kind under the same load."""),
    Template(GUIDE, "guide_quickstart_log", """\
```
1/3 training {variant}: 2500 epochs, {checkpoints} checkpoints (job 1)
job 1 succeeded in {~train_job_short}
2/3 analysing {variant} (job 2): {artifacts_plain} to compute, 0 up to date
job 2 succeeded in {~analysis_job_short}
3/3 serving the workbench
starting the dashboards (Voila) on http://127.0.0.1:8866/ ...

  open http://127.0.0.1:8866/voila/render/workbench.ipynb
  dashboards: http://127.0.0.1:8866/
  log: /home/you/.local/share/tdw/serve/voila-8866.log

Ctrl-C stops the server.
```"""),
    Template(GUIDE, "guide_quickstart_table", """\
| step | measured | where the time goes |
| --- | --- | --- |
| training (job 1) | {~train_job} as a job, load average {~train_load}; {~train_seconds} s of epochs ({~ms_per_epoch} ms per epoch) | the 2,500 epochs; the rest is starting the job's notebook |
| analysis (job 2) | {~analysis_job} as a job, load average {~analysis_load}; {~analysis_seconds} s of analysis with {~workers} worker processes | {artifacts} artifacts ({analyzers} analyzers x {checkpoints} checkpoints, plus {cross_epoch} across checkpoints). Worker time was {~worker_per_checkpoint} s per checkpoint, of which the local learning coefficient (`llc`) took about {~analyzer_per_checkpoint@llc} s ({~analyzer_seconds@llc} s in all) and `flatness` {~analyzer_per_checkpoint@flatness} s ({~analyzer_seconds@flatness} s) |"""),
    Template(GUIDE, "guide_cli", """\
```console
$ tdw variants
variant                                      state    epochs     checkpoints  train acc  test acc
-------------------------------------------  -------  ---------  -----------  ---------  --------
{variant}  trained  2500/2500  {checkpoints}           {final_acc@train}     {final_acc@test}
$ tdw jobs show 1
job 1: train {variant}
  state     succeeded
  progress  2500/2500 (100.0%), eta -
  notebook  /home/you/.local/share/tdw/jobs/1/train.ipynb
  log tail:
    Modulo Addition 1-Layer variant {variant}
      p=59, model_seed=999, data_seed=598, train_fraction=0.5, n_epochs=2500, lr=0.001, weight_decay=1.0
      {checkpoints} checkpoints on schedule '0-150/10,150-900/50,900-1300/10,1300-2500/50,end'
      device cpu, store /home/you/.local/share/tdw
    {variant}: epochs 0->2500 in {~train_seconds} s ({~ms_per_epoch} ms/epoch), {checkpoints} checkpoints written; final train acc {summary_acc@train}, test acc {summary_acc@test}, test loss {summary_test_loss}
```"""),
    Template(GUIDE, "guide_transition", """\
The one epoch tdw does compute is the **transition**: for this family, the onset of the test
loss's main fall, detected by `grokking_transition` at epoch **{transition}** (confidence {transition_confidence}; see
[glossary.md](glossary.md#the-transition))."""),
    Template(GUIDE, "guide_whole_run", """\
The **Loss** view (log scale) shows the whole story. The train loss falls from {train_loss@0} to
{train_loss@120} by epoch 120 and keeps falling to {train_loss@end}. The test loss first *rises*, to {test_loss_peak} at
epoch {test_loss_peak_epoch}, stays high for hundreds of epochs, then falls {test_loss_decades} decades to {test_loss@end}.
The grey dots are the {checkpoints} checkpoints. They are dense in 0-150 and 900-1,300, where the
default schedule expects change. The red line is the detected transition. Clicking a dot
moves the player to that checkpoint."""),
    Template(GUIDE, "guide_memorisation", """\
- **Loss and Accuracy**: train accuracy passes 99% at epoch {memorised} while test accuracy is
  {test_acc@memorised}. The model fits the training pairs without the rule.
- **Local learning coefficient**: it rises from {llc@0} at initialisation to its peak of {llc_peak}
  at epoch {llc_peak_epoch}, while the model memorises, then falls.
- **Graduation** (the epoch from which each pair stays correct): half of all pairs, about
  the training half, have graduated by epoch {half_graduated}.
- **Embedding Fourier norms**: key frequencies at epoch {memorised}: {keys@memorised}.
- **Neuron activation over (a, b)**: at epoch 120 the stored neuron 0 (MLP neuron {neuron0})
  responds to a scattering of rows and columns, with no periodic structure:"""),
    Template(GUIDE, "guide_circuit_loss", """\
From the loss curves alone, nothing much seems to happen here. The train loss keeps
sliding, the test loss falls slowly ({test_loss_peak} to {test_loss@1000} at epoch 1,000) and test accuracy creeps
from {test_acc@150} at epoch 150 to {test_acc@1000} at 1,000. The **Progress measures** view shows what is
happening underneath:"""),
    Template(GUIDE, "guide_circuit_measures", """\
- The **restricted loss** (the logits kept to the final key frequencies' Fourier terms)
  falls from {restricted@120} at epoch 120 to {restricted@900} at 900 and {restricted@1000} at 1,000. The Fourier circuit
  alone already predicts the answers far better than the full model does on the held-out
  pairs.
- The **excluded loss** (those terms removed, on the training pairs) rises from {excluded@120} at
  epoch 120 to {excluded@1000} at 1,000. The training fit comes to depend on the circuit.
- **Embedding Fourier norms**: the key frequencies are {keys@500} at epoch 500; {keys@900} at
  epoch 900; at epoch 1,000 ({keys@1000}) they carry {key_share@1000} of the embedding's squared
  Fourier norm (red bars):"""),
    Template(GUIDE, "guide_circuit_llc", """\
- **Local learning coefficient**: it falls steadily, from {llc@150} at epoch 150 to {llc@1000} at
  1,000."""),
    Template(GUIDE, "guide_clean_up", """\
- **Loss**: after the transition at {transition} the test loss falls from {test_loss@1000} at epoch 1,000 to
  {test_loss@end} at the end, steepest around epoch {steepest}. Test accuracy passes 95% at epoch {generalised}
  and is 100% from epoch {perfect}.
- **Progress measures**: the excluded loss peaks at {excluded_peak} at epoch {excluded_peak_epoch} and falls to {excluded@end}.
  The restricted loss reaches {restricted@end}, {restricted_vs_train} the train loss.
- **Parameter norms**: weight decay shrinks the weights. The norm of all parameters
  together is {norm@150} at epoch 150, {norm@900} at 900 and {norm@end} at the end (the view shows each
  parameter group at the current checkpoint).
- **Embedding Fourier norms**: at the end the key frequencies are {keys@end},
  carrying {key_share@end} of the squared norm.
- **Neuron frequency clusters** and **Neuron specialisation**: {specialised} of the {d_mlp} neurons end
  specialised (85% or more of their variance in one frequency): {specialised_by_frequency}.
  **Neuron coarseness**: the mean falls from {coarseness@0} at initialisation to {coarseness@end}. The
  neurons are fine and periodic, not smooth.
- **Neuron activation over (a, b)**: the same stored neuron 0 is now periodic in a and in
  b, {neuron0_frequency} periods across the 59 residues ({neuron0_share} of its variance is in frequency {neuron0_frequency}):"""),
    Template(GUIDE, "guide_detectors", """\
Its title says "from epoch {phase_onset}": the onset of the restricted loss's jump, steepest at
{phase_steepest@restricted_loss}. The red line is the family's transition ({transition}, from `grokking_transition`),
and the line under the plot says which date is which. The test loss agrees: its steepest fall in
decades comes late, at epoch {phase_steepest@test_loss}, in clean-up, but the bulk of its {phase_decades@test_loss}-decade fall
(80% of it, epochs {phase_bulk@test_loss}) overlaps the restricted loss's jump. The LLC's steepest fall is at
epoch {phase_steepest@LLC}, during memorisation, and does not agree."""),
    # ------------------------------------------------ families/modulo_addition_1l/README.md
    Template(MODULO, "modulo_presets", """\
| preset | parameters | measured on a {~cores}-core CPU |
| --- | --- | --- |
| *(default)* | p = 113, 30% train, 25,000 epochs | the paper's run; meant for a GPU |
| `quick` | p = 59, 50% train, 2,500 epochs | train acc ≥ 99% at epoch {memorised}; test acc ≥ 95% only at epoch {generalised}, 100% from epoch {perfect}; test loss {test_loss@end} at the end; {~train_job} as a job ({~train_seconds} s of epochs, {~ms_per_epoch} ms/epoch, load average {~train_load}); key frequencies {keys@end} carry {key_share@end} of the embedding's squared Fourier norm; `tdw analyze`: {artifacts} artifacts ({analyzers} analyzers x {checkpoints} checkpoints + {cross_epoch} cross-epoch) in {~analysis_job} as a job, {~workers} workers, load average {~analysis_load} |"""),
    Template(MODULO, "modulo_artifact_size", """\
On the quick preset (p = 59) the artifacts come to {artifact_mb} MB per checkpoint, against {checkpoint_mb} MB
for the checkpoint itself."""),
    Template(MODULO, "modulo_transition", """\
On the quick preset: epoch {transition}, steepest descent at {steepest}, confidence {transition_confidence}."""),
    Template(MODULO, "modulo_phase_change", """\
On the quick preset it reports "{phase_summary}", confidence {phase_confidence}. The test loss's jump
runs over epochs {phase_span@test_loss}, more than half of the 2,500 epochs, because a fall on a log
scale drags a long tail; its bulk, 80% of its {phase_decades@test_loss} decades, falls over epochs {phase_bulk@test_loss}, and that
is what the rule measures. The two markers answer different questions: `grokking_transition`
({transition}) dates the onset of the test loss's fall from every epoch, `phase_change` ({phase_onset}) the
onset of the restricted loss's jump over the checkpoints. The `phase_change` view's title gives
the phase-change epoch; its red line is the family's transition, and the line under the plot
says which is which."""),
    Template(MODULO, "modulo_stories", """\
On the quick preset's four seeds (p = 59, 2,500 epochs): seed 999 is {story_label}, first descent
{window@first_descent}, plateau {window@plateau}, cascade {window@cascade}, second descent {window@second_descent}, first mover
frequency {first_mover} at epoch {first_mover_epoch} ({first_mover_fate});
seed 1 {story_brief@1};
seed 2 {story_brief@2};
seed 3 {story_brief@3}."""),
    Template(MODULO, "modulo_llc", """\
`llc` estimates the local learning coefficient of the training loss at every checkpoint
(Lau et al. 2023; `tdw.library.llc`): SGLD chains localised at the checkpoint, with
the hyperparameters of `LLC_CONFIG` (step 3e-5, localisation 1000, n*beta = n / log n =
{llc_nbeta} for {llc_n_train} training pairs, 2 chains of 40 burn-in + 80 draws on minibatches of 256,
seed 0) stored in every artifact (`sgld`) beside the per-step loss trace. On the quick
preset (all {checkpoints} checkpoints):

- the LLC rises from {llc@0} at initialisation to a peak of {llc_peak} at epoch {llc_peak_epoch}, as the
  model memorises (train accuracy passes 99% at epoch {memorised}), then falls steadily, by about
  a decade every 600 to 1,000 epochs: {llc@150} at 150, {llc@500} at 500, {llc@800} at 800, {llc@1000} at 1,000,
  {llc@1300} at 1,300, {llc@1500} at 1,500, {llc@1800} at 1,800, {llc@2000} at 2,000 and {llc@end} at the end. The
  spread over chains is {llc_spread@0-799} before epoch 800 and at most {llc_spread_max@800-end} after.
- The fall is smooth through circuit formation and clean-up: there is no separate drop at
  the transition (the test loss falls over epochs {phase_span@test_loss}). The LLC's steepest fall
  (in log) is at epoch {phase_steepest@LLC}, right after memorisation, and does not agree with the
  restricted loss's phase change (see above).
- Caveat: late in training the training loss is down to {train_loss@1300} by epoch 1,300, and the
  chains' `drift` (second half of the draws minus the first) is {llc_drift@1300-1850} LLC units over
  epochs 1,300-1,850, falling to {llc_drift@end} at the end; from epoch 1,600 on it is {llc_drift_share@1600-end} of
  the estimate itself. The chains have not reached their plateau there, so late values are
  lower bounds of the same order, not precise numbers.
- Cost: {llc_passes} forward/backward passes on 256 pairs per checkpoint. In the quickstart's
  analysis job ({~workers} worker processes, load average {~analysis_load} on {~cores} cores) it took {~analyzer_seconds@llc} s
  of worker time for the {checkpoints} checkpoints, {~analyzer_per_checkpoint@llc} s per checkpoint, against about {~others_seconds@llc} s
  for the other {other_analyzers} analyzers together. It is by far the most expensive analyzer of the
  family; leave it out with `--analyzers` when it is not wanted."""),
)
