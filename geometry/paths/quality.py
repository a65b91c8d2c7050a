"""Does an in-between image show content that MOVED, or a double exposure? A texture at the in-between
parameter, or a plaid? Measured against a known truth.

Pixel and perceptual distances to the true in-between frame cannot tell a sharpened double exposure from one
object at the right place: both can be equally far from the truth. Edges can. :func:`ghost_fraction`
regresses the result's edges (high-pass: grayscale minus its Gaussian blur) on the edges of the true frame
and of the cross-dissolve, by least squares without intercept:

    edges(result) ~ w_truth * edges(truth) + w_dissolve * edges(dissolve)

``fraction = w_dissolve / (w_truth + w_dissolve)`` is 0 for one object at the true position and 1 for a
double exposure; ``r2`` (uncentred) says how much of the result's edges the fit explains: near 0 for a blur
or noise, whose edges are at neither place. A border is cropped so that padding at the edges of moving
content does not count.

Textures have no true place, only statistics: :func:`spectral_ghost` asks where the in-between image's
Fourier power lies, in the endpoints' bands (a plaid or a dissolve of two orientations or scales: 1) or in
the bands of a texture drawn at the middle parameter (0); :func:`highpass_contrast` measures the contrast
that a blend of unrelated textures loses. docs/textures.md describes the benchmark that uses them.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from elpips.errors import InputError

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
    kernel = (kernel / kernel.sum()).to(images.device, images.dtype)
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
        raise InputError(f"result, truth and dissolve must be single RGB images of one size, got "
                         f"{[tuple(x.shape) for x in images]}")
    if min(images[0].shape[-2:]) <= 2 * border + 2:
        raise InputError(f"images of {tuple(images[0].shape[-2:])} px are too small for a {border} px border")
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


def power_spectrum(images: torch.Tensor, smooth: float = 0.0) -> torch.Tensor:
    """The centred (fftshift) Fourier power of the grayscale images (N, 3, H, W) -> (N, H, W), their mean
    removed and a Hann window applied (so the image borders do not leak power along the axes), optionally
    smoothed by a Gaussian of `smooth` frequency bins (a periodogram's noise averaged out)."""
    luma = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    gray = (images * luma).sum(1)
    gray = gray - gray.mean((-2, -1), keepdim=True)
    height, width = gray.shape[-2:]
    window = torch.outer(torch.hann_window(height, periodic=False, dtype=gray.dtype, device=gray.device),
                         torch.hann_window(width, periodic=False, dtype=gray.dtype, device=gray.device))
    power = torch.fft.fftshift(torch.fft.fft2(gray * window).abs().square(), dim=(-2, -1))
    return gaussian_blur(power.unsqueeze(1), smooth).squeeze(1) if smooth > 0 else power


#: Where the endpoints' reference spectrum holds less than this share of its power in the endpoints' band, or the
#: truth's in the middle band, the parameter moves no power apart (a turn of an isotropic texture, a zoom of a
#: 1/f spectrum): the spectral ghost does not apply (`SpectralGhost.applies`).
MIN_BAND_SHARE = 0.05


class SpectralGhost(NamedTuple):
    fraction: float   # end-band power / (end-band + middle-band power): ~0 a texture at the middle, 1 a dissolve
    end_power: float  # the result's power in the endpoints' bands
    middle_power: float  # the result's power in the true middle texture's bands
    band_share: float  # the smaller of the endpoints' references' power share in their band and the truth's in its

    @property
    def applies(self) -> bool:
        """Whether the bands hold power enough for the fraction to say anything (`MIN_BAND_SHARE`)."""
        return self.band_share >= MIN_BAND_SHARE


def mean_power_spectrum(images: torch.Tensor, smooth: float) -> torch.Tensor:
    """The mean over a stack of its smoothed power spectra, each normalised to sum 1."""
    power = power_spectrum(images, smooth)
    return (power / power.sum((-2, -1), keepdim=True).clamp_min(1e-300)).mean(0)


def spectral_ghost(result: torch.Tensor, truth: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *,
                   ratio: float = 2.0, smooth: float = 1.5, floor: float = 0.02) -> SpectralGhost:
    """Does a texture's in-between image hold the endpoints' frequencies (a plaid, a dissolve) or the middle
    texture's? The Fourier power of `result` in the endpoints' bands over its power there and in the bands of
    `truth`, a texture drawn at the middle parameter (any draw: only its power spectrum is used).

    The bands come from the smoothed, normalised power spectra (`power_spectrum`): the endpoints' band is where
    their mean spectrum exceeds the truth's `ratio` times over, the middle band where the truth's exceeds the
    endpoints' so; frequencies under `floor` times the larger spectrum's peak belong to neither. `truth`, `a` and
    `b` may each be a stack (N, 3, H, W) of views of the texture at that parameter (crops from many places of a
    photo): their spectra are averaged, so the bands are the parameter's rather than one crop's. The result's
    power is its own single image's. `band_share` is the smaller of the endpoints' (mean) reference power in their
    band and the truth's in its band: where it is under `MIN_BAND_SHARE` no power moves apart, the fraction says
    nothing (`applies` is False; a fraction of 1 may then only say that the middle band is empty). Inputs in [0, 1],
    all one size; `result` (1, 3, H, W) or (3, H, W). Contrast does not change the fraction."""
    images = [torch.as_tensor(x).detach().double().cpu() for x in (result, truth, a, b)]
    images = [x.unsqueeze(0) if x.dim() == 3 else x for x in images]
    if images[0].shape[0] != 1 or any(x.dim() != 4 or x.shape[1:] != images[0].shape[1:] or x.shape[1] != 3
                                      or x.shape[0] < 1 for x in images):
        raise InputError(f"result (a single RGB image), truth, a and b (RGB images or stacks) must be of one size, "
                         f"got {[tuple(x.shape) for x in images]}")
    if min(images[0].shape[-2:]) < 16:
        raise InputError(f"images of {tuple(images[0].shape[-2:])} px are too small for a spectrum (16 px or more)")
    power = power_spectrum(images[0])[0]
    middle, end_a, end_b = (mean_power_spectrum(x, smooth) for x in images[1:])
    ends = (end_a + end_b) / 2
    present = torch.maximum(middle, ends) >= floor * max(middle.max(), ends.max())
    end_band, middle_band = present & (ends > ratio * middle), present & (middle > ratio * ends)
    end_power, middle_power = power[end_band].sum().item(), power[middle_band].sum().item()
    band_share = min(ends[end_band].sum().item(), middle[middle_band].sum().item())
    total = end_power + middle_power
    return SpectralGhost(end_power / total if total > 0 else math.nan, end_power, middle_power, band_share)


def highpass_contrast(image: torch.Tensor, sigma: float = 4.0, border: int = 4) -> float:
    """The RMS of an image's grayscale high-pass (minus its Gaussian blur of `sigma` px; a border cropped): a
    texture's contrast. A blend of two unrelated textures has about 0.7x its endpoints'; compare a result's
    with a true texture's."""
    x = torch.as_tensor(image).detach().double().cpu()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    if x.dim() != 4 or x.shape[1] != 3 or min(x.shape[-2:]) <= 2 * border + 2:
        raise InputError(f"expected RGB images (N, 3, H, W) larger than a {border} px border, got {tuple(x.shape)}")
    return edges(x, sigma, border).square().mean().sqrt().item()


def layout_correlation(image: torch.Tensor, reference: torch.Tensor, sigma: float = 4.0, border: int = 4) -> float:
    """The correlation of two images' grayscale high-passes (as `highpass_contrast`'s) pixel by pixel: whether
    `image` keeps the ARRANGEMENT of `reference` (1: the same layout; about 0: a layout of its own; a dissolve's
    middle about 0.7 with each endpoint). Statistics measures (`geometry.paths.sliced.superposition_score`) do
    not see a layout copied from an endpoint: the brick wall's mortar lines left in a texture change's middle."""
    x, y = (torch.as_tensor(v).detach().double().cpu() for v in (image, reference))
    if x.dim() != 4 or x.shape[:2] != (1, 3) or x.shape != y.shape or min(x.shape[-2:]) <= 2 * border + 2:
        raise InputError(f"expected two RGB images (1, 3, H, W) of one size larger than a {border} px border, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    u, v = (edges(z, sigma, border).flatten() for z in (x, y))
    u, v = u - u.mean(), v - v.mean()
    return float((u * v).sum() / (u.norm() * v.norm()).clamp_min(1e-12))
