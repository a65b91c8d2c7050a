"""Difference maps: where two images differ, as an (N, 1, H, W) map whose spatial mean is the distance.

Per compared feature map, the distance is a weighted mean over positions of squared differences of
unit-normalised features; before that mean it is a map on the feature grid. :func:`draw_maps` spreads
each layer's map over the network's input pixels (``upsample``), sums the layers, and for E-LPIPS
carries the result back through the draw's transformation to the input's pixel grid with the transpose
of the gathers that made the network's input (:func:`elpips.transforms.apply_draws_adjoint`): each
transformed pixel's value goes, with its weights, to the input pixels it was averaged from (the s x s
box of a downscaled level, through the reflect padding, offset, flips and transpose). That transpose
keeps the total, so rescaling by (input pixels / transformed pixels) keeps the mean: every draw's map
averages to that draw's distance, and the mean of the maps over draws averages to the E-LPIPS estimate
from the same draws.

Pixels that the reflect padding shows the network twice weigh twice, as they do in the distance: E-LPIPS
looks at pixels near the borders more than at the others (benchmarks/bench_difference_map.py measures
how much). The same transpose applied to ones gives that weight per pixel, the ``coverage`` (mean 1;
all ones without transformations), and
``map / coverage`` is the ``density``: how much the images differ at each pixel, with the borders'
extra weight divided out, whose coverage-weighted mean is the distance. The map says what makes up the
distance; the density shows best where the images differ.

``upsample="area"`` (the default) gives each output pixel the area-weighted mean of the feature cells
it overlaps, which keeps the mean exactly at any size. ``"bilinear"`` is the lpips package's
``spatial=True`` convention; its mean equals the distance only where the feature grids divide the image
(e.g. VGG at multiples of 16 px) and is otherwise slightly off.

:func:`difference_maps` samples draws exactly as :func:`elpips.estimate` (``samples`` given) or
:func:`elpips.estimate_adaptive` (not given) do (through :func:`elpips.sampling.sample_blocks`), a
network pass at a time, and yields the running
result after every pass, so that a map can be shown while it forms. Its scalar distances are the very
numbers those estimators return for the same generator state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from .errors import InputError
from .estimators import Estimate
from .metric import Embedding, Metric
from .sampling import BLOCK, DEFAULT_MAX_ERROR, DEFAULT_MAX_REL_ERROR, DEFAULT_MAX_SAMPLES, SamplingPlan, sample_blocks
from .transforms import Draws, apply_draws_adjoint, transformed_size

UPSAMPLING = ("area", "bilinear")


def _area_weights(out_size: int, in_size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(out_size, in_size): row o holds the fractions of output pixel o covered by each input cell when
    in_size cells are stretched over out_size pixels. Rows sum to 1, columns to out_size / in_size."""
    edges_out = torch.arange(out_size + 1, dtype=torch.float64)[:, None]
    edges_in = torch.arange(in_size + 1, dtype=torch.float64)[None] * (out_size / in_size)
    overlap = torch.minimum(edges_out[1:], edges_in[:, 1:]) - torch.maximum(edges_out[:-1], edges_in[:, :-1])
    return overlap.clamp(min=0).to(dtype=dtype, device=device)


