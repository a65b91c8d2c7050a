"""The random transformation ensemble of E-LPIPS, split kornia-style into sampling and applying.

:func:`sample_draws` draws the parameters of ``count`` independent transformations (Kettunen
et al., 2019; docs/metric.md) from a ``torch.Generator``; :func:`apply_draws` applies given draws to any number of
images, every image getting the same transformation per draw. One draw is one E-LPIPS sample.

Applying is batched: all draws that share a scale level (and, for non-square images, a transpose
flag, since it changes the shape) are applied with two gathers whose index arrays encode the reflect
padding, random phase and offset, flips and transpose at once, then a 3x3 colour matrix per draw.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import permutations
from typing import Iterator

import torch
import torch.nn.functional as F

from .configs import TransformConfig
from .errors import InputError

_PERMUTATIONS = torch.tensor(list(permutations(range(3))))

# Flip states as the reference numbers them: 0 horizontal, 1 vertical, 2 both, 3 none.
_FLIP_HORIZONTAL = torch.tensor([True, False, True, False])
_FLIP_VERTICAL = torch.tensor([False, True, True, False])


@dataclass(frozen=True)
class Draws:
    """Parameters of ``len(self)`` random transformations (CPU tensors, one row per draw).

    ``scale``: downscaling factor s >= 1; ``phase``: (y, x) in [0, s-1], where the s x s box grid
    starts; ``offset``: (y, x) in [0, offset_max]; ``flip``: 0 horizontal, 1 vertical, 2 both,
    3 none; ``transpose``: swap H and W; ``permutation``: output channel c reads input channel
    permutation[c]; ``color``: per-channel factor applied after the permutation; ``seed``: the
    dropout mask's seed. ``identity`` marks draws of a metric without transformations.
    """

    scale: torch.Tensor
    phase: torch.Tensor
    offset: torch.Tensor
    flip: torch.Tensor
    transpose: torch.Tensor
    permutation: torch.Tensor
    color: torch.Tensor
    seed: torch.Tensor
    identity: bool = False

    def __len__(self) -> int:
        return len(self.scale)

    def __getitem__(self, index) -> "Draws":
        fields = {f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self) if f.name != "identity"}
        return Draws(**fields, identity=self.identity)

    @staticmethod
    def identities(count: int) -> "Draws":
        """``count`` draws that leave images unchanged (for metrics without transformations)."""
        return Draws(
            scale=torch.ones(count, dtype=torch.long),
            phase=torch.zeros(count, 2, dtype=torch.long),
            offset=torch.zeros(count, 2, dtype=torch.long),
            flip=torch.full((count,), 3, dtype=torch.long),
            transpose=torch.zeros(count, dtype=torch.bool),
            permutation=torch.arange(3).repeat(count, 1),
            color=torch.ones(count, 3),
            seed=torch.zeros(count, dtype=torch.long),
            identity=True,
        )

    def groups(self, square: bool) -> Iterator[torch.Tensor]:
        """Indices of draws that can be applied together: same scale, and same transpose unless ``square``."""
        key = self.scale * 2 + (0 if square else self.transpose.long())
        for value in torch.unique(key):
            yield torch.nonzero(key == value).flatten()


def _uniforms(count: int, block: int, generator: torch.Generator | None, columns: int = 1) -> torch.Tensor:
    """(count, columns) uniforms in [0, 1), Latin-hypercube stratified within consecutive blocks of ``block``.

    In a block of B, each column has exactly one value in each interval [k/B, (k+1)/B), in random order,
    independently per column; every single value is still uniform. ``block=1`` is plain i.i.d. sampling.
    """
    blocks = -(-count // block)
    strata = torch.rand(blocks, columns, block, generator=generator).argsort(dim=-1)
    jitter = torch.rand(blocks, columns, block, generator=generator, dtype=torch.float64)
    u = (strata + jitter) / block
    return u.transpose(1, 2).reshape(blocks * block, columns)[:count]


def _categorical(u: torch.Tensor, count: int) -> torch.Tensor:
    return (u * count).long().clamp_(max=count - 1)


def sample_draws(config: TransformConfig, count: int, generator: torch.Generator | None = None,
                 stratify: int = 1) -> Draws:
    """Draw ``count`` random transformations, each distributed as one E-LPIPS sample (docs/metric.md).

    ``stratify=B`` draws consecutive blocks of B jointly, Latin-hypercube style as the reference does in a
    batch: within a block the scale levels follow their 1/s^2 distribution's quantiles, flips, transposes,
    colour permutations and offsets are balanced, and the colour factors spread over their range. Each
    draw keeps its marginal distribution, so block means are unbiased and independent of each other,
    and much less noisy than B i.i.d. draws (the scale level alone carries most of the variance).
    """
    if count < 1:
        raise InputError(f"count must be >= 1, got {count}")
    if stratify < 1:
        raise InputError(f"stratify must be >= 1, got {stratify}")
    g = generator
    cumulative = torch.tensor(config.scale_probabilities, dtype=torch.float64).cumsum(0)
    scale = torch.searchsorted(cumulative[:-1], _uniforms(count, stratify, g)[:, 0], right=True) + 1
    phase = (torch.rand(count, 2, generator=g, dtype=torch.float64) * scale[:, None]).long()
    offset = _categorical(_uniforms(count, stratify, g, columns=2), config.offset_max + 1)
    flip = _categorical(_uniforms(count, stratify, g)[:, 0], 4) if config.flips else torch.full((count,), 3)
    transpose = _categorical(_uniforms(count, stratify, g)[:, 0], 2).bool() & config.transpose
    if config.color_permutation:
        permutation = _categorical(_uniforms(count, stratify, g)[:, 0], 6)
    else:
        permutation = torch.zeros(count, dtype=torch.long)
    low, high = config.color_scale_range
    color = (low + (high - low) * _uniforms(count, stratify, g, columns=3)).float()
    seed = torch.randint(0, 2**62, (count,), generator=g)
    return Draws(scale, phase, offset, flip, transpose, _PERMUTATIONS[permutation], color, seed)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Map integer positions outside [0, size) back inside by mirror reflection without repeating the edge."""
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    index = index.remainder(period)
    return torch.where(index >= size, period - index, index)


