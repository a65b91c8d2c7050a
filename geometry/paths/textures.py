"""Texture morphs as start paths: the endpoints rotated and scaled towards each other, one texture in every frame.

Two textures that differ by an orientation or a scale (band-pass noise turned by 60 degrees, blobs of twice
the size) are not morphed by a cross-dissolve: its middle frame is a plaid of both, with less contrast. Their
power spectra differ by a rotation and a scaling of the frequency plane, which in log-polar coordinates
(log frequency, angle) are shifts (Fourier-Mellin). :func:`estimate_similarity` finds the shift by circular
cross-correlation of the two log-polar amplitude spectra; :func:`texture_path` then makes each frame at time
t from one endpoint turned and scaled the fraction of the way that is left to it: before the middle a by t of
the change, after it b by 1 - t of it back, so that every frame shows the in-between orientation and scale.

Why one endpoint and not a blend of both: two crops of a photographed texture are two layouts of it, and their
blend holds both (two brick walls' mortar grids at one angle: its deep feature statistics are those of two
textures overlaid, docs/textures.md), however its contrast is restored. So the path is a turn and zoom of a's
picture, then of b's, their layouts handed over at the middle; at the middle itself the endpoint that is
enlarged rather than shrunk (a shrunk tile shows its own repeats). Given a distance, the frames are placed at
equal steps of the path's length under it (`arc_length_parameters`). :func:`is_texture_morph` says when a pair
calls for this path rather than a motion path.

Warps treat the image as a tile (coordinates wrap around): procedural and tileable textures are periodic,
and reflecting at the border would mirror an orientation into its opposite. A photo's crop is not periodic (its
left border unlike its right): its periodic component is warped as a tile and the smooth rest with its border
reflected (`seamless_warp`), so the tiles meet without a step of brightness. Images are warped at twice the
size (exact Fourier upsampling) and brought back by cropping the spectrum, so the resampling neither blurs
nor aliases the frequencies that matter. docs/textures.md gives the measurements and the limits.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import torch
import torch.nn.functional as F

from elpips.errors import InputError
from geometry.engine.inputs import resize
from geometry.paths.quality import LUMA, gaussian_blur
from geometry.paths.spacing import consecutive_distances, cumulative_length, parameters_at

#: Log-polar grid of the spectra: angle bins over [0, pi), log-frequency bins from 2 cycles per image to Nyquist.
ANGLES, RADII = 180, 48
#: An angular correlation profile flatter than this (relative max - min) means isotropic: no rotation.
ISOTROPY = 0.15
#: Scale changes beyond this factor are not searched.
MAX_SCALE = 4.0
#: The least turn (degrees) or scaling that `is_texture_morph` takes for a texture change.
MIN_TURN, MIN_SCALE = 10.0, 1.25
#: Images with a shorter side hold too few frequencies to tell a texture's orientation or scale.
MIN_TEXTURE_SIDE = 16
#: Spectrum smoothing (frequency bins) of the log-polar spectra.
SMOOTH = 1.5
#: Warps resample at this multiple of the size.
UPSAMPLE = 2
#: Spacing frames by length: measured at up to this many px, on this many draws, a grid of FINE points per
#: frame step, and correction rounds (as `geometry.paths.spacing`, whose estimator this reuses).
MEASURE_SIDE, DRAWS, FINE, ROUNDS = 64, 16, 4, 6


class Similarity(NamedTuple):
    angle: float   # radians: b's texture is a's turned by this angle (in (-pi/2, pi/2])
    scale: float   # b's texture is a's enlarged by this factor


def _gray(images: torch.Tensor) -> torch.Tensor:
    luma = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    gray = (images * luma).sum(1)
    return gray - gray.mean((-2, -1), keepdim=True)


def log_polar_spectrum(image: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The amplitude spectrum of the grayscale image (1, 3, H, W), smoothed by SMOOTH bins, on a (RADII, ANGLES)
    log-polar grid, and the grid's log-frequency step."""
    height, width = image.shape[-2:]
    amplitude = torch.fft.fftshift(torch.fft.fft2(_gray(image.double())).abs(), dim=(-2, -1))
    amplitude = gaussian_blur(amplitude.unsqueeze(1), SMOOTH).squeeze(1)
    low, high = math.log(2.0 / min(height, width)), math.log(0.5)
    step = (high - low) / (RADII - 1)
    radius = torch.exp(low + step * torch.arange(RADII, dtype=torch.float64))
    angle = math.pi * torch.arange(ANGLES, dtype=torch.float64) / ANGLES
    fy, fx = radius[:, None] * torch.sin(angle)[None], radius[:, None] * torch.cos(angle)[None]
    grid_x = (2 * (fx * width + width // 2) + 1) / width - 1
    grid_y = (2 * (fy * height + height // 2) + 1) / height - 1
    grid = torch.stack([grid_x, grid_y], -1).unsqueeze(0)
    sampled = F.grid_sample(amplitude.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return sampled[0, 0], step


def _parabolic_peak(left: float, centre: float, right: float) -> float:
    denominator = left - 2 * centre + right
    return 0.0 if denominator >= 0 else 0.5 * (left - right) / denominator


def estimate_similarity(a: torch.Tensor, b: torch.Tensor) -> Similarity:
    """The rotation and scaling that take a's power spectrum to b's (Fourier-Mellin: the peak of the log-polar
    spectra's cross-correlation, circular in angle, zero-padded in log-frequency). An isotropic pair (an
    angular correlation profile flatter than ISOTROPY) gets angle 0."""
    spectrum_a, step = log_polar_spectrum(a.detach().cpu())
    spectrum_b, _ = log_polar_spectrum(b.detach().cpu())
    padded = [F.pad(s - s.mean(), (0, 0, 0, RADII)) for s in (spectrum_a, spectrum_b)]
    correlation = torch.fft.ifft2(torch.fft.fft2(padded[0]).conj() * torch.fft.fft2(padded[1])).real
    reach = min(RADII - 1, int(math.log(MAX_SCALE) / step))
    shifts = torch.cat([torch.arange(0, reach + 1), torch.arange(-reach, 0)])
    rows = correlation[shifts % (2 * RADII)]
    best = int(rows.argmax())
    row, column = divmod(best, ANGLES)
    profile = rows[row]
    flat = (profile.max() - profile.min()) / profile.abs().max().clamp_min(1e-300) < ISOTROPY
    if flat:
        column = 0
    shift = shifts[row].item()
    radial = shift + _parabolic_peak(correlation[(shift - 1) % (2 * RADII), column].item(), profile[column].item(),
                                     correlation[(shift + 1) % (2 * RADII), column].item())
    angular = 0.0 if flat else column + _parabolic_peak(
        profile[(column - 1) % ANGLES].item(), profile[column].item(), profile[(column + 1) % ANGLES].item())
    angle = math.pi * angular / ANGLES
    angle = angle - math.pi if angle > math.pi / 2 else angle
    return Similarity(angle, math.exp(-radial * step))


def is_texture_morph(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether the endpoints' spectra differ by a turn of at least MIN_TURN or a scaling of at least MIN_SCALE
    (`estimate_similarity`): a change that `texture_path` makes and a cross-dissolve turns into a plaid. Pans,
    zooms of a few tens of percent and moving objects keep the spectrum: those are the motion paths' case.
    Images under MIN_TEXTURE_SIDE px are not."""
    if min(a.shape[-2:]) < MIN_TEXTURE_SIDE:
        return False
    similarity = estimate_similarity(a, b)
    return abs(similarity.angle) >= math.radians(MIN_TURN) or abs(math.log(similarity.scale)) >= math.log(MIN_SCALE)


def fourier_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Periodic images (N, C, H, W) resampled to `size` by padding or cropping their centred spectrum (exact
    band-limited interpolation of a tile)."""
    height, width = images.shape[-2:]
    new_h, new_w = size
    spectrum = torch.fft.fftshift(torch.fft.fft2(images.double()), dim=(-2, -1))
    out = torch.zeros(images.shape[:-2] + (new_h, new_w), dtype=spectrum.dtype, device=images.device)
    keep_h, keep_w = min(height, new_h), min(width, new_w)
    src_y, src_x = height // 2 - keep_h // 2, width // 2 - keep_w // 2
    dst_y, dst_x = new_h // 2 - keep_h // 2, new_w // 2 - keep_w // 2
    out[..., dst_y:dst_y + keep_h, dst_x:dst_x + keep_w] = spectrum[..., src_y:src_y + keep_h, src_x:src_x + keep_w]
    result = torch.fft.ifft2(torch.fft.ifftshift(out, dim=(-2, -1))).real * (new_h * new_w / (height * width))
    return result.to(images.dtype)


def _wrapped_bilinear(images: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """images (N, C, H, W) sampled at real pixel coordinates (N, H, W) with wrap-around."""
    height, width = images.shape[-2:]
    y0, x0 = y.floor(), x.floor()
    wy, wx = (y - y0).unsqueeze(1), (x - x0).unsqueeze(1)
    y0, x0 = y0.long() % height, x0.long() % width
    y1, x1 = (y0 + 1) % height, (x0 + 1) % width
    flat = images.flatten(-2)
    def pick(yy, xx):
        return flat.gather(-1, (yy * width + xx).flatten(-2).unsqueeze(1).expand(-1, images.shape[1], -1)).view_as(
            images)
    return ((1 - wy) * ((1 - wx) * pick(y0, x0) + wx * pick(y0, x1))
            + wy * ((1 - wx) * pick(y1, x0) + wx * pick(y1, x1)))


def _source_coordinates(height: int, width: int, angles: torch.Tensor, scales: torch.Tensor, dtype: torch.dtype,
                        device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, H, W) twice: the pixel coordinates (y, x) each output pixel of an image turned by angles[n] and enlarged
    by scales[n] about its centre samples."""
    yy, xx = torch.meshgrid(torch.arange(height, dtype=dtype, device=device) - (height - 1) / 2,
                            torch.arange(width, dtype=dtype, device=device) - (width - 1) / 2, indexing="ij")
    cos = (torch.cos(angles) / scales).to(device, dtype).view(-1, 1, 1)
    sin = (torch.sin(angles) / scales).to(device, dtype).view(-1, 1, 1)
    return -sin * xx + cos * yy + (height - 1) / 2, cos * xx + sin * yy + (width - 1) / 2


def similarity_warp(images: torch.Tensor, angles: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Each image (N, C, H, W) turned by angles[n] (radians) and enlarged by scales[n] about its centre, as a
    tile (wrap-around), resampled at UPSAMPLE times the size."""
    height, width = images.shape[-2:]
    big = fourier_resize(images, (UPSAMPLE * height, UPSAMPLE * width))
    source_y, source_x = _source_coordinates(*big.shape[-2:], angles, scales, big.dtype, big.device)
    return fourier_resize(_wrapped_bilinear(big, source_y, source_x), (height, width))


def periodic_component(images: torch.Tensor) -> torch.Tensor:
    """The periodic component of images (N, C, H, W) (Moisan's periodic plus smooth decomposition): the image
    less the smooth image whose discrete Laplacian is the jumps across its opposite borders. Tiled, it shows no
    step where one border meets the other."""
    height, width = images.shape[-2:]
    jumps = torch.zeros_like(images)
    jumps[..., 0, :] += images[..., -1, :] - images[..., 0, :]
    jumps[..., -1, :] += images[..., 0, :] - images[..., -1, :]
    jumps[..., :, 0] += images[..., :, -1] - images[..., :, 0]
    jumps[..., :, -1] += images[..., :, 0] - images[..., :, -1]
    q = torch.arange(height, dtype=images.dtype, device=images.device)
    r = torch.arange(width, dtype=images.dtype, device=images.device)
    laplacian = 2 * torch.cos(2 * math.pi * q / height)[:, None] + 2 * torch.cos(2 * math.pi * r / width)[None] - 4
    laplacian[0, 0] = 1.0
    smooth = torch.fft.fft2(jumps) / laplacian
    smooth[..., 0, 0] = 0
    return images - torch.fft.ifft2(smooth).real


#: An image tiles (its opposite borders meet as neighbouring pixels do) where the mean step across its opposite
#: borders is at most this multiple of the mean step between neighbouring pixels: measured 0.31-1.26 on the
#: procedural textures (periodic), 1.42-3.61 on 64 and 128 px crops of the photographed ones (docs/textures.md).
TILES = 1.35


def tiles(images: torch.Tensor) -> torch.Tensor:
    """(N,) bool: whether each image (N, C, H, W) already tiles (TILES)."""
    across = ((images[..., 0] - images[..., -1]).abs().mean((-2, -1))
              + (images[..., 0, :] - images[..., -1, :]).abs().mean((-2, -1)))
    within = ((images[..., 1:] - images[..., :-1]).abs().mean((-3, -2, -1))
              + (images[..., 1:, :] - images[..., :-1, :]).abs().mean((-3, -2, -1)))
    return across <= TILES * within


def seamless_warp(images: torch.Tensor, angles: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """`similarity_warp` without the seams of a tile that is not periodic (a photo's crop: its left border
    unlike its right): the periodic component is warped as a tile, the smooth rest (no texture, so no
    orientation to mirror) with its border reflected. Images that already tile (`tiles`) are warped as they are:
    their smooth rest is no seam, and reflecting it would misplace it. The identity gives the images back, within
    resampling."""
    seams = ~tiles(images)
    if not bool(seams.any()):
        return similarity_warp(images, angles, scales)
    smooth = (images - periodic_component(images)) * seams.view(-1, 1, 1, 1)   # none where an image tiles
    height, width = images.shape[-2:]
    source_y, source_x = _source_coordinates(height, width, angles, scales, images.dtype, images.device)
    grid = torch.stack([(2 * source_x + 1) / width - 1, (2 * source_y + 1) / height - 1], -1)
    reflected = F.grid_sample(smooth, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return similarity_warp(images - smooth, angles, scales) + reflected


def _check(a: Any, b: Any, times: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    for name, image in (("a", a), ("b", b)):
        if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[:2] != (1, 3):
            raise InputError(f"{name} must be a (1, 3, H, W) tensor, got "
                             f"{tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__}")
    if a.shape != b.shape:
        raise InputError(f"a and b must have one size, got {tuple(a.shape)} and {tuple(b.shape)}: resize them first")
    if min(a.shape[-2:]) < 16:
        raise InputError(f"images of {tuple(a.shape[-2:])} px are too small for a texture path (16 px or more)")
    times = torch.as_tensor(times, dtype=torch.float64).flatten()
    if times.numel() == 0 or not bool(((times > 0) & (times < 1)).all()):
        raise InputError(f"times must be a non-empty 1-D tensor of inner times in (0, 1), got {times.tolist()}")
    return a, b, times


def warped_by(image: torch.Tensor, fractions: torch.Tensor, similarity: Similarity) -> torch.Tensor:
    """(T, 3, H, W): the image (1, 3, H, W) turned and scaled by each fraction of the change (negative: back)."""
    fractions = fractions.to(torch.float64)
    return seamless_warp(image.double().expand(len(fractions), -1, -1, -1), similarity.angle * fractions,
                         similarity.scale ** fractions)


def warped_endpoints(a: torch.Tensor, b: torch.Tensor, times: torch.Tensor,
                     similarity: Similarity) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, 3, H, W) twice: a turned and scaled by the fraction t of the change, b by 1 - t of it back."""
    return warped_by(a, times, similarity), warped_by(b, times.to(torch.float64) - 1, similarity)


def texture_frames(a: torch.Tensor, b: torch.Tensor, times: torch.Tensor, similarity: Similarity) -> torch.Tensor:
    """The frames (T, 3, H, W) at warp parameters `times`, in [0, 1]: a turned and scaled by t of the change
    before the middle, b by 1 - t of it back after it; at t = 1/2 the one of them that is enlarged (a where the
    change enlarges, else b). Each frame's contrast (the spread of its values about its mean) is brought to the
    endpoints' interpolated, (1 - t) of a's and t of b's: one crop of a photo can be duller than the other, and
    the path should not keep one crop's contrast to the middle and jump to the other's."""
    t = times.to(torch.float64).cpu()
    from_a = (t < 0.5) | ((t == 0.5) & (similarity.scale >= 1.0))
    frames = torch.empty((len(t), *a.shape[1:]), dtype=torch.float64, device=a.device)
    if bool(from_a.any()):
        frames[from_a.to(a.device)] = warped_by(a, t[from_a], similarity)
    if not bool(from_a.all()):
        frames[~from_a.to(a.device)] = warped_by(b, t[~from_a] - 1, similarity)
    weight = t.to(a.device).view(-1, 1, 1, 1)
    target = (1 - weight) * _spread(a.double()) + weight * _spread(b.double())
    mean = frames.mean((-2, -1), keepdim=True)
    frames = mean + (frames - mean) * target / _spread(frames).clamp_min(1e-12)
    return frames.clamp(0, 1).to(a.dtype)


def _spread(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, 1, 1): the RMS of each image's values about its channels' means."""
    return (images - images.mean((-2, -1), keepdim=True)).square().mean((-3, -2, -1), keepdim=True).sqrt()


def texture_path(a: torch.Tensor, b: torch.Tensor, times: torch.Tensor, *, metric: Any = None,
                 generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
    """The in-between frames (T, 3, H, W) in [0, 1], on a's device, of a texture morph from a to b ((1, 3, H, W)
    in [0, 1]) at the inner `times` (float64 (T,) in (0, 1)): both endpoints turned and scaled towards time t
    (`estimate_similarity`), a's picture before the middle and b's after it (`texture_frames`).

    Without `metric`, t is the warp's parameter. With one (a distance with sample_draws/embed/
    embedding_distance, as `geometry.paths.spacing` takes), t is the fraction of the path's length under it, measured
    at up to MEASURE_SIDE px on DRAWS draws from `generator` (default seeded 0): equal steps of t give equally
    far frames, so pass k / (frames - 1) for an even start. `device`: where the work is done (default a's)."""
    a, b, times = _check(a, b, times)
    work = torch.device(device) if device is not None else a.device
    a_work, b_work = a.to(work).double(), b.to(work).double()
    similarity = estimate_similarity(a, b)
    if metric is not None:
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        times = arc_length_parameters(lambda s: texture_frames(a_work, b_work, s, similarity), a_work, b_work,
                                      times, metric, generator)
    return texture_frames(a_work, b_work, times.to(work), similarity).to(a.device, a.dtype)


def arc_length_parameters(render: Callable[[torch.Tensor], torch.Tensor], a: torch.Tensor, b: torch.Tensor,
                          fractions: torch.Tensor, metric: Any, generator: torch.Generator) -> torch.Tensor:
    """The parameters s at which the path `render` (s (T,) -> frames) from a to b has covered `fractions` of its
    length under `metric`: d(s, s + h) ~ h^p is measured on a fine grid (p from distances over one and two
    grid steps, as `geometry.paths.spacing` does for the dissolve), then ROUNDS corrections from the chosen frames'
    own consecutive distances, with p measured over one and two frame steps (a path of unrelated content
    saturates: p is smaller there), each going half the way: the layouts' handover at the middle is a jump that
    no narrowing of its segment shortens, and full corrections overshoot around it (docs/textures.md).
    float64 CPU (T,)."""
    side = min(a.shape[-2:])
    size = tuple(max(1, round(n * min(1.0, MEASURE_SIDE / side))) for n in a.shape[-2:])
    draws = [metric.sample_draws(1, generator) for _ in range(DRAWS)]
    def frames_at(inner: torch.Tensor) -> torch.Tensor:
        return resize(torch.cat([a, render(inner.to(a.device)), b]).float(), size)
    grid = torch.linspace(0, 1, FINE * (len(fractions) + 1) + 1, dtype=torch.float64)
    one_step, two_steps, frame_step, two_frame_steps = consecutive_distances(
        metric, frames_at(grid[1:-1]), draws, lags=(1, 2, FINE, 2 * FINE))
    fine = float(torch.log2(two_steps / (one_step[:-1] * one_step[1:]).sqrt()).median().clamp(0.5, 2.0))
    coarse = float(torch.log2(two_frame_steps / (frame_step[:-FINE] * frame_step[FINE:]).sqrt()).median()
                   .clamp(0.5, 2.0))
    ends = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    targets = torch.cat([ends[0], fractions.sort().values, ends[1]])
    params = _at_fractions(grid, one_step, fine, targets)
    for _ in range(ROUNDS):
        (measured,) = consecutive_distances(metric, frames_at(params[1:-1]), draws, lags=(1,))
        params = 0.5 * (params + _at_fractions(params, measured, coarse, targets))
    order = fractions.argsort().argsort()
    return params[1:-1][order]


def texture_path_evaluations(count: int) -> int:
    """Network evaluations (forward only, one image under one draw, at up to MEASURE_SIDE px) of texture_path
    with a metric, for `count` frames; none without one."""
    return DRAWS * (FINE * (count + 1) + 1 + ROUNDS * (count + 2))


def _at_fractions(knots: torch.Tensor, distances: torch.Tensor, exponent: float,
                  fractions: torch.Tensor) -> torch.Tensor:
    """The parameters at `fractions` of the length L = cumulative distances^(1/exponent) along `knots`
    (piecewise linear between them); 0 and 1 stay."""
    length = cumulative_length(distances, exponent)
    return parameters_at(knots, length, fractions * length[-1])
