"""The turn and zoom between two images of one texture, robust to photographs.

Photographs defeat a plain Fourier-Mellin estimate (`geometry.paths.textures.estimate_similarity`): their
borders put a cross on the spectrum's axes (a turn of 0), one periodogram is noisy, and their roughly 1/f
power falls alike at every zoom: grass and gravel zoomed x2 and x3 were found as x1.0. Here
(:func:`detect_similarity`), candidates come from two cheap curves and deep features decide between them:

* turns: Welch spectra: Hann-windowed tiles of several working sizes (the whole image, and half-size tiles
  overlapping by half), their powers averaged, on one log-polar grid in absolute frequency (BINS_PER_OCTAVE
  radial bins from 2 cycles per tile to HIGH cycles per pixel, ANGLES angle bins over pi), whitened (log power
  less its mean over angle at each radius: the fall with frequency removed) and matched by circular
  correlation over angle: the ANGLE_CANDIDATES highest peaks, and no turn;
* zooms: one image shrunk by each factor 2^(k / ZOOM_STEPS) up to MAX_SCALE and its VGG channel statistics
  (`geometry.paths.features.channel_statistics`) compared with the other's: the ZOOM_CANDIDATES lowest local
  minima, and no zoom;
* each (turn, zoom) pair is judged by `matched_distance`: a turned and zoomed, within its own pixels, against b,
  both resampled alike; where the best pair has no zoom, its turn candidates are judged again by `turn_distance`
  (crops of one side, both images resampled at every candidate: no turn is not the unresampled whole crop), a turn
  taken over no turn only where it explains the pair clearly better (TURN_MARGIN); the zoom is refined on
  `tiled_distance` (the same, with the enlarged side read as tiles of the other's size: a parabola through it
  there and a zoom step either side). Its confidence is the share of the `matched_distance` between a and b that
  the turn and zoom explain (0: none, 1: all).

A turn that leaves the statistics as they are (nearly isotropic textures: gravel, grass) is found as no turn
unless the spectra of independent halves of the crops agree on one (:func:`seen_turn`, `Detection.agreement`):
where fewer than SEEN agree, no turn can be seen. :func:`stationarity` says whether an image is a texture at
all (the same statistics everywhere): ``motion="auto"`` takes the texture path for stationary pairs with a
confident turn or zoom, and the texture-change start for stationary pairs that neither a turn nor a zoom nor a
flow explains (`geometry.paths.motion.auto_start`). benchmarks/bench_texture.py --parts photos measures the
turns and zooms found on photographed textures.
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
TILE_FRACTIONS, MIN_TILE, MIN_OVERLAP = (1.0, 0.5, 0.25), 16, 6
#: Zoom curve: factors 2^(k / ZOOM_STEPS) up to MAX_SCALE, compared at up to WORK_SIDE px.
ZOOM_STEPS, MAX_SCALE, WORK_SIDE = 8, 4.0, 128
#: Candidates judged by deep features (besides no turn and no zoom), at up to VERIFY_SIDE px.
ZOOM_CANDIDATES, ANGLE_CANDIDATES, VERIFY_SIDE = 3, 2, 64
#: The zoom found is refined on `tiled_distance`, whose enlarged side is read as up to TILES x TILES tiles
#: (benchmarks/results/bench_texture_photos_zoom_probe2.txt: against the refinement on the zoom curve).
TILES = 3
#: A spectral turn is seen where at least SEEN of the four half-image pairs (left, right, top, bottom halves of
#: both) put their own peak within AGREE degrees of it. Measured: on 17 random unaligned crop pairs per photo and
#: size the turns seen by 3 or more were right (within 10 degrees) 34/34 brick, 1/1 and 4/4 grass at 64 and 128
#: px, 0/0 and 8/8 gravel (by 2 or more: 3/3, 7/7, 0/2, 14/15), where the plain peak was right 6/17 grass and
#: 8/17 gravel at 64 px (chance: 2/17), 9/17 and 15/17 at 128 px; on pairs of isotropic noise (no turn to see)
#: 3 or more saw a turn other than none in 1 and 2 of 20 pairs at 64 and 128 px, 2 or more in 5 and 3 of 20
#: (benchmarks/results/bench_texture_photos_detection.txt, docs/textures.md).
SEEN, AGREE = 3, 10.0
#: Where the pair found has no zoom, its turn is judged again by `turn_distance` (both images turned by
#: TURN_OFFSET, plus and minus half the turn): a turn is taken where its distance is below TURN_MARGIN times no
#: turn's. Measured at 64 and 128 px (benchmarks/results/texture_turn_judge_variants.txt): gravel's turns at
#: 128 px 0.54-0.66 of no turn's, the wrong turns that the judge without a margin takes on grass and gravel zooms
#: 0.88-0.97; on random crop pairs with no turn the margin takes a wrong turn 0-3 times in 12 (without it 3-7 for
#: grass, and gravel at 64 px).
TURN_OFFSET, TURN_MARGIN = math.radians(22.5), 0.8
#: An image whose quarters' feature statistics differ by at most this (mean `statistics_distance`) is stationary:
#: measured 0.05-0.46 on the procedural and photographed textures at 64 and 128 px, 0.28-0.64 on the cat and dog
#: photos (benchmarks/results/bench_texture_photos_*.txt).
STATIONARY = 0.5
#: A detection is trusted (`confident`) where its turn and zoom explain at least CONFIDENT of the statistics
#: distance between the endpoints and leave at most LEFT_AT_MOST: measured at 64 and 128 px on photographed
#: textures' turns and zooms 0.22-0.95 explained (the x1.5 grass zooms 0.22-0.23: they take the texture change)
#: and 0.04-0.33 left, on changes between two photographed textures 0.04-0.39 explained and 0.22-1.03 left
#: (benchmarks/results/bench_texture_photos_detection.txt), on the procedural turns and zooms 0.82-0.96
#: explained and 0.07-0.18 left, on a brick wall against coarse noise 0.56 explained but 0.61 left.
CONFIDENT, LEFT_AT_MOST = 0.3, 0.4


class Detection(NamedTuple):
    angle: float             # radians in (-pi/2, pi/2]: b's texture is a's turned by this
    scale: float             # b's texture is a's enlarged by this
    angle_confidence: float  # correlation of the whitened angular profiles at the turn, less at no turn
    confidence: float        # 1 - matched_distance at the turn and zoom / at none: the share they explain
    distance: float          # matched_distance at the turn and zoom (0: the same texture up to them)
    agreement: int           # half-image pairs (of 4) whose spectral turn agrees (`seen_turn`); < SEEN: unseen


def confident(found: Detection) -> bool:
    """Whether the turn and zoom found explain enough of the endpoints' difference (CONFIDENT) and leave little
    (LEFT_AT_MOST): the endpoints are then one texture turned and zoomed."""
    return found.confidence >= CONFIDENT and found.distance <= LEFT_AT_MOST


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
    if abs(shift) >= n:   # no radius overlaps
        return profile_a[:0], profile_b[:0]
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
        whole_a, whole_b = channel_statistics(a), channel_statistics(b)  # each side's unshrunk statistics, once
        for factor in factors.tolist():
            x, y = (whole_a, channel_statistics(_shrink(b, factor))) if factor >= 1 else (
                channel_statistics(_shrink(a, 1 / factor)), whole_b)
            distances.append(float(statistics_distance(x, y)))
    return factors, torch.tensor(distances, dtype=torch.float64)


def _turned_crop(image: torch.Tensor, angle: float, scale: float, side: int | None = None) -> torch.Tensor:
    """The largest square of the image (N, 3, H, W) turned by `angle` about its centre and enlarged by `scale`
    (>= 1) that holds only the image's own pixels (no border, no wrap-around), or the centred square of `side`
    px: bicubic samples, in [0, 1]."""
    height, width = image.shape[-2:]
    cos, sin = math.cos(angle), math.sin(angle)
    if side is None:
        side = max(MIN_TILE, int(min(height, width) * scale / (abs(cos) + abs(sin))))
    coords = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) / scale
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    grid = torch.stack([(cos * xx + sin * yy) / ((width - 1) / 2), (-sin * xx + cos * yy) / ((height - 1) / 2)], -1)
    sampled = F.grid_sample(image.float(), grid.unsqueeze(0).float().expand(len(image), -1, -1, -1), mode="bicubic",
                            padding_mode="reflection", align_corners=True)
    return sampled.clamp(0, 1)


def _band_limited(image: torch.Tensor, scale: float) -> torch.Tensor:
    """The image with the detail an enlargement by `scale` (>= 1) cannot hold removed: shrunk by it (antialiased)
    and enlarged back."""
    if scale <= 1.0:
        return image.float()
    return F.interpolate(_shrink(image.float(), scale), size=image.shape[-2:], mode="bicubic",
                         align_corners=False).clamp(0, 1)


def _matched_crops(a: torch.Tensor, b: torch.Tensor, angle: float, scale: float, offset: float = 0.0,
                   side: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """a turned by `angle` and enlarged by `scale` against b, both treated alike: the smaller of the two is
    enlarged (bicubic, within its own pixels) and the other band-limited to the same detail, and each is turned
    half the way (one interpolation each), both turned by `offset` besides. Crops: the largest that hold only
    the images' own pixels, or squares of `side` px (the enlarged one `side` x the zoom)."""
    source, reference, turn, factor = (a, b, angle, scale) if scale >= 1 else (b, a, -angle, 1 / scale)
    sides = (None, None) if side is None else (max(MIN_TILE, int(side * factor)), max(MIN_TILE, int(side)))
    first = _turned_crop(source, offset + turn / 2, factor, sides[0])
    second = _turned_crop(_band_limited(reference, factor), offset - turn / 2, 1.0, sides[1])
    return first, second


