"""Texture morphs of photographed textures: scikit-image's brick wall, grass and gravel (CC0 photographs that
``skimage.data`` ships; ``pip install 'elpips-torch[bench]'``).

Every view samples a 512 x 512 grayscale photo (used as RGB) at SPACING source pixels per output pixel about a
centre, turned and enlarged as `geometry.paths.textures.similarity_warp` turns and enlarges (b is a turned by
the scene's angle and enlarged by its scale), prefiltered against aliasing. The truth at time t is the photo
seen at the in-between angle (linear) and scale (geometric). By default the endpoints and the truth are cut
from different places of the photo (CENTRES), as two photos of one surface would be; the aligned variant
cuts them all about one centre. Texture changes (one photo to another) have no truth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from texture_scenes import Scene

from geometry.paths.quality import gaussian_blur

PHOTOS = ("brick", "grass", "gravel")
#: Source pixels per output pixel of the endpoint a (b is sampled at SPACING / scale).
SPACING = 2.0
#: Centres (fractions of the photo's side) of a, of b, and of the truth: three different places.
CENTRES = ((0.35, 0.4), (0.62, 0.58), (0.45, 0.68))
#: A fourth place: the truth cut there (`PhotoScene.elsewhere`) is what a perfect morph could at best score.
ELSEWHERE = (0.7, 0.3)
TURNS = (30.0, 60.0, 90.0)
ZOOMS = (1.5, 2.0, 3.0)
#: Views from random places of the photo (seeded: the same draws at every parameter) whose spectra, averaged, are
#: the reference spectra of the pooled spectral ghost (`PhotoScene.pooled`).
POOLED_VIEWS, POOL_SEED = 24, 20261206
CHANGES = (("brick", "gravel"), ("grass", "gravel"), ("brick", "grass"))


def photo(name: str) -> torch.Tensor:
    """The photo (1, 1, 512, 512) in [0, 1], float64."""
    try:
        import skimage.data
    except ImportError as error:
        raise ImportError("the photographed textures come from scikit-image: pip install 'elpips-torch[bench]'") \
            from error
    return torch.from_numpy(getattr(skimage.data, name)()).double().div(255).view(1, 1, 512, 512)


def view(source: torch.Tensor, size: int, centre: tuple[float, float], angle: float, scale: float,
         spacing: float = SPACING) -> torch.Tensor:
    """(1, 3, size, size) float32: output pixel (x, y) (from the centre) shows the source at
    centre + spacing / scale * R (x, y), R = [[cos, sin], [-sin, cos]] of `angle` radians, the source blurred
    first where the step exceeds a pixel."""
    step = spacing / scale
    blurred = gaussian_blur(source, 0.45 * step) if step > 1 else source
    height, width = source.shape[-2:]
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    cos, sin = math.cos(angle) * step, math.sin(angle) * step
    sx = centre[1] * (width - 1) + cos * xx + sin * yy
    sy = centre[0] * (height - 1) - sin * xx + cos * yy
    grid = torch.stack([2 * sx / (width - 1) - 1, 2 * sy / (height - 1) - 1], -1).unsqueeze(0)
    out = F.grid_sample(blurred, grid, mode="bicubic", padding_mode="reflection", align_corners=True)
    return out.clamp(0, 1).expand(1, 3, size, size).float().clone()


def pooled_views(source: torch.Tensor, size: int, angle: float, scale: float, count: int = POOLED_VIEWS,
                 seed: int = POOL_SEED) -> torch.Tensor:
    """(count, 3, size, size): `view`s at `angle` and `scale` about random centres, each wholly inside the photo
    (no reflected border)."""
    side = source.shape[-1] - 1
    reach = SPACING / scale * (size - 1) / 2 * (abs(math.cos(angle)) + abs(math.sin(angle))) / side
    if reach >= 0.5:
        raise ValueError(f"a {size} px view at x{scale:g} and {math.degrees(angle):g} deg does not fit in the photo")
    places = reach + (1 - 2 * reach) * torch.rand(count, 2, generator=torch.Generator().manual_seed(seed),
                                                  dtype=torch.float64)
    return torch.cat([view(source, size, (y, x), angle, scale) for y, x in places.tolist()])


@dataclass(frozen=True)
class PhotoScene(Scene):
    """A morph between two views: a `texture_scenes.Scene` (render, middles, frames, dissolve; `spectral` False
    for one texture becoming another, which has no truth) plus the true `angle` (radians) and `scale` b has
    against a."""
    angle: float = 0.0
    scale: float = 1.0
    elsewhere: Callable[[], torch.Tensor] | None = None   # the true middle cut from a fourth place (ELSEWHERE)
    #: (angle, scale[, seed]) -> `pooled_views` of the photo there; with `middle_parameters`, the (angle, scale) of
    #: each of `middles()`: the references of the pooled spectral and feature ghosts.
    pooled: Callable[..., torch.Tensor] | None = None
    middle_parameters: tuple[tuple[float, float], ...] = ()


def _centre(t: float, aligned: bool) -> tuple[float, float]:
    if aligned:
        return CENTRES[0]
    if t in (0.0, 1.0):
        return CENTRES[int(t)]
    return CENTRES[2]   # every in-between view (the truth) from a third place


def similarity_scene(name: str, size: int, degrees: float = 0.0, zoom: float = 1.0,
                     aligned: bool = False) -> PhotoScene:
    """The photo `name` turned by `degrees` and enlarged by `zoom` from a to b."""
    source = photo(name)
    angle = math.radians(degrees)

    def render(t: float) -> torch.Tensor:
        return view(source, size, _centre(t, aligned), angle * t, zoom ** t)

    others, parameters = (), ((angle / 2, zoom ** 0.5),)
    if degrees == 90:   # a turn by 90 degrees is as well one by -90: its middle is at -45 as much as at 45
        others = (lambda: view(source, size, _centre(0.5, aligned), -angle / 2, zoom ** 0.5),)
        parameters += ((-angle / 2, zoom ** 0.5),)
    kind = f"turn {degrees:g}" if degrees else f"zoom x{zoom:g}"
    label = f"{name} {kind}{' aligned' if aligned else ''}"
    def elsewhere() -> torch.Tensor:
        return view(source, size, ELSEWHERE, angle / 2, zoom ** 0.5)

    return PhotoScene(label, size, render, other_middles=others, angle=angle, scale=zoom, elsewhere=elsewhere,
                      pooled=lambda turned, scaled, seed=POOL_SEED: pooled_views(source, size, turned, scaled,
                                                                                 seed=seed),
                      middle_parameters=parameters)


def change_scene(first: str, second: str, size: int) -> PhotoScene:
    """One photo becoming another (the render at inner times is their dissolve: there is no truth)."""
    a = view(photo(first), size, CENTRES[0], 0.0, 1.0)
    b = view(photo(second), size, CENTRES[1], 0.0, 1.0)
    return PhotoScene(f"{first}->{second}", size, lambda t: ((1 - t) * a + t * b).float(),
                      spectral=False)


def photo_scenes(size: int, quick: bool = False, aligned: bool = False) -> list[PhotoScene]:
    """Turns and zooms of each photo (quick: brick turned 60 and gravel zoomed x2), and the changes."""
    if quick:
        scenes = [similarity_scene("brick", size, degrees=60, aligned=aligned),
                  similarity_scene("gravel", size, zoom=2.0, aligned=aligned)]
        return scenes + [change_scene("brick", "gravel", size)]
    scenes = [similarity_scene(name, size, degrees=d, aligned=aligned) for name in PHOTOS for d in TURNS]
    scenes += [similarity_scene(name, size, zoom=z, aligned=aligned) for name in PHOTOS for z in ZOOMS]
    return scenes + [change_scene(first, second, size) for first, second in CHANGES]
