"""The Init gradients page of the workbench: ``tdw init-gradients`` without a terminal.

A form (the variant whose key frequencies are ranked, the family parameters the split
depends on, the model seeds) and a Run button. The sweep (:func:`.init_sweep
.init_gradient_sweep`, seconds to minutes) computes in a background thread of the page's
kernel, so the page stays live: a periodic callback reads its progress, shows it with an
ETA, and draws the result when it is done (:mod:`.init_sweep_charts`); Cancel stops it
after the current seed. Not a job: jobs are papermill runs that train or analyse a stored
variant, while this computes untrained models and stores nothing, and a family cannot start
jobs (it imports no layer above the store). Bad input is refused before any model is built,
with the command's own messages.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence
from typing import Any

import panel as pn

from tdw.errors import TdwError
from tdw.family.family import variant_id
from tdw.family.registry import get_family
from tdw.store.store import Store

from .init_sweep import (
    FAMILY,
    InitSweep,
    Trained,
    init_gradient_sweep,
    parse_seeds,
    report,
    sweep_values,
    trained_variant,
)
from .init_sweep_charts import KEY, frequency_figure, key_table, seed_figure

__all__ = ["InitSweepPage", "SweepThread", "NONE"]

NONE = "(none: no comparison)"
"""The picker's choice of no variant."""
POLL_MS = 250
"""How often the page reads a running sweep's progress."""
FORM = ("p", "data_seed", "train_fraction")
"""The parameters the page asks for: the gradient at initialisation depends on no other
(model_seed is each swept seed)."""


class _Cancelled(Exception):
    """Raised from the progress callback to stop a sweep after the current seed."""