def _window_sources(draws: Draws, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input rows (k, padded_h) and columns (k, padded_w) of the reflect-padded grid that a scale level's
    s x s boxes tile, starting at each draw's phase."""
    s = int(draws.scale[0])
    padded_h = (2 * (s - 1) + height) // s * s
    padded_w = (2 * (s - 1) + width) // s * s
    rows = _reflect(torch.arange(padded_h)[None] - draws.phase[:, :1], height)
    cols = _reflect(torch.arange(padded_w)[None] - draws.phase[:, 1:], width)
    return rows, cols


def _gather_pixels(images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(k or 1, M, C, H, W) images, (k, h', w') flat pixel positions y * W + x -> (k, M, C, h', w').

    A `gather`, not advanced indexing: on CPU the backward of ``images[..., rows, cols]`` accumulates
    repeated positions (reflections, shared pixels) with atomic adds whose order depends on thread
    timing, so gradients, and with them seeded optimisations, differed between runs. Gather's backward
    (scatter_add) is deterministic on CPU.
    """
    k = index.shape[0]
    height, width = images.shape[-2:]
    m, c = images.shape[1:3]
    out_h, out_w = index.shape[-2:]
    flat = images.expand(k, -1, -1, -1, -1).reshape(k, m * c, height * width)
    gathered = flat.gather(2, index.flatten(1).to(images.device)[:, None, :].expand(k, m * c, -1))
    return gathered.view(k, m, c, out_h, out_w)


def _downscale(images: torch.Tensor, draws: Draws) -> torch.Tensor:
    """(M, C, H, W) -> (k, M, C, h, w): reflect-pad to a multiple of s at each draw's phase, s x s box mean."""
    s = int(draws.scale[0])
    height, width = images.shape[-2:]
    rows, cols = _window_sources(draws, height, width)
    windows = _gather_pixels(images[None], rows[:, :, None] * width + cols[:, None, :])  # (k, M, C, ph, pw)
    k, m = windows.shape[:2]
    pooled = F.avg_pool2d(windows.flatten(0, 1), s)
    return pooled.unflatten(0, (k, m))


def _placement(draws: Draws, height: int, width: int, offset_max: int) -> torch.Tensor:
    """(k, h', w') flat indices into an h x w grid: where each output pixel of the offset padding
    (``offset_max`` pixels in total per axis, reflect, split by the offset), flip and transpose reads."""
    rows = _reflect(torch.arange(height + offset_max)[None] - (offset_max - draws.offset[:, :1]), height)
    cols = _reflect(torch.arange(width + offset_max)[None] - (offset_max - draws.offset[:, 1:]), width)
    rows = torch.where(_FLIP_VERTICAL[draws.flip][:, None], rows.flip(-1), rows)
    cols = torch.where(_FLIP_HORIZONTAL[draws.flip][:, None], cols.flip(-1), cols)
    plain = rows[:, :, None] * width + cols[:, None, :]
    swapped = rows[:, None, :] * width + cols[:, :, None]
    if bool(draws.transpose.all()):
        return swapped
    if not bool(draws.transpose.any()):
        return plain
    return torch.where(draws.transpose[:, None, None], swapped, plain)  # mixed: square only (Draws.groups)


def _offset_flip_transpose(images: torch.Tensor, draws: Draws, offset_max: int) -> torch.Tensor:
    """(k, M, C, h, w) (k may be 1, broadcast) -> (k, M, C, h', w'): one gather per draw (see _placement)."""
    return _gather_pixels(images, _placement(draws, *images.shape[-2:], offset_max))


def _color_matrices(draws: Draws) -> torch.Tensor:
    """(k, 3, 3) matrices doing the channel permutation, then the per-channel factors."""
    matrices = torch.zeros(len(draws), 3, 3)
    matrices.scatter_(2, draws.permutation[:, :, None], draws.color[:, :, None])
    return matrices


def apply_draws(images: torch.Tensor, draws: Draws, config: TransformConfig) -> torch.Tensor:
    """Transform (M, 3, H, W) images by each draw of one group (see :meth:`Draws.groups`).

    Returns (k, M, 3, h, w): image m under draw i at [i, m], the same transformation for every m.
    """
    if bool((draws.scale != draws.scale[0]).any()):
        raise ValueError("apply_draws takes draws of one scale level; split them with Draws.groups()")
    x = images[None] if int(draws.scale[0]) == 1 else _downscale(images, draws)
    x = _offset_flip_transpose(x, draws, config.offset_max)
    colors = _color_matrices(draws).to(device=x.device, dtype=x.dtype)
    return torch.einsum("kij,kmjhw->kmihw", colors, x)


def transformed_size(size: int, scale: int, config: TransformConfig) -> int:
    """Side length after downscaling by ``scale`` and offset padding."""
    return (2 * (scale - 1) + size) // scale + config.offset_max


def _scatter(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """(k, P, *grid) values added into (k, P, size) at the (k, *grid) flat indices: a gather's transpose."""
    k, p = values.shape[:2]
    out = values.new_zeros(k, p, size)
    return out.scatter_add(2, index.flatten(1).to(values.device)[:, None, :].expand(k, p, -1), values.flatten(2))


def apply_draws_adjoint(values: torch.Tensor, draws: Draws, config: TransformConfig,
                        size: tuple[int, int]) -> torch.Tensor:
    """The transpose of :func:`apply_draws`' geometry: (k, P, h', w') values on each draw's transformed
    pixel grid -> (k, P, H, W) on the input grid of ``size``.

    Every transformed pixel is a mean over input pixels (its s x s box, read through the reflect padding,
    offset, flips and transpose); its value is spread back over exactly those pixels with the same weights,
    by scatter-adding through the gathers' own indices. A pixel that the padding reads twice receives twice.
    The total over the grid is therefore preserved, and <apply_draws(x), v> = <x, adjoint(v)> per channel.
    The colour permutation and factors act on channels, not positions, and are left out.
    """
    if bool((draws.scale != draws.scale[0]).any()):
        raise ValueError("apply_draws_adjoint takes draws of one scale level; split them with Draws.groups()")
    height, width = size
    s = int(draws.scale[0])
    rows, cols = _window_sources(draws, height, width)
    small_h, small_w = (rows.shape[1] // s, cols.shape[1] // s) if s > 1 else (height, width)
    index = _placement(draws, small_h, small_w, config.offset_max)
    if tuple(values.shape[-2:]) != tuple(index.shape[-2:]):
        raise ValueError(f"values of shape {tuple(values.shape)} do not match the draws' transformed grid "
                         f"{tuple(index.shape[-2:])}")
    small = _scatter(values, index, small_h * small_w)
    if s == 1:
        return small.unflatten(2, (height, width))
    boxes = small.unflatten(2, (small_h, small_w)).repeat_interleave(s, dim=2).repeat_interleave(s, dim=3) / s**2
    return _scatter(boxes, rows[:, :, None] * width + cols[:, None, :], height * width).unflatten(2, (height, width))
