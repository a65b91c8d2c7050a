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
