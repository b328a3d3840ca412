"""The bad-input battery: every mistake a user can make is refused with a message that names
the problem and the fix, and the store is exactly as it was (``helpers.snapshot``).

Cases here add to ``test_cli.py``'s (typo'd family, preset and parameter names, unparsable
assignments, unsorted or negative schedules, unknown job ids), which are not repeated.
Python API cases run against a tiny trained variant; CLI cases run ``tdw.cli.main.main`` in
process (one line on stderr, exit status 2) and, for the inputs that used to end in a
traceback, ``python -m tdw.cli`` in a subprocess as a user's shell would.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import snapshot

from tdw.analysis.engine import AnalysisRunConfig
from tdw.analysis.run import AnalysisRun
from tdw.cli.main import main
from tdw.errors import (
    IntegrityError,
    ParameterError,
    ProbeMismatchError,
    ScheduleError,
    StoreError,
    TdwError,
    UnknownNameError,
)
from tdw.explore.variant import Variant
from tdw.family.model import boot_model, load_weights
from tdw.family.registry import get_family
from tdw.jobs import launch
from tdw.store.catalog import SCHEMA_VERSION
from tdw.store.store import Store, probe_sha256
from tdw.training.run import TrainingRun

FAMILY = "modulo_addition_1l"
PARAMS = {"p": 7, "n_epochs": 4, "train_fraction": 0.5}


@dataclass(frozen=True)
class Trained:
    """A store holding one variant trained 4 epochs (checkpoints 0, 2, 4) whose
    ``neuron_activations`` are analysed, and one variant that was never trained."""

    root: Path
    variant: str
    untrained: str

    def store(self) -> Store:
        return Store(self.root)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    root = tmp_path_factory.mktemp("bad-input") / "store"
    result = TrainingRun.prepare(family=FAMILY, params=PARAMS, schedule="0-4/2", store=root,
                                 device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant, analyzers="neuron_activations", workers=1,
                        store=root).execute()
    fam = get_family(FAMILY)
    untrained = Store(root).ensure_variant(fam, fam.resolve({**PARAMS, "model_seed": 5}),
                                           "0-4/2", 4).id
    return Trained(root, result.variant, untrained)


# ------------------------------------------------------------------- Python API
def _train(params=None, schedule="", device="cpu", family=FAMILY):
    def call(t: Trained):
        # model seed 1: a variant the store does not hold, so only the bad input can fail
        return launch.validate_training(t.store(), family,
                                        {**PARAMS, "model_seed": 1, **(params or {})},
                                        schedule=schedule, device=device)
    return call


def _analyse(**kwargs):
    def call(t: Trained):
        return AnalysisRun.prepare(store=t.store(), **{"variant": t.variant, **kwargs})
    return call


def _view(name, epoch=2, **selection):
    return lambda t: Variant(t.variant, t.store()).at(epoch).view(name, **selection)


def _foreign_probe(t: Trained):
    other = get_family(FAMILY).probe(get_family(FAMILY).resolve({**PARAMS, "p": 11}))
    return t.store().require_probe(t.variant, probe_sha256(other))


def _checkpoint_into(config_change: dict) -> Callable[[Trained], None]:
    def call(t: Trained):
        fam = get_family(FAMILY)
        config = fam.model_config(fam.resolve({**PARAMS, **config_change.get("params", {})}))
        for key, value in config_change.get("config", {}).items():
            setattr(config, key, value)
        load_weights(boot_model(config), t.store().load_checkpoint(t.variant, 2),
                     source="checkpoint 2")
    return call


API_CASES = {
    # malformed and out-of-range parameters
    "float overflow": (_train({"lr": "1e400"}), ParameterError, "not a valid float", "--set lr="),
    "huge int for a float": (_train({"weight_decay": 10**400}), ParameterError,
                             "not a valid float", "--set weight_decay="),
    "percent sign": (_train({"train_fraction": "30%"}), ParameterError, "not a valid float",
                     "e.g. --set train_fraction=0.3"),
    "seed past 32 bits": (_train({"model_seed": 2**40}), ParameterError, "above the maximum",
                          "maximum 4294967295"),
    "negative seed": (_train({"data_seed": -1}), ParameterError, "below the minimum", "0"),
    "prime above the range": (_train({"p": 1031}), ParameterError, "above the maximum", "1021"),
    "non-prime modulus": (_train({"p": 91}), ParameterError, "must be prime", "e.g. 53"),
    "zero epochs": (_train({"n_epochs": 0}), ParameterError, "below the minimum", "1"),
    "parameter names are case-sensitive": (_train({"P": 7}), UnknownNameError,
                                           "unknown parameter of family", "choose one of"),
    "family names are case-sensitive": (_train(family="Modulo_Addition_1l"), UnknownNameError,
                                        "unknown family", "modulo_addition_1l"),
    # devices
    "unknown device": (_train(device="tpu"), ParameterError, "not a torch device",
                       "--device auto"),
    # schedules
    "range stop past the end": (_train(schedule="0-99999999999999/1"), ScheduleError,
                                "past the end", "shorten the schedule or train longer"),
    "log range past the end": (_train(schedule="log:1-200/5"), ScheduleError, "past the end",
                               "train longer"),
    "negative step": (_train(schedule="0-4/-1"), ScheduleError, "cannot parse", "write e.g."),
    "log count of one": (_train(schedule="log:1-4/1"), ScheduleError, "count >= 2",
                         "write e.g."),
    "blank schedule": (_train(schedule="   "), ScheduleError, "empty", "write e.g."),
    "adaptive budget beyond the window": (_train(schedule="adaptive:0-4/9"), ScheduleError,
                                          "adaptive budget 9 exceeds", "lower it to at most 4"),
    "adaptive signal misspelt": (_train(schedule="adaptive:val_loss:0-4/2"), ScheduleError,
                                 "unknown signal 'val_loss'", "test_loss, train_loss"),
    "two adaptive segments": (_train(schedule="adaptive:0-2/1,adaptive:3-4/1"), ScheduleError,
                              "two adaptive segments", "merge them"),
    "adaptive budget of zero": (_train(schedule="0-4/2,adaptive:0-4/0"), ScheduleError,
                                "budget >= 1", "adaptive:0-25000/80"),
    "adaptive window past the end": (_train(schedule="adaptive:0-40/2"), ScheduleError,
                                     "past the end", "train longer"),
    # analysis requests
    "unknown analyzer": (_analyse(analyzers="neuron_activation"), UnknownNameError,
                         "unknown analyzer", "neuron_activations"),
    "checkpoint never saved": (_analyse(checkpoints="3"), UnknownNameError,
                               "unknown checkpoint epoch", "0, 2, 4"),
    "checkpoints past the end": (_analyse(checkpoints="0-99999999999/1"), ScheduleError,
                                 "past the end", "shorten"),
    "adaptive checkpoints to analyse": (_analyse(checkpoints="0,adaptive:0-4/2"), TdwError,
                                        "picks stored checkpoints", "drop it"),
    "negative workers": (lambda t: AnalysisRunConfig(t.variant, workers=-1), ParameterError,
                         "workers must be", ">= 0"),
    "variant never trained": (lambda t: AnalysisRun.prepare(variant=t.untrained,
                                                            store=t.store()),
                              TdwError, "no checkpoints yet", "train it first"),
    "empty variant reference": (lambda t: Variant("", t.store()), UnknownNameError,
                                "unknown variant ''", "choose one of"),
    # views and selections
    "unknown view": (_view("neuron_activation"), UnknownNameError, "unknown view",
                     "neuron_activations"),
    "epoch without a checkpoint": (_view("neuron_activations", epoch=3), UnknownNameError,
                                   "unknown checkpoint epoch", "0, 2, 4"),
    "per-checkpoint view drawn as a summary": (
        lambda t: Variant(t.variant, t.store()).view("neuron_activations"), TdwError,
        "drawn per checkpoint", "variant.at(epoch)"),
    "selector out of range": (_view("neuron_activations", neuron=10**6), ParameterError,
                              "out of range", "from 0 to"),
    "negative selector": (_view("neuron_activations", neuron=-1), ParameterError,
                          "out of range", "from 0 to"),
    "selector as text": (_view("neuron_activations", neuron="3"), ParameterError,
                         "out of range", "whole number"),
    "misspelt selector": (_view("neuron_activations", nueron=3), UnknownNameError,
                          "unknown selector", "neuron"),
    "selector on a view without any": (_view("loss_curves", neuron=3), TdwError,
                                       "has no selectors", "drop neuron=3"),
    "unanalysed view": (_view("dominant_frequencies"), StoreError, "no dominant_frequencies",
                        "run tdw analyze"),
    # export formats
    "unknown export format": (lambda t: _view("loss_curves")(t).export(t.root.parent / "x.jpg"),
                              TdwError, "cannot export x.jpg", ".html, .png or .svg"),
    "gif at zero fps": (lambda t: Variant(t.variant, t.store()).animate(
        "loss_curves", t.root.parent / "x.gif", fps=0), TdwError, "fps must be positive", ""),
    # probes and checkpoints that do not belong
    "probe of another variant": (_foreign_probe, ProbeMismatchError, "probe mismatch",
                                 "own stored probe"),
    "checkpoint of another p": (_checkpoint_into({"params": {"p": 11}}), IntegrityError,
                                "does not fit this model's architecture",
                                "another model configuration"),
    "checkpoint of another architecture": (_checkpoint_into({"config": {"n_layers": 2}}),
                                           IntegrityError, "missing: blocks.1.",
                                           "saved by another family"),
}


@pytest.mark.parametrize("case", list(API_CASES), ids=list(API_CASES))
def test_api_refuses_with_the_problem_and_the_fix(trained, case):
    call, error, problem, fix = API_CASES[case]
    before = snapshot(trained.root)
    with pytest.raises(error) as info:
        call(trained)
    message = str(info.value)
    assert problem in message and fix in message, message
    assert snapshot(trained.root) == before


def test_every_family_refuses_a_seed_its_generators_cannot_take():
    """A 20-digit seed used to pass validation and fail inside the job (torch.manual_seed
    overflows past 64 bits); every family bounds its seeds to 32 bits."""
    from tdw.family.registry import families

    seeds = [(fam, p) for fam in families().values() for p in fam.params if "seed" in p.name]
    assert seeds
    for fam, p in seeds:
        with pytest.raises(ParameterError, match=f"'{p.name}' = {2**64} is above the maximum"):
            fam.resolve({p.name: 2**64})
        assert fam.resolve({p.name: 2**32 - 1})[p.name] == 2**32 - 1


# -------------------------------------------------------------------- stores
def _newer_store(root: Path) -> Path:
    """A store whose catalog says a newer tdw wrote it, and lacks a table this tdw has."""
    Store(root).catalog.close()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
               (str(SCHEMA_VERSION + 1),))
    db.execute("DROP TABLE jobs")
    db.commit()
    db.close()
    return root


def _not_a_catalog(root: Path) -> Path:
    root.mkdir()
    (root / "catalog.sqlite").write_bytes(b"these are not the bytes of an SQLite file\n" * 50)
    return root


def _a_file(root: Path) -> Path:
    root.write_text("a file where the store should be")
    return root


def _files(root: Path) -> dict[str, bytes]:
    """Every file's bytes (for stores ``helpers.snapshot`` cannot read as SQLite)."""
    if root.is_file():
        return {".": root.read_bytes()}
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("make, problem, fix", [
    (_newer_store, "written by a newer tdw", "upgrade tdw"),
    (_not_a_catalog, "is not a tdw catalog", "point --store"),
    (_a_file, "is a file, not a folder", "--store DIR"),
], ids=["newer schema", "not a catalog", "a file"])
def test_a_store_that_cannot_be_opened_is_left_untouched(tmp_path, make, problem, fix):
    root = make(tmp_path / "store")
    before = _files(root)
    with pytest.raises(StoreError) as info:
        Store(root)
    assert problem in str(info.value) and fix in str(info.value)
    assert _files(root) == before


