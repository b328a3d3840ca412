"""The CLI's answers to bad input: one clear line, exit status 2, and an untouched store."""

from __future__ import annotations

import pytest
from helpers import snapshot

from tdw.cli.main import main
from tdw.store.store import Store


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "store"
    Store(path)
    return path


TRAIN = ["train", "modulo_addition_1l"]


@pytest.mark.parametrize("args, message", [
    ([*TRAIN, "--set", "p=8"], "must be prime"),
    ([*TRAIN, "--set", "p=1"], "below the minimum"),
    ([*TRAIN, "--set", "p=abc"], "not a valid int"),
    ([*TRAIN, "--set", "train_fraction=1.5"], "above the maximum"),
    ([*TRAIN, "--set", "modulus=113"], "choose one of: data_seed, lr, model_seed"),
    ([*TRAIN, "--set", "p"], "NAME=VALUE"),
    ([*TRAIN, "--set", "p=7", "--set", "p=11"], "given twice"),
    # the known families follow, in order (more register as the workbench grows)
    (["train", "modular_addition"], "unknown family 'modular_addition'; choose one of: "),
    ([*TRAIN, "--preset", "fast"], "choose one of: quick"),
    ([*TRAIN, "--set", "n_epochs=100", "--schedule", "0-200/50"], "past the end"),
    ([*TRAIN, "--set", "n_epochs=100", "--schedule", "0,50,20"], "must increase"),
    ([*TRAIN, "--set", "n_epochs=100", "--schedule", "-10"], "negative"),
    ([*TRAIN, "--set", "n_epochs=100", "--schedule", "every 10"], "cannot parse"),
    ([*TRAIN, "--set", "p=7", "--resume"], "no interrupted run to resume"),
    (["jobs", "show", "42"], "no job 42"),
    (["jobs", "cancel", "42"], "no job 42"),
    (["variants", "p113-ms1"], "unknown variant"),
])
def test_bad_input_gets_one_clear_line_and_changes_nothing(root, capsys, args, message):
    before = snapshot(root)
    assert main(["--store", str(root), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tdw: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert snapshot(root) == before


def test_unwritable_store_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["--store", str(tmp_path / "file" / "store"), "families"]) in (0, 2)
    assert main(["--store", str(tmp_path / "file" / "store"), "variants"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_families_lists_parameters_presets_and_schedule(capsys):
    assert main(["families"]) == 0
    out = capsys.readouterr().out
    for text in ("modulo_addition_1l", "Modulo Addition 1-Layer", "model_seed", "data_seed",
                 "preset quick", "default schedule: 0-1500/100"):
        assert text in out


def test_dry_run_prints_the_plan_and_trains_nothing(root, capsys):
    before = snapshot(root)
    assert main(["--store", str(root), *TRAIN, "--set", "p=7", "--set", "n_epochs=50",
                 "--schedule", "0-50/25", "--dry-run"]) == 0
    assert "0, 25, 50" in capsys.readouterr().out
    assert snapshot(root) == before


def test_empty_listings_say_what_to_do(root, capsys):
    assert main(["--store", str(root), "variants"]) == 0
    assert main(["--store", str(root), "jobs"]) == 0
    out = capsys.readouterr().out
    assert "tdw train" in out


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """`tdw families | head -1`: the pipe closes before tdw has written; it stops quietly."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tdw.cli", "families"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first write
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
