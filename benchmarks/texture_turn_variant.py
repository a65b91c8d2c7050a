"""A variant of the texture start that lost (docs/textures.md, "Photographed textures"): turns and zooms of
photographed textures synthesised as ONE texture at the in-between angle and scale.

The texture path (`geometry.paths.textures`) warps both endpoints to the in-between angle and scale as tiles
and blends them. A crop cut from a photo is not a tile: the shrunk endpoint repeats with seams, the turned one
brings its opposite edge in, and the blend keeps the power of both (docs/textures.md, "Photographed textures").
Here each frame's target is the displacement interpolation (`geometry.paths.sliced`) of the VGG feature
distributions of the two endpoints turned and scaled to time t WITHIN THEIR OWN PIXELS (:func:`own_view`: the
largest square the turn and zoom leave inside the image; no wrap-around, no mirror): a turned by the fraction t
of the change, b by 1 - t of it back. The two views have different sizes, so their sorted projections are
resampled to the frame's number of positions before they are interpolated (:func:`resampled`). The frame is
then optimised towards those statistics as the change start's synthesis is (`geometry.paths.synthesis`: sliced
optimal transport on random directions redrawn each step, Adam on the pixels), from the texture path's frame.

Measured by `bench_texture.py --parts morphs --morphs similar` (benchmarks/results/bench_texture_turns_zooms_*.txt):
no better than the texture path's tile blend on the spectral ghost, at 4-20 CPU s a frame, so the `texture`
start stayed the tile blend (later replaced by one picture per frame, docs/textures.md).
"""
from __future__ import annotations

import math
import threading

import torch
import torch.nn.functional as F

from geometry.engine import phases
from geometry.paths.quality import gaussian_blur
from geometry.paths.sliced import directions, feature_clouds, quantiles
from geometry.paths.synthesis import DIRECTIONS, LEARNING_RATE, STEPS, is_grey

#: A view smaller than this (px) is padded by reflection to it: VGG's deepest layer read sees 1/8 of a side.
MIN_VIEW = 16


def own_view(image: torch.Tensor, angle: float, scale: float) -> torch.Tensor:
    """The image (1, 3, H, W) turned by `angle` (radians, as `geometry.paths.textures.similarity_warp` turns)
    and enlarged by `scale` about its centre: the largest square that holds only the image's own pixels
    (side min(H, W) * scale / (|cos| + |sin|), at least MIN_VIEW), bicubic, prefiltered where it shrinks."""
    height, width = image.shape[-2:]
    source = image.double()
    if scale < 1:
        source = gaussian_blur(source, 0.45 / scale)
    cos, sin = math.cos(angle), math.sin(angle)
    side = max(MIN_VIEW, int(min(height, width) * scale / (abs(cos) + abs(sin))))
    coords = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) / scale
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    grid = torch.stack([(cos * xx + sin * yy) / ((width - 1) / 2), (-sin * xx + cos * yy) / ((height - 1) / 2)], -1)
    sampled = F.grid_sample(source, grid.unsqueeze(0).to(source.dtype), mode="bicubic", padding_mode="reflection",
                            align_corners=True)
    return sampled.clamp(0, 1).to(image.dtype)


def own_views(a: torch.Tensor, b: torch.Tensor, time: float, angle: float, scale: float) \
        -> tuple[torch.Tensor, torch.Tensor]:
    """a turned and scaled by the fraction `time` of the change (angle, scale), b by 1 - time of it back, each
    within its own pixels (`own_view`)."""
    return own_view(a, angle * time, scale ** time), own_view(b, -angle * (1 - time), scale ** (time - 1))


def resampled(sorted_values: torch.Tensor, count: int) -> torch.Tensor:
    """Sorted projections (1, n, D) as (1, count, D): the quantile function read at `count` equally spaced
    levels (linear between the n values)."""
    if sorted_values.shape[1] == count:
        return sorted_values
    return F.interpolate(sorted_values.transpose(1, 2), size=count, mode="linear", align_corners=True).transpose(1, 2)


def synthesise_turned(a: torch.Tensor, b: torch.Tensor, times: torch.Tensor, start: torch.Tensor, angle: float,
                      scale: float, *, steps: int = STEPS, generator: torch.Generator | None = None,
                      cancel: threading.Event | None = None) -> torch.Tensor | None:
    """Frames (T, 3, H, W) in [0, 1] optimised from `start` (T, 3, H, W) for `steps` Adam steps towards, at each
    time t (T,), the interpolated statistics (1 - t) a_t + t b_t of the endpoints' `own_views` under the change
    (angle, scale): b is a turned by `angle` and enlarged by `scale`. Directions come from `generator` (default
    seeded 0); the work is done on `start`'s device. Grey endpoints give grey frames (one channel optimised).
    Reports the phase "synthesis"; None when `cancel` is set before a step."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    device = start.device
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    weights = times.to(torch.float64).tolist()
    with torch.no_grad():
        sources = [[feature_clouds(view.float().to(device)) for view in own_views(a, b, t, angle, scale)]
                   for t in weights]
    grey = is_grey(a) and is_grey(b) and is_grey(start)
    variable = (start.detach().float()[:, :1] if grey else start.detach().float()).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([variable], lr=LEARNING_RATE)
    for step in range(steps):
        if cancel is not None and cancel.is_set():
            return None
        phases.report("synthesis", step / steps)
        clouds = feature_clouds(variable.expand(-1, 3, -1, -1) if grey else variable)
        slices = directions(clouds, DIRECTIONS, generator)
        with torch.no_grad():
            targets = [torch.cat([_target(first, second, t, slices, layer, cloud.shape[1])
                                  for (first, second), t in zip(sources, weights)])
                       for layer, cloud in enumerate(clouds)]
        loss = sum((q - target).square().mean() for q, target in zip(quantiles(clouds, slices), targets))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            variable.clamp_(0, 1)
    result = variable.detach()
    return (result.expand(-1, 3, -1, -1) if grey else result).contiguous()


def _target(first: list[torch.Tensor], second: list[torch.Tensor], t: float, slices: list[torch.Tensor],
            layer: int, count: int) -> torch.Tensor:
    """One frame's target quantiles at one layer: (1 - t) q_first + t q_second, both read at `count` levels."""
    direction = slices[layer]
    q_first = resampled((first[layer] @ direction).sort(dim=1).values, count)
    q_second = resampled((second[layer] @ direction).sort(dim=1).values, count)
    return (1 - t) * q_first + t * q_second