def test_an_empty_store_path_is_refused():
    with pytest.raises(StoreError, match="store path is empty; pass --store DIR"):
        Store("  ")


# ------------------------------------------------------------- CLI in process
CLI_CASES = {
    "views of an unknown family": (["views", "--family", "modulo"], "unknown family 'modulo'"),
    "variants of an unknown family": (["variants", "--family", "modulo"],
                                      "unknown family 'modulo'"),
    "selector that is not a number": (["export", "{v}", "{out}.html", "--view",
                                       "neuron_activations", "--select", "neuron=abc"],
                                      "a selector value is an index"),
    "selector out of range": (["export", "{v}", "{out}.html", "--view", "neuron_activations",
                               "--select", "neuron=99999"], "out of range"),
    "misspelt selector": (["export", "{v}", "{out}.html", "--view", "neuron_activations",
                           "--select", "nueron=1"], "unknown selector"),
    "unknown export view": (["export", "{v}", "{out}.png", "--view", "loss"],
                            "unknown view of modulo_addition_1l 'loss'"),
    "image without a view": (["export", "{v}", "{out}.png"], "without --view"),
    "unknown export suffix": (["export", "{v}", "{out}.pdf", "--view", "loss_curves"],
                              "a view exports to .html, .png or .svg"),
    "export epoch without a checkpoint": (["export", "{v}", "{out}.html", "--view",
                                           "neuron_activations", "--epoch", "3"],
                                          "unknown checkpoint epoch"),
    "gif at negative fps": (["export", "{v}", "{out}.gif", "--view", "loss_curves", "--fps",
                             "-2"], "fps must be positive"),
    "adaptive checkpoints to analyse": (["analyze", "{v}", "--checkpoints", "0,adaptive:0-4/2"],
                                        "picks stored checkpoints"),
    "adaptive budget beyond the window": (["train", FAMILY, "--set", "n_epochs=10",
                                           "--schedule", "adaptive:0-10/99"],
                                          "lower it to at most 10"),
    "negative workers": (["analyze", "{v}", "--workers", "-1", "--dry-run"],
                         "workers must be a whole number >= 0"),
    "unknown analyzer": (["analyze", "{v}", "--analyzers", "bogus"], "unknown analyzer"),
    "analysis epochs past the end": (["analyze", "{v}", "--checkpoints", "0-99999999999/1"],
                                     "past the end"),
    "unavailable device": (["train", FAMILY, "--set", "p=7", "--device", "tpu"],
                           "not a torch device"),
    "seed past 32 bits": (["train", FAMILY, "--set", "model_seed=99999999999999999999"],
                          "above the maximum"),
    "learning rate overflow": (["train", FAMILY, "--set", "lr=1e400"], "not a valid float"),
    "blank schedule": (["train", FAMILY, "--set", "n_epochs=10", "--schedule", "  "],
                       "schedule is empty"),
}


