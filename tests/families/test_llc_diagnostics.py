"""The LLC diagnostics on a real analysed variant of modulo_addition_1l: the SGLD trace view
and the drift view (tdw.library.llc_views), ``tdw llc-calibrate`` (tdw.cli.llc), and the
plan's reason when the family's SGLD settings change."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from bokeh.models import ColumnDataSource

from tdw.analysis.engine import AnalysisRunConfig, make_plan
from tdw.analysis.run import AnalysisRun
from tdw.cli.main import main
from tdw.explore.variant import Variant
from tdw.family.analyzer import Analyzer
from tdw.family.registry import families, get_family
from tdw.library.llc import SGLDConfig, make_llc
from tdw.store.store import Store
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow  # a variant is trained and its LLC sampled (seconds)

FAMILY = get_family("modulo_addition_1l")


def _with_llc(config: SGLDConfig):
    """modulo_addition_1l with its llc analyzer made with ``config``."""
    analyzers = tuple(make_llc(FAMILY.readout, FAMILY.dataset, config) if a.name == "llc"
                      else a for a in FAMILY.analyzers)
    return replace(FAMILY, analyzers=analyzers)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("llc") / "store"
    vid = TrainingRun.prepare(family=FAMILY.name, params={"p": 7, "n_epochs": 4},
                              schedule="0-4/2", store=root, device="cpu").execute().variant
    AnalysisRun.prepare(variant=vid, analyzers="llc", workers=1, store=root).execute()
    return root, vid


def test_the_trace_view_draws_every_chain_with_its_references(analysed):
    from tdw.library.llc_views import LLC_TRACE

    root, vid = analysed
    variant = Variant(vid, root)
    config = _llc().options
    for epoch in variant.epochs:
        art = Store(root).load_artifact(vid, _llc().schema, epoch)
        shown = variant.at(epoch).view("llc_trace")
        drawn = [s.data for s in shown.figure.select({"type": ColumnDataSource})]
        data = LLC_TRACE.epoch_data(shown.context)
        assert any("ys" in d and np.array_equal(d["ys"], data["chains"]["ys"]) for d in drawn)
        assert len(data["chains"]["ys"]) == config.chains
        np.testing.assert_allclose(data["chains"]["ys"], art["loss_trace"], rtol=1e-6)
        assert data["init"]["y"] == [pytest.approx(art.attrs["init_loss"])]
        assert data["burnin"]["x1"] == [config.burnin - 0.5]
        expected = art["loss_trace"][:, config.burnin:].astype(np.float64).mean(axis=1)
        np.testing.assert_allclose(data["means"]["y"], expected, rtol=1e-6)
        (text,) = data["headline"]["text"]
        assert text.startswith(f"LLC {art.attrs['llc_mean']:.3g} ± ")
        assert f"{art.attrs['diverged_chains']} of {config.chains} chains diverged" in text


def test_the_drift_view_has_every_checkpoint_and_flags_the_untrustworthy(analysed):
    from tdw.library.llc import verdict

    root, vid = analysed
    variant = Variant(vid, root)
    figure = variant.at(variant.epochs[-1]).view("llc_drift").figure
    columns = [s.data for s in figure.select({"type": ColumnDataSource})]
    drift = next(c for c in columns if "low" in c)
    flagged = next(c for c in columns if "verdict" in c)
    assert list(drift["epoch"]) == [0, 2, 4]
    store = Store(root)
    schema = next(a for a in FAMILY.analyzers if a.name == "llc").schema
    verdicts = {e: verdict(a.attrs["llc_mean"], a.attrs["llc_std"], a.attrs["drift"],
                           a.attrs["diverged_chains"])
                for e in (0, 2, 4) for a in [store.load_artifact(vid, schema, e)]}
    assert list(flagged["epoch"]) == [e for e, v in verdicts.items() if v != "ok"]


def test_changed_sgld_settings_make_exactly_the_llc_artifacts_stale(analysed, monkeypatch):
    root, vid = analysed
    store = Store(root)
    monkeypatch.setattr("tdw.family.registry._REGISTRY",
                        {**families(), FAMILY.name: _with_llc(replace(_llc().options,
                                                                      lr=1e-5))})
    plan = make_plan(store, AnalysisRunConfig(vid, analyzers=("llc",), workers=1))
    assert {(i.analyzer, i.epoch) for i in plan.items} == {("llc", 0), ("llc", 2), ("llc", 4)}
    assert {i.reason for i in plan.items} == {"stale: options changed (lr 3e-05 -> 1e-05)"}


def _llc() -> Analyzer:
    return next(a for a in FAMILY.analyzers if a.name == "llc")


def test_llc_calibrate_prints_json_with_the_grid_and_a_diverging_huge_step(analysed, capsys):
    root, vid = analysed
    code = main(["--store", str(root), "llc-calibrate", vid, "--epoch", "4",
                 "--lr", "3e-5,10", "--localization", "100,1000", "--chains", "1",
                 "--draws", "8", "--burnin", "4", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["epoch"] == 4 and out["base"]["draws"] == 8 and out["base"]["chains"] == 1
    cells = out["cells"]
    assert [(c["localization"], c["lr"]) for c in cells] == [
        (100.0, 3e-5), (100.0, 10.0), (1000.0, 3e-5), (1000.0, 10.0)]
    assert {c["verdict"] for c in cells if c["lr"] == 10.0} == {"diverged"}
    assert all(c["llc_mean"] is None for c in cells if c["verdict"] == "diverged")
    best = out["recommended"]
    assert best is None or (best["verdict"] == "ok" and best["lr"] == 3e-5)


def test_llc_calibrate_prints_a_table_and_advice_and_writes_the_plot(analysed, capsys,
                                                                    tmp_path):
    root, vid = analysed
    plot = tmp_path / "cal.html"
    assert main(["--store", str(root), "llc-calibrate", vid, "--lr", "1e-5,10",
                 "--localization", "1000", "--chains", "1", "--draws", "6", "--burnin", "2",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["lr", "localization", "llc_mean", "llc_std",
                                           "drift", "diverged", "verdict"]
    assert "diverged" in out and ("recommended: lr" in out or "no setting is ok" in out)
    html = plot.read_text()
    assert "lr 10, " in html and " 1000: diverged" in html  # the panel of the diverged cell


def test_llc_calibrate_refuses_bad_input(analysed, capsys):
    root, vid = analysed
    assert main(["--store", str(root), "llc-calibrate", vid, "--lr", "fast"]) == 2
    assert "--lr takes numbers separated by commas" in capsys.readouterr().err
    assert main(["--store", str(root), "llc-calibrate", vid, "--epoch", "3"]) == 2
    assert "3" in capsys.readouterr().err
    assert main(["--store", str(root), "llc-calibrate", vid, "--lr", "-1"]) == 2
    assert "positive lr" in capsys.readouterr().err
