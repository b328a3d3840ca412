"""The family's own workbench pages (``FAMILY.pages``).

Each page's module is imported when a workbench builds the page, so loading the family (for
the CLI, a job or a notebook) never loads Panel.
"""

from __future__ import annotations

from typing import Any

from tdw.family.pages import Page

__all__ = ["PAGES"]


def _init_gradients(store: Any, variant: str) -> Any:
    from .init_sweep_page import InitSweepPage

    return InitSweepPage(store, variant)


PAGES = (Page(
    "init-gradients", "Init gradients", _init_gradients,
    description="Were a trained variant's key frequencies favoured before training? The "
    "training-loss gradient's energy per token frequency over many untrained models "
    "(tdw init-gradients)."),)