def _statistics_apart(first: torch.Tensor, second: torch.Tensor) -> float:
    with torch.no_grad():
        return float(statistics_distance(channel_statistics(first), channel_statistics(second)))


def matched_distance(a: torch.Tensor, b: torch.Tensor, angle: float, scale: float) -> float:
    """The VGG channel statistics distance (`statistics_distance`) between a turned by `angle` and enlarged by
    `scale` and b, both treated alike (`_matched_crops`), so that resampling favours no candidate turn."""
    return _statistics_apart(*_matched_crops(a, b, angle, scale))


def turn_distance(a: torch.Tensor, b: torch.Tensor, angle: float, scale: float) -> float:
    """`matched_distance` with every turn treated alike: crops of one side (the 45-degree turn's, which holds
    only the images' own pixels at any turn), a turned by TURN_OFFSET + angle / 2 and b by TURN_OFFSET - angle / 2,
    so that no candidate turn (no turn included) is the unresampled grid or a larger crop."""
    return _statistics_apart(*_matched_crops(a, b, angle, scale, TURN_OFFSET, min(a.shape[-2:]) / math.sqrt(2)))


def tiled_distance(a: torch.Tensor, b: torch.Tensor, angle: float, scale: float) -> float:
    """`matched_distance` with the enlarged side read as tiles of the other's size (up to TILES per axis, spread
    over it, their statistics averaged): both sides' statistics then come from images of one size, whose borders
    weigh alike at every zoom."""
    first, second = _matched_crops(a, b, angle, scale)
    side, count = second.shape[-1], min(TILES, math.ceil(first.shape[-1] / second.shape[-1]))
    places = torch.linspace(0, first.shape[-1] - side, count).round().long().tolist()
    tiles = torch.cat([first[..., i:i + side, j:j + side] for i in places for j in places])
    with torch.no_grad():
        mean = [layer.mean(0, keepdim=True) for layer in channel_statistics(tiles)]
        return float(statistics_distance(mean, channel_statistics(second)))


