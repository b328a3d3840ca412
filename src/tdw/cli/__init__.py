"""The ``tdw`` command: one module per command group, :mod:`tdw.cli.main` assembles them."""

from tdw.cli.main import build_parser, main

__all__ = ["main", "build_parser"]
