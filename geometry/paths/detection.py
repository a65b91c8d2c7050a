"""The turn and zoom between two images of one texture, robust to photographs.

Photographs defeat a plain Fourier-Mellin estimate (`geometry.paths.textures.estimate_similarity`): their
borders put a cross on the spectrum's axes (a turn of 0), one periodogram is noisy, and their roughly 1/f
power falls alike at every zoom: grass and gravel zoomed x2 and x3 were found as x1.0. Here
(:func:`detect_similarity`):

* the turn comes from Welch spectra: Hann-windowed tiles of several working sizes (the whole image, and
  half-size tiles overlapping by half), their powers averaged, on one log-polar grid in absolute frequency
  (BINS_PER_OCTAVE radial bins from 2 cycles per tile to HIGH cycles per pixel, ANGLES angle bins over pi),
  whitened (log power less its mean over angle at each radius: the fall with frequency removed) and matched
  by circular correlation over angle; its confidence is the correlation at the turn less that at no turn;
* the zoom comes from deep features, whose statistics depend on scale where the spectrum barely does: one
  image is shrunk by each candidate factor 2^(k / ZOOM_STEPS) up to MAX_SCALE (several working sizes) and the
  VGG channel statistics (`geometry.paths.features.channel_statistics`) compared with the other's; the zoom
  minimises their distance, and its confidence is 1 - that distance over the distance at no zoom.

:func:`stationarity` says whether an image is a texture at all (the same statistics everywhere): ``motion="auto"``
takes the texture-change start for a pair of stationary images that no flow explains
(`geometry.paths.motion.auto_start`). benchmarks/bench_texture.py --parts photos measures the turns and zooms
found on photographed textures.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from geometry.paths.features import channel_statistics, statistics_distance
from geometry.paths.quality import LUMA

#: Radial resolution, highest frequency (cycles per pixel) and angle bins of the log-polar spectra.
BINS_PER_OCTAVE, HIGH, ANGLES = 8, 0.42, 90
#: Working tile sizes as fractions of the short side (each at least MIN_TILE px); radial shifts need MIN_OVERLAP.
TILE_FRACTIONS, MIN_TILE, MIN_OVERLAP = (1.0, 0.5), 16, 6
#: Zoom candidates: factors 2^(k / ZOOM_STEPS) up to MAX_SCALE, compared at up to WORK_SIDE px.
ZOOM_STEPS, MAX_SCALE, WORK_SIDE = 8, 4.0, 128
#: An image whose quarters' feature statistics differ by at most this (mean `statistics_distance`) is stationary:
#: measured 0.05-0.46 on the procedural and photographed textures at 64 and 128 px, 0.28-0.64 on the cat and dog
#: photos (benchmarks/results/bench_texture_photos_*.txt).
STATIONARY = 0.5
#: A turn and zoom explain a pair when a turned and zoomed by them leaves at most this share of the feature
#: statistics distance to b: measured 0.02-0.30 on turns and zooms of one texture, 0.59-0.79 on two textures
#: whose spectra only seem to differ by one (stripes into blobs, a brick wall into coarse noise).
SIMILARITY_LEFT = 0.5


class Detection(NamedTuple):
    angle: float             # radians in (-pi/2, pi/2]: b's texture is a's turned by this
    scale: float             # b's texture is a's enlarged by this
    angle_confidence: float  # correlation of the whitened angular profiles at the turn, less at no turn
    scale_confidence: float  # 1 - feature-statistics distance at the zoom / at no zoom
    distance: float          # the feature-statistics distance at the zoom (0: the same texture up to a zoom)


def stationarity(image: torch.Tensor) -> float:
    """The mean `statistics_distance` between the VGG channel statistics of the image's four quarters
    ((1, 3, H, W), 32 px or more): small where the image is one texture throughout (STATIONARY)."""
    height, width = (side // 2 for side in image.shape[-2:])
    quarters = torch.cat([image[..., i * height:(i + 1) * height, j * width:(j + 1) * width]
                          for i in range(2) for j in range(2)]).detach().float().cpu()
    with torch.no_grad():
        statistics = channel_statistics(quarters)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    return sum(float(statistics_distance([s[i:i + 1] for s in statistics], [s[j:j + 1] for s in statistics]))
               for i, j in pairs) / len(pairs)


def similarity_share_left(a: torch.Tensor, b: torch.Tensor, angle: float, scale: float) -> float:
    """The feature statistics distance between a turned by `angle` and enlarged by `scale` (as a tile,
    `geometry.paths.textures.similarity_warp`) and b, over the distance between a and b: small where the turn and
    zoom are the whole change (one texture), near 1 where the textures differ otherwise."""
    from geometry.paths.textures import similarity_warp

    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    turned = similarity_warp(a, torch.tensor([angle], dtype=torch.float64), torch.tensor([scale], dtype=torch.float64))
    with torch.no_grad():
        statistics = channel_statistics(torch.cat([turned.clamp(0, 1), a, b]).float())
    first, second, third = ([s[i:i + 1] for s in statistics] for i in range(3))
    return float(statistics_distance(first, third) / statistics_distance(second, third).clamp_min(1e-12))


def _gray(image: torch.Tensor) -> torch.Tensor:
    luma = torch.tensor(LUMA, dtype=torch.float64).view(1, 3, 1, 1)
    return (image.detach().double().cpu() * luma).sum(1)[0]


def _welch_power(gray: torch.Tensor, tile: int) -> torch.Tensor:
    """The centred power spectrum (tile, tile) averaged over Hann-windowed tiles overlapping by half."""
    stride = max(1, tile // 2)
    window = torch.outer(torch.hann_window(tile, periodic=False, dtype=torch.float64),
                         torch.hann_window(tile, periodic=False, dtype=torch.float64))
    tiles = gray.unfold(0, tile, stride).unfold(1, tile, stride).reshape(-1, tile, tile)
    tiles = tiles - tiles.mean((-2, -1), keepdim=True)
    power = torch.fft.fft2(tiles * window).abs().square().mean(0)
    return torch.fft.fftshift(power, dim=(-2, -1))


def whitened_log_polar(gray: torch.Tensor, tile: int) -> torch.Tensor:
    """The log Welch power (`_welch_power`) on the log-polar grid less its mean over angle at each radius:
    (radii, ANGLES), radius bin i at HIGH * 2^(-i / BINS_PER_OCTAVE) cycles per pixel, down to 2 per tile."""
    power = _welch_power(gray, tile)
    count = int(math.floor(BINS_PER_OCTAVE * math.log2(HIGH * tile / 2))) + 1
    radius = HIGH * 2.0 ** (-torch.arange(count, dtype=torch.float64) / BINS_PER_OCTAVE)
    angle = math.pi * torch.arange(ANGLES, dtype=torch.float64) / ANGLES
    fy, fx = radius[:, None] * torch.sin(angle)[None], radius[:, None] * torch.cos(angle)[None]
    grid = torch.stack([(2 * (fx * tile + tile // 2) + 1) / tile - 1, (2 * (fy * tile + tile // 2) + 1) / tile - 1], -1)
    sampled = F.grid_sample(power.view(1, 1, tile, tile), grid.unsqueeze(0), mode="bilinear", align_corners=False)
    log_power = sampled[0, 0].clamp_min(1e-20).log()
    return log_power - log_power.mean(1, keepdim=True)


def _tiles(side: int) -> list[int]:
    return sorted({int(side * f) for f in TILE_FRACTIONS if side * f >= MIN_TILE}, reverse=True) or [side]


def _shifted(profile_a: torch.Tensor, profile_b: torch.Tensor, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The overlapping radial bins when b's bin i matches a's bin i - shift (b = a enlarged by
    2^(shift / BINS_PER_OCTAVE): its features at lower frequencies, higher bin indices)."""
    n = len(profile_a)
    if shift >= 0:
        return profile_a[:n - shift], profile_b[shift:]
    return profile_a[-shift:], profile_b[:n + shift]