def _judged_scale(a: torch.Tensor, b: torch.Tensor, angle: float, scale: float) -> float:
    """`scale` moved to the vertex of the parabola through `tiled_distance` there and a zoom step either side."""
    step = 2.0 ** (1 / ZOOM_STEPS)
    values = [tiled_distance(a, b, angle, scale * step ** k) for k in (-1, 0, 1)]
    return scale * step ** _parabolic_peak(*(-v for v in values))


def _local_extrema(values: torch.Tensor, count: int, circular: bool) -> list[int]:
    """Indices of the `count` largest local maxima of values (ties kept; circular: the ends are neighbours)."""
    n = len(values)
    def neighbour(i: int) -> float:
        return float(values[i % n]) if circular or 0 <= i < n else -math.inf
    peaks = [i for i in range(n) if values[i] >= neighbour(i - 1) and values[i] >= neighbour(i + 1)]
    return sorted(peaks, key=lambda i: -float(values[i]))[:count]


def _wrapped(angle: float) -> float:
    angle = math.remainder(angle, math.pi)
    return math.pi / 2 if angle == -math.pi / 2 else angle


def _peak(curve: torch.Tensor) -> float:
    return _wrapped(math.pi * int(curve.argmax()) / ANGLES)


def seen_turn(a: torch.Tensor, b: torch.Tensor, scale: float) -> tuple[float, int]:
    """The spectral turn (`_angle_curve`'s peak) and how many of the four half-image pairs (the left halves of a
    and b, the right, the top, the bottom: independent samples of the texture) find their peak within AGREE
    degrees of it: a turn that independent parts of the crops agree on is seen (SEEN), one they do not is noise."""
    turn = _peak(_angle_curve(a, b, scale))
    h, w = (side // 2 for side in a.shape[-2:])
    halves = [(..., slice(None), slice(None, w)), (..., slice(None), slice(w, None)),
              (..., slice(None, h), slice(None)), (..., slice(h, None), slice(None))]
    agreement = sum(abs(math.degrees(math.remainder(_peak(_angle_curve(a[part], b[part], scale)) - turn, math.pi)))
                    <= AGREE for part in halves)
    return turn, agreement


def detect_similarity(a: torch.Tensor, b: torch.Tensor) -> Detection:
    """The turn and zoom that take a's texture to b's ((1, 3, H, W) images of one size, 16 px or more), with
    confidences (module docstring)."""
    if a.shape != b.shape or a.dim() != 4 or a.shape[:2] != (1, 3) or min(a.shape[-2:]) < MIN_TILE:
        raise ValueError(f"detection needs two (1, 3, H, W) images of one size, {MIN_TILE} px or more; got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    a, b = (x.detach().float().cpu() for x in (a, b))
    factors, distances = zoom_curve(a, b)
    scales = {1.0} | {float(factors[i]) for i in _local_extrema(-distances, ZOOM_CANDIDATES, circular=False)}
    small_a, small_b = a, b
    if min(a.shape[-2:]) > VERIFY_SIDE:
        small_a, small_b = (_shrink(x, min(x.shape[-2:]) / VERIFY_SIDE) for x in (a, b))
    candidates = []
    for scale in sorted(scales):
        curve = _angle_curve(a, b, scale)
        for column in {0, *_local_extrema(curve, ANGLE_CANDIDATES, circular=True)}:
            angle = _wrapped(math.pi * column / ANGLES)
            candidates.append((matched_distance(small_a, small_b, angle, scale), angle, scale,
                               float(curve[column] - curve[0])))
    distance, angle, scale, angle_confidence = min(candidates)
    if scale == 1.0:
        # without a zoom matched_distance's no-turn candidate is the whole unresampled crop, which a turn's smaller
        # resampled crops rarely beat on nearly isotropic textures: the turn candidates are judged again by
        # turn_distance, where a turn must explain the pair clearly better than no turn (TURN_MARGIN). At a zoom
        # both sides are resampled already, and turn_distance took wrong turns there (blobs 5-10: 90 degrees)
        turns = [candidate for candidate in candidates if candidate[2] == scale]
        distance, angle, scale, angle_confidence = min(turns, key=lambda candidate: turn_distance(
            small_a, small_b, candidate[1], scale) * (TURN_MARGIN if candidate[1] == 0.0 else 1.0))
    turn, agreement = seen_turn(a, b, scale)
    if agreement >= SEEN and abs(math.degrees(math.remainder(turn - angle, math.pi))) > AGREE:
        # the deep statistics of nearly isotropic textures (grass, gravel) barely change under a turn: where
        # they pick a turn that the spectra of independent halves contradict, the seen spectral turn is taken
        curve = _angle_curve(a, b, scale)
        angle, angle_confidence = turn, float(curve.max() - curve[0])
        distance = matched_distance(small_a, small_b, angle, scale)
    scale = _judged_scale(small_a, small_b, angle, scale)
    confidence = 1.0 - distance / max(matched_distance(small_a, small_b, 0.0, 1.0), 1e-12)
    return Detection(angle, scale, angle_confidence, confidence, distance, agreement)
