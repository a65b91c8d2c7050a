"""Does an in-between image show content that MOVED, or a double exposure? Measured against a known truth.

Pixel and perceptual distances to the true in-between frame cannot tell a sharpened double exposure from one
object at the right place: both can be equally far from the truth. Edges can. :func:`ghost_fraction`
regresses the result's edges (high-pass: grayscale minus its Gaussian blur) on the edges of the true frame
and of the cross-dissolve, by least squares without intercept:

    edges(result) ~ w_truth * edges(truth) + w_dissolve * edges(dissolve)

``fraction = w_dissolve / (w_truth + w_dissolve)`` is 0 for one object at the true position and 1 for a
double exposure; ``r2`` (uncentred) says how much of the result's edges the fit explains: near 0 for a blur
or noise, whose edges are at neither place. A border is cropped so that padding at the edges of moving
content does not count.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)


class GhostFit(NamedTuple):
    fraction: float   # w_dissolve / (w_truth + w_dissolve): 0 one object at the true place, 1 a double exposure
    r2: float         # share of the result's edge energy the fit explains (uncentred R^2)
    weights: tuple[float, float]  # (w_truth, w_dissolve)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), truncated at 3 sigma, reflect padding."""
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-taps.square() / (2 * sigma * sigma))
    kernel = (kernel / kernel.sum()).to(images.dtype)
    channels = images.shape[1]
    x = F.pad(images, (radius,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def edges(images: torch.Tensor, sigma: float = 1.5, border: int = 4) -> torch.Tensor:
    """High-pass of the grayscale image: (N, 1, H - 2 border, W - 2 border)."""
    luma = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    gray = (images * luma).sum(1, keepdim=True)
    high = gray - gaussian_blur(gray, sigma)
    return high[..., border:high.shape[-2] - border, border:high.shape[-1] - border]


def ghost_fraction(result: torch.Tensor, truth: torch.Tensor, dissolve: torch.Tensor, *, sigma: float = 1.5,
                   border: int = 4) -> GhostFit:
    """The ghost fraction of one in-between image (see the module docstring). Inputs: (1, 3, H, W) or (3, H, W)
    in [0, 1], all the same size; `dissolve` is the cross-dissolve of the endpoints at the same time."""
    images = [torch.as_tensor(x).detach().double().cpu() for x in (result, truth, dissolve)]
    images = [x.unsqueeze(0) if x.dim() == 3 else x for x in images]
    if any(x.shape != images[0].shape or x.shape[:2] != (1, 3) for x in images):
        raise ValueError(f"result, truth and dissolve must be single RGB images of one size, got "
                         f"{[tuple(x.shape) for x in images]}")
    if min(images[0].shape[-2:]) <= 2 * border + 2:
        raise ValueError(f"images of {tuple(images[0].shape[-2:])} px are too small for a {border} px border")
    y, t, d = (edges(x, sigma, border).flatten() for x in images)
    basis = torch.stack([t, d], dim=1)
    weights = torch.linalg.lstsq(basis, y.unsqueeze(1)).solution.flatten()
    residual = y - basis @ weights
    total = y @ y
    r2 = (1 - residual @ residual / total).item() if total > 0 else 0.0
    w_truth, w_dissolve = weights.tolist()
    denominator = w_truth + w_dissolve
    fraction = w_dissolve / denominator if abs(denominator) > 1e-12 else math.nan
    return GhostFit(fraction, r2, (w_truth, w_dissolve))
