"""The ``>>>`` examples in docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tdw", "tdw.schedule", "tdw.params", "tdw.artifacts", "tdw.registry", "tdw.family",
           "tdw.fourier", "tdw.sweep", "tdw.executors", "tdw.adaptive", "tdw.library.turn"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
