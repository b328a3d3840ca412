"""The Train and Analyze pages of the workbench, generated from the family registry."""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from tdw.analysis.device import device_choices, visible_gpus
from tdw.analysis.run import AnalysisRun
from tdw.errors import TdwError
from tdw.family.registry import families
from tdw.jobs import launch
from tdw.store.store import Store
from tdw.training.run import AlreadyTrained
from tdw.ui.forms import ParamForm
from tdw.ui.jobs import JobList
from tdw.ui.live import LiveTraining
from tdw.ui.schedule_editor import ScheduleEditor, SchedulePreview

__all__ = ["TrainPage", "AnalyzePage"]

def _device_picker() -> pn.widgets.Select:
    """Where a job runs: auto (CUDA when available), the CPU, or one of this machine's GPUs."""
    return pn.widgets.Select(label="device", options=device_choices(visible_gpus()),
                             value="auto", width=120)


_PLAN_STYLE = ("background:#f6f8fa; border:1px solid #e1e4e8; border-radius:4px; "
               "padding:8px 12px; font-size:12px; white-space:pre-wrap; margin:0")


class TrainPage(pn.viewable.Viewer):
    """Pick a family, fill its typed form, edit the checkpoint schedule, start a job."""

    def __init__(self, store: Store, job_list: JobList, **params: Any):
        super().__init__(**params)
        self.store, self.job_list = store, job_list
        names = _trainable()
        self.family = pn.widgets.Select(label="family", options=names,
                                        value=_last_trained(store, names), width=260)
        self.about = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.form_holder = pn.Column(sizing_mode="stretch_width")
        self.schedule = ScheduleEditor()
        self.preview = SchedulePreview()
        self.preview_variant = pn.widgets.Select(label="preview on variant", width=420)
        self.request_text = pn.pane.Markdown("", margin=(0, 10))
        self.device = _device_picker()
        self.device.param.watch(lambda e: self._check(), "value")
        self.start = pn.widgets.Button(label="Start training", color="primary", width=160)
        self.start.on_click(self._start)
        self.feedback = pn.pane.Alert("", alert_type="info", visible=False)
        self.live = LiveTraining(store)
        self.family.param.watch(lambda e: self._load_family(), "value")
        self.preview_variant.param.watch(lambda e: self._update_preview(), "value")
        self.schedule.param.watch(lambda e: self._check(), ["schedule", "error"])
        self._load_family()

    def _load_family(self) -> None:
        fam = families()[self.family.value]
        self.about.object = f"**{fam.title}**: {fam.description}"
        self.form = ParamForm(fam)
        self.form.param.watch(lambda e: self._check(), ["values", "error"])
        self.form_holder.objects = [self.form]
        variants = [v.id for v in self.store.variants(fam.name) if v.epochs_done > 0]
        self.preview_variant.options = ["(none)", *variants]
        self.preview_variant.value = variants[0] if variants else "(none)"
        self._check()

    # ---------------------------------------------------------------- logic
    def _n_epochs(self) -> int | None:
        if self.form.values is None:
            return None
        fam = families()[self.family.value]
        return fam.train_config(self.form.values).n_epochs

    def request(self) -> launch.TrainingRequest:
        """The validated request the form describes (raises :class:`TdwError` if invalid)."""
        if self.form.values is None:
            raise TdwError(self.form.error)
        if self.schedule.schedule is None:
            raise TdwError(f"schedule: {self.schedule.error}")
        return launch.validate_training(self.store, self.family.value, self.form.values,
                                        schedule=self.schedule.spec, device=self.device.value)

    def _check(self) -> None:
        n = self._n_epochs()
        if n is not None and n != self.schedule.n_epochs:
            fam = families()[self.family.value]
            # recomposes and re-parses the schedule, which calls back here
            self.schedule.fit(n, fam.default_schedule(self.form.values))
            return
        try:
            req = self.request()
        except AlreadyTrained as exc:
            self.request_text.object, ok = f"✓ {exc}", False
        except TdwError as exc:
            self.request_text.object = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            ok = False
        else:
            self.request_text.object, ok = f"Will train **{req.describe()}**.", True
        self.start.disabled = not ok
        self._update_preview()

    def _update_preview(self) -> None:
        vid = self.preview_variant.value
        metrics = None
        if vid and vid != "(none)":
            try:
                metrics = self.store.load_metrics(vid)
            except TdwError:
                metrics = None
        self.preview.show(metrics, self.schedule.schedule)

    def _start(self, event: Any) -> None:
        try:
            record = launch.start_training(self.store, self.request())
        except TdwError as exc:
            self.feedback.alert_type, self.feedback.object = "danger", str(exc)
        else:
            self.feedback.alert_type = "success"
            self.feedback.object = f"Started job {record.id}: training {record.variant}."
            self.job_list.refresh()
            self.live.follow(record.id)
        self.feedback.visible = True

    def __panel__(self):
        return pn.Column(
            pn.Row(self.family, self.about, sizing_mode="stretch_width"),
            pn.pane.Markdown("#### Parameters"), self.form_holder,
            pn.pane.Markdown("#### Checkpoint schedule"),
            pn.Row(self.schedule, pn.Column(self.preview_variant, self.preview),
                   sizing_mode="stretch_width"),
            pn.Row(self.device, self.start, self.request_text), self.feedback,
            pn.pane.Markdown("#### Training, live"), self.live,
            pn.pane.Markdown("#### Jobs"), self.job_list, sizing_mode="stretch_width")


