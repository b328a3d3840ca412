"""Load Panel once per process, offline-safe, in whichever front end is running.

Resources are inline (no CDN), so pages work with no internet. Inside Voila and Jupyter,
widget changes reach Python through ipywidgets comms (``jupyter_bokeh``); under
``panel serve`` or a plain script, Panel's own transport is used.
"""

from __future__ import annotations

import os

__all__ = ["ensure_extension", "in_jupyter_kernel"]

_READY = [False]


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Voila, papermill)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def ensure_extension() -> None:
    """Call ``pn.extension`` once with tdw's settings (idempotent)."""
    if _READY[0]:
        return
    import panel as pn

    os.environ.setdefault("BOKEH_RESOURCES", "inline")
    pn.config.inline = True
    kwargs = {"comms": "ipywidgets"} if in_jupyter_kernel() else {}
    pn.extension(inline=True, **kwargs)
    _READY[0] = True
