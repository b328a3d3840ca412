"""Animated GIFs from PNG screenshots: one shared palette, so repeated frames merge.

Pillow merges consecutive *identical* frames into one longer frame, so a GIF may hold fewer
frames than it was given; :func:`assemble_gif` says how many it must hold and
:func:`validate_gif` checks the encoder wrote that many.
"""

from __future__ import annotations

import io
import math
from typing import Any

from tdw.errors import ExportError

__all__ = ["assemble_gif", "validate_gif"]

_PALETTE_PIXELS = 4_000_000  # pixels sampled to choose a GIF's shared palette


def assemble_gif(shots: list[bytes], fps: float) -> tuple[bytes, int]:
    """Encode PNG screenshots as a looping GIF; also return how many frames it must hold.

    Frames are flattened on white, padded to a common size and quantised with one shared
    palette (exact when the frames use at most 255 colours, else median cut, no dithering),
    so identical pictures get identical indices and the encoder can merge them.
    """
    from PIL import Image

    frames = []
    for shot in shots:
        with Image.open(io.BytesIO(shot)) as img:
            frames.append(_on_white(img.convert("RGBA"), None))
    size = (max(f.width for f in frames), max(f.height for f in frames))
    frames = [_on_white(f, size) if f.size != size else f for f in frames]
    palette = _shared_palette(frames)
    indexed = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    distinct = 1 + sum(a.tobytes() != b.tobytes() for a, b in zip(indexed, indexed[1:],
                                                                  strict=False))
    buf = io.BytesIO()
    indexed[0].save(buf, format="GIF", save_all=True, append_images=indexed[1:],
                    duration=1000 / fps, loop=0, optimize=True)
    return buf.getvalue(), distinct


def _on_white(img: Any, size: tuple[int, int] | None) -> Any:
    """``img`` composited on an opaque white canvas of ``size`` (default: its own), RGB."""
    from PIL import Image

    canvas = Image.new("RGB", size or img.size, "white")
    canvas.paste(img, (0, 0), img if img.mode == "RGBA" else None)
    return canvas


def _shared_palette(frames: list[Any]) -> Any:
    """A P-mode image whose palette (<= 255 colours, one left for transparency) fits all
    frames: the exact colours when few enough, otherwise median cut of a sample."""
    from PIL import Image

    width, height = frames[0].size
    factor = max(1, math.ceil(math.sqrt(width * height * len(frames) / _PALETTE_PIXELS)))
    small = [f.resize((max(1, width // factor), max(1, height // factor)),
                      Image.Resampling.NEAREST) for f in frames]
    montage = Image.new("RGB", (small[0].width, small[0].height * len(small)), "white")
    for i, f in enumerate(small):
        montage.paste(f, (0, i * small[0].height))
    colors = montage.getcolors(255)
    if colors is not None:  # few colours: keep them exactly
        palette = Image.new("P", (1, 1))
        flat = [channel for _, rgb in colors for channel in rgb]
        palette.putpalette(flat + flat[:3] * (256 - len(colors)))
        return palette
    return montage.quantize(colors=255, method=Image.Quantize.MEDIANCUT,
                            dither=Image.Dither.NONE)


def validate_gif(data: bytes, expected: int) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        frames = getattr(img, "n_frames", 1)
        if img.format != "GIF" or frames != expected:
            raise ExportError(f"the GIF encoder wrote {frames} frame(s), expected {expected}; "
                              "nothing was written")
