"""Synthetic images that several test modules share (kept out of the test modules, which import no other)."""

from __future__ import annotations

import math

import torch


def band_noise(size: int, degrees: float | None, period: float = 6.0, seed: int = 0) -> torch.Tensor:
    """Gray band-pass noise (1, 3, size, size) in [0, 1]: centre frequency 1/period, oriented at `degrees`
    (a Gaussian of 10 degrees) or isotropic for None; one seed is one white noise whatever the parameter."""
    noise = torch.randn(size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    f = torch.fft.fftfreq(size, dtype=torch.float64)
    fy, fx = torch.meshgrid(f, f, indexing="ij")
    radius, theta = torch.sqrt(fx * fx + fy * fy), torch.atan2(fy, fx)
    amplitude = torch.exp(-torch.log2(radius.clamp_min(1e-9) * period).square() / (2 * 0.35 ** 2))
    if degrees is not None:
        offset = torch.remainder(theta - math.radians(degrees) + math.pi / 2, math.pi) - math.pi / 2
        amplitude = amplitude * torch.exp(-offset.square() / (2 * math.radians(10) ** 2))
    amplitude[0, 0] = 0
    field = torch.fft.ifft2(torch.fft.fft2(noise) * amplitude).real / amplitude.square().mean().sqrt()
    return (0.5 + 0.15 * field).clamp(0, 1).expand(1, 3, size, size).float().clone()


def orientation_morph(size: int = 64, turn: float = 60.0):
    """Endpoints at 0 and `turn` degrees and the true middle texture at turn / 2."""
    return band_noise(size, 0.0), band_noise(size, turn), band_noise(size, turn / 2)


def brick_view(size: int, centre: tuple[float, float], degrees: float = 0.0, zoom: float = 1.0,
               seed: int = 0) -> torch.Tensor:
    """(1, 3, size, size): an endless wall of 12 x 5 px bricks in staggered rows with dark mortar and pixel noise,
    seen about `centre` (wall px) turned by `degrees` and enlarged by `zoom` as
    `geometry.paths.textures.similarity_warp` turns and enlarges."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    angle = math.radians(degrees)
    x = centre[1] + (math.cos(angle) * xx + math.sin(angle) * yy) / zoom
    y = centre[0] + (-math.sin(angle) * xx + math.cos(angle) * yy) / zoom
    row = torch.floor(y / 5)
    along = torch.remainder(x + 6 * torch.remainder(row, 2), 12)
    across = torch.remainder(y, 5)
    mortar = torch.sigmoid((1 - torch.minimum(along, 12 - along)) * 3) + torch.sigmoid((1 - torch.minimum(
        across, 5 - across)) * 3)
    noise = torch.randn(size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gray = (0.6 - 0.35 * mortar.clamp(0, 1) + 0.05 * noise).clamp(0, 1)
    return gray.expand(1, 3, size, size).float().clone()
