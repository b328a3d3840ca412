"""The offline Voila template: nothing a dashboard page loads comes from the internet.

Voila and Panel both reach for CDNs by default (Font Awesome in Voila's templates, Panel's
stylesheets). tdw builds a small Jupyter data folder once per Panel version: a Voila template
``tdw_offline`` whose static folder holds Font Awesome and a mirror of Panel's non-JS assets.
:mod:`tdw.serve.server` points ``PANEL_CDN_ROOT`` at that mirror and asks for inline BokehJS,
so a page loads with nothing but the server's own host.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["TEMPLATE", "voila_share"]

TEMPLATE = "tdw_offline"
_TEMPLATE_SRC = Path(__file__).parent / "voila_template"
# JS comes inline with BokehJS/Panel; only stylesheets, fonts and images are fetched.
_SKIP_SUFFIXES = frozenset({".js", ".mjs", ".map", ".ts", ".json"})
_FONT_AWESOME = ("all.min.css", "v4-shims.min.css", "LICENSE.txt")


def _link_or_copy(src: Path, dst: Path) -> None:
    # Hard links or copies, never symlinks: tornado refuses to serve a file whose real path
    # lies outside the static folder (403).
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _mirror(src_root: Path, dst_root: Path, keep: Callable[[Path], bool]) -> None:
    for src in src_root.rglob("*"):
        if src.is_file() and keep(src):
            _link_or_copy(src, dst_root / src.relative_to(src_root))


def _share_key() -> str:
    import panel

    digest = hashlib.sha256()
    for path in sorted(_TEMPLATE_SRC.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return f"panel-{panel.__version__}-{digest.hexdigest()[:12]}"


def voila_share(cache: Path | None = None) -> Path:
    """The Jupyter data folder holding the ``tdw_offline`` Voila template (built once).

    The folder is keyed by the Panel version and the template's own files, and is built in a
    temporary folder then renamed, so a crash never leaves a half-built template behind.
    """
    import panel
    from panel.io.resources import JS_VERSION

    root = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tdw"
    share = root / "voila" / _share_key()
    if (share / "voila" / "templates" / TEMPLATE / "conf.json").exists():
        return share
    share.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=share.parent))
    try:
        template = building / "voila" / "templates" / TEMPLATE
        template.mkdir(parents=True)
        for src in _TEMPLATE_SRC.iterdir():
            shutil.copy2(src, template / src.name)
        dist = Path(panel.__file__).parent / "dist"
        _mirror(dist / "bundled" / "font-awesome", template / "static" / "fontawesome",
                lambda p: p.parent.name == "webfonts" or p.name in _FONT_AWESOME)
        _mirror(dist, template / "static" / "panel-cdn" / JS_VERSION / "dist",
                lambda p: p.suffix not in _SKIP_SUFFIXES)
        try:
            building.rename(share)
        except OSError:  # another process built it first
            if not (share / "voila").is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return share