class SweepThread:
    """One :func:`init_gradient_sweep` in a daemon thread; read ``done``, ``result`` and
    ``error`` from any thread (each is written once per seed, or once at the end)."""

    def __init__(self, values: dict[str, Any], seeds: Sequence[int], keys: Sequence[int]):
        self.total, self.done = len(seeds), 0
        self.result: InitSweep | None = None
        self.error = ""
        self.started = time.monotonic()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(values, seeds, keys),
                                        name="tdw-init-sweep", daemon=True)
        self._thread.start()

    def _progress(self, done: int, total: int) -> None:
        self.done = done
        if self._cancel.is_set() and done < total:  # a finished sweep is kept
            raise _Cancelled

    def _work(self, values: dict[str, Any], seeds: Sequence[int], keys: Sequence[int]) -> None:
        try:
            self.result = init_gradient_sweep(values, seeds, keys=keys, progress=self._progress)
        except _Cancelled:
            self.error = f"Cancelled after {self.done} of {self.total} seeds."
        except TdwError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001  (a thread's error has nowhere else to go)
            self.error = f"The sweep failed: {type(exc).__name__}: {exc}"

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def seconds_per_seed(self) -> float | None:
        return (time.monotonic() - self.started) / self.done if self.done else None

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class InitSweepPage(pn.viewable.Viewer):
    """The form, the progress of the running sweep, and its charts.

    ``variant`` (an id or unique prefix, e.g. from the page's link) is the variant compared
    first; default: the one ``tdw init-gradients`` compares with when given no parameters
    (that of the family's defaults), if stored, else the most recent with checkpoints.
    """

    def __init__(self, store: Store, variant: str = "", **params: Any):
        super().__init__(**params)
        self.store, self.family = store, get_family(FAMILY)
        self.against = pn.widgets.Select(label="compare with the key frequencies of",
                                         width=440)
        self.keys_line = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self.inputs = {name: self._input(name) for name in FORM}
        self.seeds = pn.widgets.TextInput(
            label="model seeds", value="0-63", width=200, placeholder="e.g. 0-63 or 0-9,20",
            description="Seeds and ranges (both ends included), comma-separated")
        self.run_button = pn.widgets.Button(label="Run sweep", color="primary", width=140)
        self.cancel_button = pn.widgets.Button(label="Cancel", color="danger", width=100,
                                               visible=False)
        self.bar = pn.indicators.Progress(value=0, max=100, width=260, height=18,
                                          margin=(14, 10), visible=False)
        self.status = pn.pane.Markdown("", margin=(5, 10), css_classes=["tdw-init-status"])
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, margin=(5, 10),
                                     css_classes=["tdw-init-message"])
        self.results = pn.Column(sizing_mode="stretch_width")
        self.sweep: SweepThread | None = None
        self._shown: SweepThread | None = None  # the sweep whose outcome is on the page
        self.figures: dict[str, Any] = {}  # figure name -> the Bokeh figure shown
        self._timer: Any = None
        self._compared: tuple[Trained | None, str] = (None, "")
        self.run_button.on_click(self.run)
        self.cancel_button.on_click(lambda event: self.sweep and self.sweep.cancel())
        self.refresh()
        self.against.value = self._first(variant)
        self._pick()
        self.against.param.watch(lambda event: self._pick(), "value")

    def _input(self, name: str):
        p = self.family.param(name)
        common = {"label": name, "description": p.description, "width": 160,
                  "value": self.family.resolve()[name]}
        if p.type == "int":
            return pn.widgets.IntInput(start=int(p.minimum), end=int(p.maximum), **common)
        return pn.widgets.FloatInput(start=p.minimum, end=p.maximum, step=0.05, **common)

    # ------------------------------------------------------------------ the variant
    def refresh(self) -> None:
        """List the family's variants with checkpoints, most recent first (the workbench
        calls this when a job finishes)."""
        counts = self.store.checkpoint_counts()
        records = sorted(self.store.variants(FAMILY), key=lambda r: r.updated, reverse=True)
        current = self.against.value
        self.against.options = [NONE, *(r.id for r in records if counts.get(r.id))]
        if current in self.against.options:
            self.against.value = current

    def _first(self, wanted: str) -> str:
        """The variant compared first: ``wanted``, else the command's default, else the
        most recent; an unknown ``wanted`` is said on the page."""
        options = self.against.options
        if wanted:
            try:
                vid = self.store.variant(wanted).id
                if vid in options:
                    return vid
                self._fail(f"This page's link: {vid} has no checkpoints (or is not a "
                           f"{FAMILY} variant); pick another.")
            except TdwError as exc:
                self._fail(f"This page's link: {exc}.")
        default = variant_id(self.family, self.family.resolve())
        return default if default in options else options[min(1, len(options) - 1)]

    def _pick(self) -> None:
        """Take the picked variant's parameters (the keys are of its p, which is locked) and
        say which key frequencies will be ranked."""
        vid = self.against.value
        self.inputs["p"].disabled = vid != NONE
        if vid == NONE:
            self.keys_line.object = "The sweep's spectra alone: no key frequencies ranked."
            return
        params = self.store.variant(vid).params
        for name, widget in self.inputs.items():
            widget.value = params[name]
        try:
            trained = trained_variant(self.store, vid)
        except TdwError as exc:
            self.keys_line.object = f"⚠ {html.escape(str(exc))}"
            return
        keys = ", ".join(map(str, trained.keys)) or "none (its embedding is not sparse)"
        self.keys_line.object = (f"Key frequencies at epoch {trained.epoch}, its last "
                                 f"checkpoint: <b style='color:{KEY}'>{keys}</b>")

    # ------------------------------------------------------------------ the sweep
    def request(self) -> tuple[dict[str, Any], tuple[int, ...], Trained | None, str]:
        """The sweep the form describes: values, seeds, the compared variant and a note.

        Raises:
            TdwError: the input is not valid; the message says how to fix it.
        """
        raw = {name: w.value for name, w in self.inputs.items()}
        if missing := [name for name, value in raw.items() if value is None]:
            raise TdwError(f"fill in {', '.join(missing)}")
        seeds = parse_seeds(self.seeds.value, int(self.family.param("model_seed").maximum),
                            name="model seeds")
        if self.against.value == NONE:
            return self.family.resolve(raw), seeds, None, ""
        given = {k: v for k, v in raw.items() if k != "p"}  # p is the variant's
        values, trained, note = sweep_values(self.store, given, against=self.against.value)
        return values, seeds, trained, note

    def run(self, event: Any = None) -> None:
        """Check the form and start the sweep in the background (nothing if one runs)."""
        if self.sweep is not None and not self.sweep.finished:
            return
        try:
            values, seeds, trained, note = self.request()
        except TdwError as exc:
            self._fail(str(exc))
            return
        self.message.visible = False
        self._compared = (trained, note)
        self.sweep = SweepThread(values, seeds, trained.keys if trained else ())
        self.run_button.disabled, self.cancel_button.visible = True, True
        self.bar.value, self.bar.visible = 0, True
        self.status.object = f"Booting {len(seeds)} untrained models…"
        if self._timer is not None:
            self._timer.stop()
        self._timer = pn.state.add_periodic_callback(self.poll, period=POLL_MS)
        if pn.state.curdoc is not None:  # the page closed: stop computing for nobody
            pn.state.on_session_destroyed(lambda _context, sweep=self.sweep: sweep.cancel())

    def poll(self) -> None:
        """Show the running sweep's progress; once it is done, its result or error."""
        sweep = self.sweep
        if sweep is None or sweep is self._shown:
            return
        self.bar.value = int(100 * sweep.done / sweep.total)
        if (per_seed := sweep.seconds_per_seed()) is not None:
            left = per_seed * (sweep.total - sweep.done)
            left_text = f"{left / 60:.0f} min" if left >= 120 else f"{left:.0f} s"
            self.status.object = (f"{sweep.done} of {sweep.total} seeds · {per_seed:.2f} s "
                                  f"per seed · about {left_text} left")
        if not sweep.finished:
            return
        self._shown = sweep
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.run_button.disabled, self.cancel_button.visible = False, False
        self.bar.visible = False
        if sweep.result is None:
            self._fail(sweep.error)
            self.status.object = ""
            return
        seconds = time.monotonic() - sweep.started
        self.status.object = f"Done: {sweep.total} seeds in {seconds:.1f} s."
        self.show(sweep.result, *self._compared)

    def wait(self, timeout: float = 600) -> None:
        """Block until the running sweep ends and show its outcome (for scripts and tests;
        the page itself never waits)."""
        if self.sweep is not None:
            self.sweep.wait(timeout)
        self.poll()

    def _fail(self, text: str) -> None:
        self.message.object, self.message.visible = text, True

    # ------------------------------------------------------------------ the result
    def show(self, result: InitSweep, trained: Trained | None = None, note: str = "") -> None:
        """Draw ``result``: a headline, the keys' table, one chart per site and the keys'
        percentile per seed."""
        text = report(result, trained, note)
        figures = [frequency_figure(result, i) for i in range(len(result.sites))]
        if result.keys:
            figures.append(seed_figure(result, trained))
        self.figures = {fig.name: fig for fig in figures}
        parts: list[Any] = [pn.pane.Markdown(f"#### {html.escape(text.splitlines()[0])}",
                                             sizing_mode="stretch_width")]
        if trained is not None and result.keys:
            state = "" if trained.state == "trained" else f" (it is {trained.state})"
            parts += [pn.pane.Markdown(
                f"Key frequencies of **{trained.id}** at epoch {trained.epoch}{state}, in "
                f"<span style='color:{KEY}'>red</span>: {', '.join(map(str, result.keys))}. "
                "Percentile: the share of the other frequencies with a smaller mean share, "
                "averaged over the keys (50%: no preference); p-value: the exact chance "
                "that as many frequencies drawn at random rank at least as high."
                + ("" if trained.model_seed in result.seeds else
                   f" Its own initialisation (model seed {trained.model_seed}) is not among "
                   "the seeds: add it to rank the keys there too."),
                sizing_mode="stretch_width"),
                pn.pane.HTML(key_table(result, trained), css_classes=["tdw-init-keys"])]
        elif trained is not None or note:
            said = note or f"{trained.id} has no key frequencies at epoch {trained.epoch}."
            parts.append(pn.pane.Markdown(said, sizing_mode="stretch_width"))
        parts += [pn.pane.Markdown(
            "Bars: each frequency's mean share of the site's gradient energy over the seeds; "
            "whiskers: ±1 sd; dashed: a flat spectrum (1 / (p // 2)).", margin=(0, 10)),
            pn.FlexBox(*[pn.pane.Bokeh(f) for f in figures], sizing_mode="stretch_width"),
            pn.Card(pn.pane.HTML(f"<pre style='font-size:11px'>{html.escape(text)}</pre>"),
                    title="As tdw init-gradients prints it", collapsed=True,
                    sizing_mode="stretch_width")]
        self.results.objects = parts

    def __panel__(self):
        return pn.Column(
            pn.Row(self.against, self.keys_line, sizing_mode="stretch_width"),
            pn.Row(*self.inputs.values(), self.seeds, sizing_mode="stretch_width"),
            pn.Row(self.run_button, self.cancel_button, self.bar, self.status),
            self.message, self.results, sizing_mode="stretch_width")