def _upsample(maps: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """(k, P, h, w) -> (k, P, H, W) by area weights or by the lpips package's bilinear resize."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    if mode == "bilinear":
        return F.interpolate(maps.flatten(0, 1)[:, None], size=size, mode="bilinear", align_corners=False).view(
            *maps.shape[:2], *size
        )
    rows = _area_weights(size[0], maps.shape[-2], maps.dtype, maps.device)
    cols = _area_weights(size[1], maps.shape[-1], maps.dtype, maps.device)
    return torch.einsum("Hh,kphw,Ww->kpHW", rows, maps, cols)


def _network_grid(metric: Metric, draws: Draws, size: tuple[int, int]) -> tuple[int, int]:
    """The network input's size for one group of draws (one scale level; one transpose unless square)."""
    transforms = metric.config.transforms
    if transforms is None:
        return size
    s = int(draws.scale[0])
    height, width = (transformed_size(side, s, transforms) for side in size)
    return (width, height) if bool(draws.transpose[0]) else (height, width)


def _distances_and_maps(
    metric: Metric, embedding: Embedding, draws: Draws, i, j, size: tuple[int, int], upsample: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-draw distances (draws, P), maps (draws, P, H, W) and coverages (draws, 1, H, W) of the embedded
    pairs, from one computation of the squared feature differences. The distances take the arithmetic of
    Metric.embedding_distance step for step, so that they are its numbers to the last bit."""
    if upsample not in UPSAMPLING:
        raise InputError(f"upsample must be one of {', '.join(UPSAMPLING)}, got {upsample!r}")
    i = torch.as_tensor(i, device=metric.device)
    j = torch.as_tensor(j, device=metric.device)
    height, width = size
    indices, distances, maps, coverages = [], [], [], []
    for draw_indices, features in embedding.groups:
        group = draws[draw_indices]
        distance = 0
        by_grid: dict[tuple[int, int], torch.Tensor] = {}  # layers of one feature grid are upsampled together
        for f, weight in zip(features, metric.linear):
            square = (f[:, i] - f[:, j]).square()
            distance = distance + square.mean(dim=(-2, -1)) @ weight
            layer = torch.einsum("kpchw,c->kphw", square, weight.to(square.dtype))
            by_grid[layer.shape[-2:]] = by_grid.get(layer.shape[-2:], 0) + layer
        grid = _network_grid(metric, group, size)
        total = sum(_upsample(layer, grid, upsample) for layer in by_grid.values())
        coverage = total.new_ones(total.shape[0], 1, *grid)
        if metric.config.transforms is not None:
            stretch = height * width / (grid[0] * grid[1])
            total = apply_draws_adjoint(total, group, metric.config.transforms, size) * stretch
            coverage = apply_draws_adjoint(coverage, group, metric.config.transforms, size) * stretch
        indices.append(draw_indices)
        distances.append(distance.expand(len(draw_indices), -1))
        maps.append(total.expand(len(draw_indices), -1, -1, -1))
        coverages.append(coverage.expand(len(draw_indices), -1, -1, -1))
    order = torch.cat(indices).argsort().to(metric.device)
    return torch.cat(distances)[order], torch.cat(maps)[order], torch.cat(coverages)[order]


def draw_maps(
    metric: Metric,
    embedding: Embedding,
    draws: Draws,
    i,
    j,
    size: tuple[int, int],
    upsample: str = "area",
) -> torch.Tensor:
    """Per-draw difference maps between embedded images i[p] and j[p]: a (draws, P, H, W) tensor on the
    input grid of ``size`` (the embedded images' H, W), differentiable like the distance.

    ``embedding`` is ``metric.embed(images, draws)``. Each map's mean over pixels is the same draw's
    ``metric.embedding_distance(embedding, i, j)`` (to rounding with ``upsample="area"``).
    """
    return _distances_and_maps(metric, embedding, draws, i, j, size, upsample)[1]


class _RunningMaps:
    """Mean and standard error of per-draw maps added a few at a time, without keeping them: sums of the
    draws and of their squares, and of the means of completed blocks. The standard error follows
    ``elpips.sampling.standard_error``: from block means when there are two or more whole blocks, else from
    the spread of single draws."""

    def __init__(self, block: int):
        self.block = block
        self.count = 0
        keys = ("draws", "squares", "block", "means", "mean_squares")
        self.sums: dict[str, torch.Tensor | float] = dict.fromkeys(keys, 0.0)

    def add(self, maps: torch.Tensor) -> None:
        for draw_map in maps.double():
            s = self.sums
            s["draws"] = s["draws"] + draw_map
            s["squares"] = s["squares"] + draw_map.square()
            s["block"] = s["block"] + draw_map
            self.count += 1
            if self.count % self.block == 0:
                block_mean = s["block"] / self.block
                s["means"] = s["means"] + block_mean
                s["mean_squares"] = s["mean_squares"] + block_mean.square()
                s["block"] = 0.0

    def mean(self) -> torch.Tensor:
        return self.sums["draws"] / self.count

    def stderr(self) -> torch.Tensor:
        blocks = self.count // self.block
        if blocks >= 2:  # the whole blocks' spread, scaled to all draws so far (as `standard_error`)
            total, squares = self.sums["means"], self.sums["mean_squares"]
            variance = ((squares - total.square() / blocks) / (blocks - 1)).clamp(min=0)
            return (variance * self.block / self.count).sqrt()
        if self.count < 2:
            return torch.zeros_like(self.mean())
        total, squares = self.sums["draws"], self.sums["squares"]
        variance = ((squares - total.square() / self.count) / (self.count - 1)).clamp(min=0)
        return (variance / self.count).sqrt()


@dataclass(frozen=True)
class DifferenceMap:
    """Where N pairs of images differ: ``map`` (N, 1, H, W), the mean of the per-draw maps, and its
    per-pixel standard error ``stderr`` (zero for deterministic metrics); ``coverage`` (1, 1, H, W), the
    mean weight the draws gave each pixel (see the module's notes); ``distances`` (samples, N), the
    per-draw distances, each the mean of its draw's map, drawn in stratified blocks of ``block``.
    All on the CPU, float32 (float64 for a float64 metric)."""

    map: torch.Tensor
    stderr: torch.Tensor
    coverage: torch.Tensor
    distances: torch.Tensor
    block: int

    @property
    def density(self) -> torch.Tensor:
        """(N, 1, H, W): ``map / coverage``, the difference at each pixel without the borders' extra weight
        (equal to the map for metrics without transformations): the view of where the images differ."""
        return self.map / self.coverage

    @property
    def samples(self) -> int:
        return self.distances.shape[0]

    @property
    def relative_error(self) -> torch.Tensor:
        """(N,): the root-mean-square of the per-pixel standard error over that of the map, a measure of how
        settled each map is (it falls as 1 / sqrt(samples); 0 for deterministic metrics and identical images)."""
        rms = self.map.square().mean(dim=(-3, -2, -1)).sqrt()
        noise = self.stderr.square().mean(dim=(-3, -2, -1)).sqrt()
        return torch.where(rms > 0, noise / torch.where(rms > 0, rms, torch.ones_like(rms)), torch.zeros_like(rms))

    @property
    def estimate(self) -> Estimate:
        """The distances with their standard errors, as :func:`elpips.estimate` reports them."""
        return Estimate.from_draws(self.distances, self.block)


def _pairs(metric: Metric, x: torch.Tensor, y: torch.Tensor):
    """Images in one batch and the pair indices: x[n] with y[n], or one image against each of the others."""
    x = metric._check_images(x, "x")
    y = metric._check_images(y, "y")
    if x.shape[1:] != y.shape[1:] or (len(x) != len(y) and 1 not in (len(x), len(y))):
        raise InputError(
            f"x and y must have the same shape (or one of them be a single image), got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    n = max(len(x), len(y))
    i = torch.arange(n) if len(x) == n else torch.zeros(n, dtype=torch.long)
    j = len(x) + (torch.arange(n) if len(y) == n else torch.zeros(n, dtype=torch.long))
    return torch.cat([x, y]), i, j


@torch.no_grad()  # on a generator, torch turns gradients off only while it runs, never across its yields
def difference_maps(
    metric: Metric,
    x: torch.Tensor,
    y: torch.Tensor,
    samples: int | None = None,
    *,
    max_error: float = DEFAULT_MAX_ERROR,
    max_rel_error: float = DEFAULT_MAX_REL_ERROR,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    block: int = BLOCK,
    generator: torch.Generator | None = None,
    upsample: str = "area",
    stop_when: Callable[[DifferenceMap], bool] | None = None,
) -> Iterator[DifferenceMap]:
    """Difference maps of the pairs (x[n], y[n]) as they form: the running result after each network pass.

    ``x`` or ``y`` may be a single image compared with every image of the other. With ``samples``, that
    many draws as :func:`elpips.estimate` takes them; without, blocks of ``block`` draws until every
    pair's distance meets ``max_error`` and ``max_rel_error`` (:meth:`Estimate.meets`), or until
    ``stop_when(result)`` holds if given (checked after each whole block), or ``max_samples``, as
    :func:`elpips.estimate_adaptive` does. Metrics without transformations take one exact sample.
    """
    if upsample not in UPSAMPLING:
        raise InputError(f"upsample must be one of {', '.join(UPSAMPLING)}, got {upsample!r}")
    plan = SamplingPlan(samples, max_samples, block).resolved(metric.config.transforms is None)
    images, i, j = _pairs(metric, x, y)
    size = tuple(images.shape[-2:])
    if stop_when is None:
        def stop_when(result: DifferenceMap) -> bool:
            return result.estimate.meets(max_error, max_rel_error)

    running = _RunningMaps(plan.block)
    coverage = 0
    distances: list[torch.Tensor] = []
    dtype = torch.float64 if metric.shift.dtype == torch.float64 else torch.float32
    result = None

    def draw(count: int, stratify: int):
        return metric.sample_draws(count, generator, stratify=stratify)

    for draws in sample_blocks(draw, plan, lambda: stop_when(result)):
        for part, embedding in metric.embed_in_passes(images, draws):
            pass_distances, pass_maps, pass_coverage = _distances_and_maps(
                metric, embedding, draws[part], i, j, size, upsample
            )
            distances.append(pass_distances.cpu())
            running.add(pass_maps)
            coverage = coverage + pass_coverage.double().sum(dim=0, keepdim=True)
            result = DifferenceMap(
                running.mean()[:, None].to("cpu", dtype), running.stderr()[:, None].to("cpu", dtype),
                (coverage / running.count).to("cpu", dtype), torch.cat(distances), plan.block,
            )
            yield result


def difference_map(metric: Metric, x: torch.Tensor, y: torch.Tensor, samples: int | None = None,
                   **options) -> DifferenceMap:
    """The finished :func:`difference_maps` (same arguments): maps, their standard errors, the distances."""
    for result in difference_maps(metric, x, y, samples, **options):
        pass
    return result

