"""The ``>>>`` examples in docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tdw", "tdw.family.schedule", "tdw.family.params", "tdw.family.artifacts",
           "tdw.family.registry", "tdw.family.family", "tdw.families.modulo_addition_1l.fourier",
           "tdw.sweeps.sweep", "tdw.jobs.executors", "tdw.training.adaptive",
           "tdw.library.transition", "tdw.library.views",
           "tdw.library.story", "tdw.family.analyzer", "tdw.library.llc", "tdw.sweeps.outcomes",
           "tdw.ui.links"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
