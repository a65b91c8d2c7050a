"""Difference maps as pictures: a colour-mapped heat map with a colour bar, optionally over the image.

:func:`render` turns an (H, W) map into an RGB picture: the map (enlarged by a whole factor when small,
so that each value stays a crisp block) coloured from black (0) through purple and orange to pale
yellow (``vmax`` and above), a colour bar with its scale on the right, and an optional caption below.
With ``background`` the colours are laid over a grey copy of that image, more opaque where the map is
higher, so that the differences can be located on the picture. :func:`save` writes it as a PNG.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .errors import InputError
from .io import atomic_write

# A dark-to-light colour scale through purple and orange (perceptually ordered: lightness rises
# monotonically), as anchors at equal steps of the value, linearly interpolated.
_ANCHORS = np.array([
    (0, 0, 4), (28, 16, 68), (79, 18, 123), (129, 37, 129), (181, 54, 122),
    (229, 80, 100), (251, 135, 97), (254, 194, 135), (252, 253, 191),
], dtype=np.float64)
_TABLE = np.stack(
    [np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_ANCHORS)), _ANCHORS[:, c]) for c in range(3)], axis=1
).round().astype(np.uint8)

MIN_HEIGHT = 256  # maps are enlarged to at least this many rows, so that the colour bar's labels fit
_BAR_WIDTH, _GAP = 14, 6
_BACKGROUND, _TEXT = (255, 255, 255), (20, 20, 20)


def _as_array(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim < 2 or array.size == 0 or np.prod(array.shape[:-2]) != 1:  # (H, W), (1, H, W), (1, 1, H, W)
        raise InputError(f"a difference map must be one H x W array, got shape {np.shape(values)}")
    array = array.reshape(array.shape[-2:])
    if not np.isfinite(array).all():
        raise InputError("the difference map contains NaN or Inf values")
    return array


def colorize(values, vmax: float) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 colours: 0 black, ``vmax`` and above pale yellow."""
    array = _as_array(values)
    level = np.clip(array / vmax, 0.0, 1.0) if vmax > 0 else np.zeros_like(array)
    return _TABLE[(level * 255).round().astype(np.int64)]


def _overlay(colors: np.ndarray, level: np.ndarray, background: np.ndarray) -> np.ndarray:
    gray = background.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    opacity = (0.2 + 0.7 * np.sqrt(level))[..., None]
    return (opacity * colors + (1 - opacity) * (0.3 + 0.7 * gray[..., None])).round().astype(np.uint8)


def _label(value: float) -> str:
    return "0" if value == 0 else f"{value:.3g}"


def render(values, vmax: float | None = None, background: np.ndarray | None = None,
           caption: str | None = None) -> np.ndarray:
    """The heat map of an (H, W) map with a colour bar from 0 to ``vmax`` (default: the map's maximum),
    as (H', W', 3) uint8; ``background`` is an (H, W, 3) uint8 image to lay the colours over."""
    array = _as_array(values)
    vmax = float(array.max()) if vmax is None else float(vmax)
    colors = colorize(array, vmax)
    if background is not None:
        if background.shape != (*array.shape, 3):
            raise InputError(f"the background must be an {array.shape[0]} x {array.shape[1]} RGB image, "
                             f"got {background.shape}")
        level = np.clip(array / vmax, 0, 1) if vmax > 0 else np.zeros_like(array)
        colors = _overlay(colors, level, background)
    factor = max(1, -(-MIN_HEIGHT // array.shape[0]))
    picture = Image.fromarray(colors.repeat(factor, axis=0).repeat(factor, axis=1))
    width, height = picture.size
    font = _font(max(12, min(height, 1024) // 18))
    text_height = font.getbbox("0123456789")[3]
    ticks = [(fraction, _label(fraction * vmax) + ("+" if fraction == 1.0 and vmax < array.max() else ""))
             for fraction in (1.0, 0.5, 0.0)]
    label_width = max(font.getlength(text) for _, text in ticks) + 8
    bar_left = width + _GAP
    caption_height = text_height + 8 if caption else 0
    canvas_width = max(bar_left + _BAR_WIDTH + round(label_width), round(font.getlength(caption)) + 4 if caption else 0)
    canvas = Image.new("RGB", (canvas_width, height + caption_height), _BACKGROUND)
    canvas.paste(picture, (0, 0))
    ramp = _TABLE[np.linspace(255, 0, height).round().astype(np.int64)]  # top: vmax
    canvas.paste(Image.fromarray(np.repeat(ramp[:, None], _BAR_WIDTH, axis=1)), (bar_left, 0))
    draw = ImageDraw.Draw(canvas)
    for fraction, text in ticks:
        y = round((1 - fraction) * (height - 1))
        draw.line([(bar_left + _BAR_WIDTH, y), (bar_left + _BAR_WIDTH + 3, y)], fill=_TEXT)
        top = min(max(y - text_height // 2, 0), height - text_height)
        draw.text((bar_left + _BAR_WIDTH + 5, top), text, fill=_TEXT, font=font)
    if caption:
        draw.text((2, height + 4), caption, fill=_TEXT, font=font)
    return np.asarray(canvas)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only its small bitmap font
        return ImageFont.load_default()


def save(path: str | os.PathLike, values, **options) -> Path:
    """Write :func:`render` (same options) to ``path`` as a PNG, atomically."""
    path = Path(path)
    with atomic_write(path) as tmp:
        Image.fromarray(render(values, **options)).save(tmp, format="PNG")
    return path
