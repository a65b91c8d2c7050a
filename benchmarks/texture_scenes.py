"""Texture morphs with a known truth: procedural textures whose only difference is one parameter.

Each scene filters ONE fixed white noise (a seeded generator) in the Fourier domain with a band-pass whose
parameter moves with t, so `render(t)` is the true texture at the in-between parameter and the true path
changes smoothly (the same noise seen through a moving filter). t = 0 and t = 1 are the endpoints an
interpolator is given; t = 0.5 is the true middle texture. The textures are periodic (the filter works on
the discrete torus), as a tile.

* ``orient 0-60`` / ``orient 0-90``: oriented band-pass noise (centre frequency 1/6 cycles/px), its
  orientation moving linearly in t (0 -> 90 degrees is as well a turn by -90: its middle is 45 or -45);
* ``scale 4-12``: isotropic band-pass noise, its centre frequency 1/4 -> 1/12 cycles/px, geometric in t (a
  uniform zoom; the middle is 1/(4 sqrt 3) = 1/6.9);
* ``blobs 5-10``: soft-thresholded isotropic low-frequency noise, blobs of about 5 and 10 px;
* ``stripes-blobs``: soft-thresholded noise whose angular concentration falls from stripes (horizontal) to
  isotropic blobs;
* ``two-colour orient``: the 0-60 orientation morph through a blue/orange palette.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

SEED = 20261202
CONTRAST = 0.15      # std of the band-pass noise in [0, 1] units
SOFTNESS = 0.6       # soft threshold width, in noise standard deviations
ORIENT_FREQUENCY = 1 / 6
OCTAVES = 0.35       # radial bandwidth (std of log2 frequency)
ANGLE_SIGMA = math.radians(10)
PALETTE = ((0.12, 0.22, 0.55), (0.95, 0.62, 0.20))


@dataclass(frozen=True)
class Scene:
    name: str
    size: int
    render: Callable[[float], torch.Tensor]    # t -> (1, 3, size, size) in [0, 1]
    spectral: bool = True                       # whether the spectral ghost applies (a parameter moves power)
    other_middles: tuple[Callable[[], torch.Tensor], ...] = ()  # equally true middles (a 90 degree turn either way)

    def middles(self) -> list[torch.Tensor]:
        """The true middle texture(s): render(0.5), and for a symmetric change the other way's middle."""
        return [self.render(0.5)] + [other() for other in self.other_middles]

    def frames(self, count: int) -> torch.Tensor:
        """`count` frames at t = 0, 1/(count-1), ..., 1: the true path."""
        return torch.cat([self.render(k / (count - 1)) for k in range(count)])

    def dissolve(self, count: int) -> torch.Tensor:
        a, b = self.render(0.0), self.render(1.0)
        t = torch.linspace(0, 1, count, dtype=torch.float64).view(-1, 1, 1, 1)
        return ((1 - t) * a + t * b).float()


def white_noise(size: int, seed: int) -> torch.Tensor:
    return torch.randn(size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _frequencies(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Radius (cycles/px) and angle (radians) of every DFT bin of a size x size image."""
    f = torch.fft.fftfreq(size, dtype=torch.float64)
    fy, fx = torch.meshgrid(f, f, indexing="ij")
    return torch.sqrt(fx * fx + fy * fy), torch.atan2(fy, fx)


def band_filter(size: int, frequency: float, angle: float | None, concentration: float = 0.0) -> torch.Tensor:
    """Amplitude filter: log-Gaussian in radius around `frequency`; around orientation `angle` (the stripes'
    normal; period pi) with a Gaussian of ANGLE_SIGMA, or for angle None with a von Mises weight of
    `concentration` (0 = isotropic) around angle 0."""
    radius, theta = _frequencies(size)
    radial = torch.exp(-torch.log2(radius.clamp_min(1e-9) / frequency).square() / (2 * OCTAVES ** 2))
    radial[0, 0] = 0.0
    if angle is None:
        return radial * torch.exp(concentration * (torch.cos(2 * theta) - 1))
    offset = torch.remainder(theta - angle + math.pi / 2, math.pi) - math.pi / 2
    return radial * torch.exp(-offset.square() / (2 * ANGLE_SIGMA ** 2))


def filtered(noise: torch.Tensor, amplitude: torch.Tensor) -> torch.Tensor:
    """The noise through the filter, scaled to unit expected variance (the filter's energy, not the draw's)."""
    out = torch.fft.ifft2(torch.fft.fft2(noise) * amplitude).real
    return out / amplitude.square().mean().sqrt()


def gray_image(field: torch.Tensor) -> torch.Tensor:
    return (0.5 + CONTRAST * field).clamp(0, 1).expand(1, 3, *field.shape).float().clone()


def palette_image(field: torch.Tensor) -> torch.Tensor:
    """A unit-variance field mapped to the two PALETTE colours by a soft threshold."""
    weight = torch.sigmoid(field / SOFTNESS)
    low, high = (torch.tensor(c, dtype=torch.float64).view(3, 1, 1) for c in PALETTE)
    return ((1 - weight) * low + weight * high).unsqueeze(0).float()


def orientation(size: int, degrees: float, colour: bool = False) -> Scene:
    noise = white_noise(size, SEED)
    def render(t: float) -> torch.Tensor:
        field = filtered(noise, band_filter(size, ORIENT_FREQUENCY, math.radians(degrees * t)))
        return palette_image(field) if colour else gray_image(field)
    def turned_back() -> torch.Tensor:
        field = filtered(noise, band_filter(size, ORIENT_FREQUENCY, math.radians(degrees / 2 - 90)))
        return palette_image(field) if colour else gray_image(field)
    name = f"{'two-colour ' if colour else ''}orient 0-{degrees:g}"
    return Scene(name, size, render, other_middles=(turned_back,) if degrees == 90 else ())


def scale(size: int, first_period: float, last_period: float) -> Scene:
    noise = white_noise(size, SEED + 1)
    def render(t: float) -> torch.Tensor:
        period = first_period * (last_period / first_period) ** t
        return gray_image(filtered(noise, band_filter(size, 1 / period, None)))
    return Scene(f"scale {first_period:g}-{last_period:g}", size, render)


def blobs(size: int, first: float, last: float) -> Scene:
    noise = white_noise(size, SEED + 2)
    def render(t: float) -> torch.Tensor:
        diameter = first * (last / first) ** t
        return palette_image(filtered(noise, band_filter(size, 1 / (2 * diameter), None)))
    return Scene(f"blobs {first:g}-{last:g}", size, render)


def stripes_to_blobs(size: int, concentration: float = 12.0) -> Scene:
    noise = white_noise(size, SEED + 3)
    def render(t: float) -> torch.Tensor:
        return palette_image(filtered(noise, band_filter(size, 1 / 10, None, concentration * (1 - t))))
    return Scene("stripes-blobs", size, render, spectral=False)


def benchmark_scenes(size: int, quick: bool = False) -> list[Scene]:
    scenes = [orientation(size, 60), orientation(size, 90), scale(size, 4, 12)]
    if not quick:
        scenes += [blobs(size, 5, 10), stripes_to_blobs(size), orientation(size, 60, colour=True)]
    return scenes
