"""``tdw views``: wrapped to the terminal, and every selector listed with what it indexes
(and, given ``--variant``, its range there). The variant is built directly in the store:
a probe, two checkpoints and hand-made ``neuron_activations`` artifacts, no training."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import neuron_variant

from tdw.cli.main import main
from tdw.family.registry import families
from tdw.store.store import Store

FAMILY = "modulo_addition_1l"


def _views(capsys, monkeypatch, *args: str, columns: int | None = None) -> str:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)  # not a terminal: the default width
    else:
        monkeypatch.setenv("COLUMNS", str(columns))  # what shutil.get_terminal_size reads
    assert main(["views", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("columns, width", [(None, 100), (60, 60), (140, 140)])
def test_every_line_fits_the_terminal(capsys, monkeypatch, columns, width):
    out = _views(capsys, monkeypatch, columns=columns)
    too_long = [line for line in out.splitlines() if len(line) > width]
    assert not too_long, f"{len(too_long)} lines wider than {width}: {too_long[:3]}"


def test_every_selector_is_listed_with_its_axis(capsys, monkeypatch):
    out = " ".join(_views(capsys, monkeypatch, columns=1000).split())  # unwrapped
    listed = 0
    for fam in families().values():
        for view in fam.views:
            assert f"{view.name}: {view.title}" in out
            for name, (analyzer, array, axis) in view.selectors.items():
                assert f"selector {name}: index into the " in out
                assert f"(axis {axis}) of `{array}` of {analyzer}" in out
                listed += 1
    assert listed >= 5  # the built-in families declare several


def test_the_neuron_selector_is_explained_as_a_stored_neuron(capsys, monkeypatch):
    out = " ".join(_views(capsys, monkeypatch, "--family", FAMILY).split())
    assert "selector neuron: index into the neuron axis (axis 0) of `maps`" in out
    assert "is the 4th stored neuron, not MLP neuron 3" in out


@pytest.fixture
def variant(store: Store) -> str:
    """A modulo addition variant with ``neuron_activations`` at both of its checkpoints,
    storing 5 neurons (the real analyzer stores 16) so the range is visibly the artifact's."""
    return neuron_variant(store, lambda epoch: np.zeros((5, 7, 7), np.float16))


def test_a_variant_gives_each_selector_its_range(store, variant, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["--store", str(store.root), "views", "--variant", variant]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"{FAMILY} ")  # only the variant's family
    assert f"Range: 0 to 4 in {variant}" in out  # the neuron selector, from the artifact
    assert f"Range: unknown until analysed (tdw analyze {variant})" in out  # the head one


def test_a_variant_of_another_family_is_refused(store, variant, capsys):
    assert main(["--store", str(store.root), "views", "--family", "toy_operations",
                 "--variant", variant]) == 2
    err = capsys.readouterr().err
    assert f"variant {variant} is of family {FAMILY}, not toy_operations" in err
