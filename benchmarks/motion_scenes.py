"""Scenes with known motion, for judging in-between frames against the truth.

Each :class:`Scene` renders its frame at any time t in [0, 1] (t = 0 and t = 1 are the endpoints an
interpolator is given; t = 0.5 is the true middle frame). The pictures come from the project's own example
generator (`app.examples`) and from the reference images beside the checkout, when they are there.

* pans: a fixed window over a larger picture, moved by (dy, dx) px between the endpoints;
* zooms: a centred window shrinking by a factor `zoom` (geometric in t, so the motion is uniform on screen);
* an object (a round patch of another picture, with a soft edge) sliding over a background by less than
  its own width.

Frames are rendered from one larger source, at integer offsets where possible and otherwise with
antialiased resampling from a 4x larger rendering, so every frame (the truth included) has the same
sharpness: nothing favours the endpoints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

import elpips
from geometry.engine.inputs import resize

from app.examples import example_arrays

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE_IMAGES = SHARED / "data" / "elpips_inputs"
OVERSAMPLE = 4


@dataclass(frozen=True)
class Scene:
    name: str
    size: int                                  # frames are size x size
    render: Callable[[float], torch.Tensor]    # t -> (1, 3, size, size) in [0, 1]

    def frames(self, count: int) -> torch.Tensor:
        """`count` frames at t = 0, 1/(count-1), ..., 1: the true path."""
        return torch.cat([self.render(k / (count - 1)) for k in range(count)])

    def dissolve(self, count: int) -> torch.Tensor:
        """The cross-dissolve of the endpoints at the same times."""
        a, b = self.render(0.0), self.render(1.0)
        t = torch.linspace(0, 1, count).view(-1, 1, 1, 1)
        return (1 - t) * a + t * b


def pictures(size: int) -> dict[str, torch.Tensor]:
    """Source pictures at least `size` * 1.5 px on their short side, keyed by name: the project's own textures,
    and the reference photographs (cat, dog) when ../shared is beside the checkout."""
    short = math.ceil(size * 1.5)
    found = {}
    arrays = example_arrays(short * 2)
    for name in ("texture_blobs", "texture_stripes", "disc_left"):
        found[name] = resize(torch.from_numpy(arrays[name]).permute(2, 0, 1)[None].float(), (short, short))
    for name in ("cat", "dog"):
        path = REFERENCE_IMAGES / f"{name}.png"
        if path.is_file():
            image = elpips.load_image(path)
            h, w = image.shape[-2:]
            found[name] = resize(image, (short, round(short * w / h)) if h <= w else (round(short * h / w), short))
    return found


def _window(source: torch.Tensor, size: int, top: float, left: float) -> torch.Tensor:
    """The size x size window of `source` whose top-left corner is at (top, left) px (fractions resampled)."""
    if float(top).is_integer() and float(left).is_integer():
        top, left = int(top), int(left)
        return source[..., top:top + size, left:left + size].clone()
    big = F.interpolate(source, scale_factor=OVERSAMPLE, mode="bicubic", align_corners=False).clamp(0, 1)
    y, x = round(top * OVERSAMPLE), round(left * OVERSAMPLE)
    return resize(big[..., y:y + size * OVERSAMPLE, x:x + size * OVERSAMPLE], (size, size))


def pan(name: str, source: torch.Tensor, size: int, dy: int, dx: int) -> Scene:
    height, width = source.shape[-2:]
    if size + abs(dy) > height or size + abs(dx) > width:
        raise ValueError(f"{name}: a {size} px window panned by ({dy}, {dx}) does not fit in {height}x{width}")
    top0 = (height - size - abs(dy)) // 2 + max(0, -dy)
    left0 = (width - size - abs(dx)) // 2 + max(0, -dx)
    return Scene(name, size, lambda t: _window(source, size, top0 + t * dy, left0 + t * dx))


def zoom(name: str, source: torch.Tensor, size: int, factor: float) -> Scene:
    """A centred window of side `size` * 1.4 px in source pixels at t = 0, `factor` times smaller at t = 1."""
    height, width = source.shape[-2:]
    big = F.interpolate(source, scale_factor=OVERSAMPLE, mode="bicubic", align_corners=False).clamp(0, 1)
    start = min(height, width, size * 1.4) * OVERSAMPLE

    def render(t: float) -> torch.Tensor:
        side = round(start / factor ** t)
        top, left = (big.shape[-2] - side) // 2, (big.shape[-1] - side) // 2
        return resize(big[..., top:top + side, left:left + side], (size, size))

    return Scene(name, size, render)


def moving_object(name: str, background: torch.Tensor, sprite: torch.Tensor, size: int, radius: float,
                  dy: float, dx: float) -> Scene:
    """A disc of `sprite` (radius px, soft edge) sliding by (dy, dx) over the centre of `background`."""
    ground = background[..., :size, :size]
    patch = resize(sprite, (size, size))
    yy, xx = torch.meshgrid(torch.arange(size * OVERSAMPLE), torch.arange(size * OVERSAMPLE), indexing="ij")
    centre = (size * OVERSAMPLE - 1) / 2
    big_ground = F.interpolate(ground, scale_factor=OVERSAMPLE, mode="bicubic", align_corners=False).clamp(0, 1)
    big_patch = F.interpolate(patch, scale_factor=OVERSAMPLE, mode="bicubic", align_corners=False).clamp(0, 1)

    def render(t: float) -> torch.Tensor:
        oy, ox = (t - 0.5) * dy * OVERSAMPLE, (t - 0.5) * dx * OVERSAMPLE
        distance = ((yy - centre - oy).square() + (xx - centre - ox).square()).sqrt()
        cover = (radius * OVERSAMPLE - distance + OVERSAMPLE / 2).clamp(0, OVERSAMPLE) / OVERSAMPLE
        # the sprite moves with the disc: shift its pixels by the same offset (integer at the oversampled scale)
        moved = torch.roll(big_patch, shifts=(round(oy), round(ox)), dims=(-2, -1))
        frame = big_ground * (1 - cover) + moved * cover
        return resize(frame, (size, size))

    return Scene(name, size, render)


def benchmark_scenes(size: int, quick: bool = False) -> list[Scene]:
    """The motion benchmark's scenes at `size` px: pans of size/16 .. size/4 px (4-16 at 64, 8-32 at 128) in
    three directions, zooms by 1.1 and 1.3, and an object moving by 2/3 of its radius."""
    src = pictures(size)
    shifts = (size // 16, size // 8, size // 4)
    scenes = []
    photos = [name for name in ("cat", "dog") if name in src] or ["texture_blobs"]
    for shift in shifts:
        scenes.append(pan(f"pan-h {shift}px {photos[0]}", src[photos[0]], size, 0, shift))
    if not quick:
        scenes.append(pan(f"pan-v {shifts[1]}px {photos[-1]}", src[photos[-1]], size, shifts[1], 0))
        scenes.append(pan(f"pan-d {shifts[1]}px stripes", src["texture_stripes"], size, shifts[1], shifts[1]))
        scenes.append(pan(f"pan-h {shifts[1]}px blobs", src["texture_blobs"], size, 0, shifts[1]))
        scenes.append(zoom(f"zoom 1.1x {photos[0]}", src[photos[0]], size, 1.1))
        scenes.append(zoom(f"zoom 1.3x {photos[-1]}", src[photos[-1]], size, 1.3))
        radius = size * 0.22
        scenes.append(moving_object(f"object {round(radius * 2 / 3)}px", src["texture_blobs"], src[photos[0]],
                                    size, radius, 0, round(radius * 2 / 3)))
    return scenes


def numpy_frame(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] -> (H, W, 3) uint8, for OpenCV."""
    return (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
