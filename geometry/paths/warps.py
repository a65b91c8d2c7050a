"""Images moved by a flow field (the warp path between two images that starts motion geodesics is
`geometry.paths.render.WarpPath`).

A flow u (N, 2, H, W) holds displacements in pixels, channel 0 along x (columns) and channel 1 along y
(rows). :func:`warp` is the backward warp image(x + u(x)), bilinear, with reflection at the borders and a
mask of the pixels whose source lies inside the image.

The warp path between a and b for a flow u from a to b defined on the in-between grid is, with its fixed blend,

    x(t) = (1 - t) a(x - t u(x)) + t b(x + (1 - t) u(x)),

exactly a at t = 0 and b at t = 1; for a constant pan it is the true in-between frame up to resampling. Where
one side's source lies outside the image (content entering or leaving at a border) the blend takes the other
side only, so a pan does not show a reflected ghost at its borders.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=16)
def _grid_and_scale(height: int, width: int, device: torch.device,
                    dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(each pixel's own (x, y) coordinates (1, 2, H, W), the scale (1, 2, 1, 1) of pixels to grid_sample's
    [-1, 1]), made once per size: a flow search warps at the same few sizes thousands of times. Read-only."""
    ys = torch.arange(height, device=device, dtype=dtype)
    xs = torch.arange(width, device=device, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    scale = torch.tensor([2 / max(width - 1, 1), 2 / max(height - 1, 1)], device=device, dtype=dtype)
    return torch.stack([grid_x, grid_y])[None], scale.view(1, 2, 1, 1)


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> tuple[torch.Tensor, torch.Tensor]:
    """(image sampled at x + flow(x), inside mask (N, 1, H, W) in {0, 1}) for image (N, C, H, W) and flow
    (N or 1, 2, H, W) in pixels; `mode` is grid_sample's ("bicubic" blurs a sub-pixel shift less than
    "bilinear" and may overshoot [0, 1])."""
    height, width = image.shape[-2:]
    grid, scale = _grid_and_scale(height, width, image.device, image.dtype)
    where = grid + flow
    normalised = (where * scale - 1).permute(0, 2, 3, 1)
    if normalised.shape[0] != image.shape[0]:
        normalised = normalised.expand(image.shape[0], -1, -1, -1)
    moved = F.grid_sample(image, normalised, mode=mode, padding_mode="reflection", align_corners=True)
    inside = ((where[:, 0] >= -0.5) & (where[:, 0] <= width - 0.5)
              & (where[:, 1] >= -0.5) & (where[:, 1] <= height - 0.5)).unsqueeze(1).to(image.dtype)
    return moved, inside


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The flow at another image size: resampled and its displacements scaled with the size."""
    height, width = flow.shape[-2:]
    resized = F.interpolate(flow, size=size, mode="bilinear", align_corners=True)
    scale = torch.tensor([(size[1] - 1) / max(width - 1, 1), (size[0] - 1) / max(height - 1, 1)],
                         dtype=flow.dtype, device=flow.device)
    return resized * scale.view(1, 2, 1, 1)