def _angle_curve(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    """Correlation of the whitened angular profiles, radii matched under `scale`, at each circular angle shift
    (ANGLES,): the working sizes' curves averaged with their overlapping radii as weights."""
    gray_a, gray_b = _gray(a), _gray(b)
    shift = round(BINS_PER_OCTAVE * math.log2(scale))
    total, weight = torch.zeros(ANGLES, dtype=torch.float64), 0.0
    for tile in _tiles(min(gray_a.shape)):
        x, y = _shifted(whitened_log_polar(gray_a, tile), whitened_log_polar(gray_b, tile), shift)
        if len(x) < MIN_OVERLAP:
            continue
        correlation = torch.fft.ifft(torch.fft.fft(x, dim=1).conj() * torch.fft.fft(y, dim=1), dim=1).real.sum(0)
        total += len(x) * correlation / (x.square().sum() * y.square().sum()).sqrt().clamp_min(1e-12)
        weight += len(x)
    return total / max(weight, 1.0)


def _parabolic_peak(left: float, centre: float, right: float) -> float:
    denominator = left - 2 * centre + right
    return 0.0 if denominator >= 0 else max(-0.5, min(0.5, 0.5 * (left - right) / denominator))


def _shrink(images: torch.Tensor, factor: float) -> torch.Tensor:
    side = max(MIN_TILE, round(images.shape[-1] / factor))
    height = max(MIN_TILE, round(images.shape[-2] / factor))
    return F.interpolate(images, size=(height, side), mode="bilinear", antialias=True, align_corners=False)


def zoom_curve(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(factors, distances): for each candidate zoom s = 2^(k / ZOOM_STEPS), |s| <= MAX_SCALE, the feature
    statistics distance between a and b shrunk by s (s >= 1) or a shrunk by 1 / s and b (s < 1)."""
    a, b = (x.detach().float().cpu() for x in (a, b))
    if min(a.shape[-2:]) > WORK_SIDE:
        a, b = (_shrink(x, min(x.shape[-2:]) / WORK_SIDE) for x in (a, b))
    reach = round(ZOOM_STEPS * math.log2(MAX_SCALE))
    factors = 2.0 ** (torch.arange(-reach, reach + 1, dtype=torch.float64) / ZOOM_STEPS)
    distances = []
    with torch.no_grad():
        for factor in factors.tolist():
            x, y = (a, _shrink(b, factor)) if factor >= 1 else (_shrink(a, 1 / factor), b)
            distances.append(float(statistics_distance(channel_statistics(x), channel_statistics(y))))
    return factors, torch.tensor(distances, dtype=torch.float64)


def detect_similarity(a: torch.Tensor, b: torch.Tensor) -> Detection:
    """The turn and zoom that take a's texture to b's ((1, 3, H, W) images of one size, 16 px or more), with
    confidences (module docstring)."""
    if a.shape != b.shape or a.dim() != 4 or a.shape[:2] != (1, 3) or min(a.shape[-2:]) < MIN_TILE:
        raise ValueError(f"detection needs two (1, 3, H, W) images of one size, {MIN_TILE} px or more; got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    factors, distances = zoom_curve(a, b)
    best, reach = int(distances.argmin()), len(factors) // 2
    offset = 0.0
    if 0 < best < len(factors) - 1:
        offset = _parabolic_peak(*(-distances[best - 1:best + 2]).tolist())
    scale = 2.0 ** ((best - reach + offset) / ZOOM_STEPS)
    scale_confidence = 1.0 - float(distances[best] / distances[reach].clamp_min(1e-12))
    curve = _angle_curve(a, b, scale)
    column = int(curve.argmax())
    angular = column + _parabolic_peak(curve[(column - 1) % ANGLES].item(), curve[column].item(),
                                       curve[(column + 1) % ANGLES].item())
    angle = math.pi * angular / ANGLES
    angle = angle - math.pi if angle > math.pi / 2 else angle
    return Detection(angle, scale, float(curve[column] - curve[0]), scale_confidence, float(distances[best]))