@pytest.mark.parametrize("case", list(CLI_CASES), ids=list(CLI_CASES))
def test_cli_answers_one_line_and_changes_nothing(trained, tmp_path, capsys, case):
    args, message = CLI_CASES[case]
    args = [a.format(v=trained.variant, out=tmp_path / "out") for a in args]
    before = snapshot(trained.root)
    assert main(["--store", str(trained.root), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tdw: ") and message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert snapshot(trained.root) == before
    assert not list(tmp_path.glob("out*")), "a refused export wrote a file"


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path / "a-file" / "view.html"


def _a_folder(tmp_path: Path) -> Path:
    (tmp_path / "view.html").mkdir()
    return tmp_path / "view.html"


@pytest.mark.parametrize("make, problem", [
    (_a_folder, "Is a directory"), (_under_a_file, "File exists"),
], ids=["onto a folder", "under a file"])
def test_cli_export_to_a_path_it_cannot_write(trained, tmp_path, capsys, make, problem):
    out = make(tmp_path)
    files = sorted(tmp_path.rglob("*"))
    before = snapshot(trained.root)
    assert main(["--store", str(trained.root), "export", trained.variant, str(out), "--view",
                 "loss_curves"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {out}: {problem}; nothing was changed" in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == files and snapshot(trained.root) == before


@pytest.mark.parametrize("make, message", [
    (_newer_store, "written by a newer tdw"),
    (_not_a_catalog, "is not a tdw catalog"),
], ids=["newer schema", "not a catalog"])
def test_cli_refuses_a_store_it_cannot_open(tmp_path, capsys, make, message):
    root = make(tmp_path / "store")
    before = _files(root)
    assert main(["--store", str(root), "variants"]) == 2
    assert message in capsys.readouterr().err
    assert _files(root) == before


def test_cli_refuses_an_empty_store_path(capsys):
    assert main(["--store", "", "variants"]) == 2
    assert "store path is empty" in capsys.readouterr().err


# ------------------------------------------------------------ CLI in a shell
SHELL_CASES = {
    # each of these ended in a traceback (MemoryError, ValueError) before it was fixed
    "schedule stop with a typo": (["train", FAMILY, "--set", "n_epochs=100", "--schedule",
                                   "0-10000000000000/1", "--dry-run"], "past the end"),
    "selector that is not a number": (["export", "{v}", "{out}.html", "--view",
                                       "neuron_activations", "--select", "neuron=one"],
                                      "a selector value is an index"),
}


def _shell(root: Path, args: list[str], env: dict[str, str], cwd: Path
           ) -> subprocess.CompletedProcess:
    """``python -m tdw.cli --store ROOT ARGS`` as a user's shell runs it; it must exit 2
    with one line on stderr and no traceback."""
    proc = subprocess.run([sys.executable, "-m", "tdw.cli", "--store", str(root), *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc


@pytest.mark.parametrize("case", list(SHELL_CASES), ids=list(SHELL_CASES))
def test_cli_in_a_shell_prints_no_traceback(trained, tmp_path, cli_env, case):
    args, message = SHELL_CASES[case]
    args = [a.format(v=trained.variant, out=tmp_path / "out") for a in args]
    before = snapshot(trained.root)
    proc = _shell(trained.root, args, cli_env, tmp_path / "cli-store-cwd")
    assert message in proc.stderr
    assert snapshot(trained.root) == before


def test_a_newer_store_is_refused_in_a_shell_too(tmp_path, cli_env):
    root = _newer_store(tmp_path / "store")
    before = _files(root)
    proc = _shell(root, ["variants"], cli_env, tmp_path / "cli-store-cwd")
    assert proc.stderr.strip() == (f"tdw: the store at {root} was written by a newer tdw "
                                   f"(catalog schema {SCHEMA_VERSION + 1}, this tdw knows "
                                   f"{SCHEMA_VERSION}); upgrade tdw to open it")
    assert _files(root) == before