class AnalyzePage(pn.viewable.Viewer):
    """Pick a variant, analyzers and checkpoints; see what is missing; start and watch."""

    variant = param.String(default="")

    def __init__(self, store: Store, job_list: JobList, **params: Any):
        super().__init__(**params)
        self.store, self.job_list = store, job_list
        self.picker = pn.widgets.Select(label="variant", width=460)
        self.analyzers = pn.widgets.MultiChoice(label="analyzers (empty: all)", options=[],
                                                sizing_mode="stretch_width")
        self.checkpoints = pn.widgets.TextInput(
            label="checkpoints (empty: all)", placeholder="e.g. 0-1000/100,end", width=300)
        self.force = pn.widgets.Checkbox(label="recompute up-to-date artifacts", value=False)
        self.device = _device_picker()
        self.plan_text = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["tdw-plan"])
        self.start = pn.widgets.Button(label="Start analysis", color="primary", width=160)
        self.start.on_click(self._start)
        self.feedback = pn.pane.Alert("", alert_type="info", visible=False)
        self.picker.param.watch(self._pick, "value")
        for w in (self.analyzers, self.checkpoints, self.force, self.device):
            w.param.watch(lambda e: self._plan(), "value")
        self.refresh_variants()

    def refresh_variants(self) -> None:
        ids = [v.id for v in self.store.variants() if v.epochs_done > 0
               or self.store.checkpoints(v.id)]
        current = self.picker.value
        self.picker.options = ids
        if ids:
            self.picker.value = current if current in ids else ids[0]

    def _pick(self, event: param.parameterized.Event) -> None:
        self.variant = event.new or ""
        if self.variant:
            fam = families()[self.store.variant(self.variant).family]
            self.analyzers.options = [a.name for a in (*fam.analyzers, *fam.cross_epoch)]
            self.analyzers.value = []
        self._plan()

    def _plan(self) -> None:
        if not self.variant:
            self.plan_text.object, self.start.disabled = "No trained variant yet.", True
            return
        try:
            run = AnalysisRun.prepare(
                variant=self.variant, analyzers=self.analyzers.value,
                checkpoints=self.checkpoints.value, force=self.force.value,
                device=self.device.value, store=self.store)
        except TdwError as exc:
            self.plan_text.object = f"<b style='color:#b00'>{html.escape(str(exc))}</b>"
            self.start.disabled = True
            return
        self.plan_text.object = (f"<pre style='{_PLAN_STYLE}'>{html.escape(run.describe())}"
                                 "</pre>")
        self.start.disabled = run.plan.empty

    def _start(self, event: Any) -> None:
        try:
            run, record = launch.start_analysis(
                self.store, self.variant, analyzers=self.analyzers.value,
                checkpoints=self.checkpoints.value, force=self.force.value,
                device=self.device.value)
        except TdwError as exc:
            self.feedback.alert_type, self.feedback.object = "danger", str(exc)
        else:
            self.feedback.alert_type = "success"
            self.feedback.object = (f"Started job {record.id}." if record else
                                    "Nothing to do: every artifact is up to date.")
            self.job_list.refresh()
        self.feedback.visible = True

    def __panel__(self):
        return pn.Column(self.picker, self.analyzers,
                         pn.Row(self.checkpoints, self.device, self.force),
                         pn.pane.Markdown("#### What is missing"), self.plan_text,
                         pn.Row(self.start), self.feedback, pn.pane.Markdown("#### Jobs"),
                         self.job_list, sizing_mode="stretch_width")


def _trainable() -> list[str]:
    """Families the Train page can start: not those whose variants are imported."""
    return [name for name, fam in families().items() if not fam.imported_by]


def _last_trained(store: Store, names: list[str]) -> str:
    """The family of the store's newest trainable variant: the page opens where the user
    left off; on an empty store, the first family."""
    mine = [v for v in store.variants() if v.family in names]
    return max(mine, key=lambda v: v.created).family if mine else names[0]
