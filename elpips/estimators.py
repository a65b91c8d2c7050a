"""Estimating E-LPIPS, an expectation over random transformations, from samples (ELPIPS.md section 4).

- :func:`estimate`: the mean of a fixed number of samples, with its standard error.
- :func:`estimate_adaptive`: the reference's rule: draw blocks of 10 until the 95 % error of the mean
  (1.96 standard errors) is below an absolute and a relative bound, or a sample cap is reached.
- :func:`compare`: several candidates against one reference under the SAME draws. The per-draw
  differences are strongly correlated, so which candidate is closer is settled with far fewer samples
  than the distances themselves.

All three draw samples in blocks of ``block`` (10, the reference's batch) that are stratified within
the block (:func:`elpips.sample_draws` with ``stratify``): block means are independent and unbiased,
the standard error comes from their spread, and it is typically two to three times smaller than that
of as many independent draws. ``block=1`` gives plain independent draws. A requested sample count is
honoured exactly, its blocks made smaller where it is not a multiple of ``block`` (64 samples: 8 blocks
of 8). Metrics without transformations are deterministic: one sample, zero error. ``progress(k)``, if
given, is called after every network pass with the number of draws it evaluated (for progress bars).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .metric import Metric

Z_95 = 1.96
BLOCK = 10

Progress = Callable[[int], object]  # called with the number of draws evaluated since the last call


@dataclass(frozen=True)
class Estimate:
    """Distances of N pairs: ``value`` (N,), its standard error ``stderr`` (N,), from ``samples`` draws."""

    value: torch.Tensor
    stderr: torch.Tensor
    samples: int

    @property
    def error(self) -> torch.Tensor:
        """Half-width of the 95 % confidence interval."""
        return Z_95 * self.stderr

    @staticmethod
    def from_draws(per_draw: torch.Tensor, block: int) -> "Estimate":
        """The estimate from (samples, N) per-draw distances drawn in stratified blocks of ``block``."""
        return Estimate(per_draw.mean(dim=0), _stderr(per_draw, block), per_draw.shape[0])

    def meets(self, max_error: float, max_rel_error: float) -> bool:
        """Whether every pair's 95 % error is below ``max_error`` and ``max_rel_error`` times its value
        (the reference's stopping rule; never with fewer than two samples)."""
        error = self.error
        return self.samples >= 2 and bool(((error < max_error) & (error < max_rel_error * self.value.abs())).all())


@dataclass(frozen=True)
class Comparison:
    """Candidates' distances to one reference under shared draws.

    ``diff[a, b]`` is the mean of d(candidate a) - d(candidate b) with standard error ``diff_stderr[a, b]``;
    ``closest`` indexes the candidate with the smallest distance.
    """

    values: torch.Tensor
    stderr: torch.Tensor
    diff: torch.Tensor
    diff_stderr: torch.Tensor
    samples: int

    @staticmethod
    def from_draws(per_draw: torch.Tensor, block: int) -> "Comparison":
        """The comparison from (samples, K) per-draw distances of K candidates under shared draws."""
        differences = per_draw[:, :, None] - per_draw[:, None, :]
        return Comparison(per_draw.mean(0), _stderr(per_draw, block), differences.mean(0),
                          _stderr(differences, block), per_draw.shape[0])

    @property
    def closest(self) -> int:
        return int(self.values.argmin())

    def confidence_z(self) -> float:
        """How many standard errors separate the closest candidate from the runner-up (inf if exact)."""
        best = self.closest
        others = [k for k in range(len(self.values)) if k != best]
        if not others:
            return math.inf
        z = [-float(self.diff[best, k]) / float(self.diff_stderr[best, k]) if self.diff_stderr[best, k] > 0
             else math.inf for k in others]
        return min(z)


def _stderr(per_draw: torch.Tensor, block: int) -> torch.Tensor:
    """Standard error of the mean of (n, ...) per-draw values drawn in stratified blocks of ``block``."""
    n = per_draw.shape[0]
    blocks = n // block
    if blocks >= 2 and blocks * block == n:
        means = per_draw.unflatten(0, (blocks, block)).mean(dim=1)
        return means.std(dim=0) / math.sqrt(blocks)
    if n < 2:
        return torch.zeros_like(per_draw[0])
    return per_draw.std(dim=0) / math.sqrt(n)  # one block: the independent-draws formula, an upper bound


def _per_draw_distances(metric: Metric, images: torch.Tensor, i, j, count: int, block: int, generator,
                        progress: Progress | None = None) -> torch.Tensor:
    """(count, P) per-draw distances, computed a network pass at a time (see Metric.pair_distances)."""
    draws = metric.sample_draws(count, generator, stratify=block)
    with torch.no_grad():
        return metric.pair_distances(images, draws, i, j, progress).cpu()


def _block_size(samples: int, block: int) -> int:
    """The largest block size up to ``block`` that splits ``samples`` into at least two whole blocks."""
    if samples < 1 or block < 1:
        raise ValueError(f"samples and block must be >= 1, got {samples} and {block}")
    return next((b for b in range(min(block, samples // 2), 1, -1) if samples % b == 0), 1)


def _pairs(x: torch.Tensor, y: torch.Tensor):
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n = x.shape[0]
    return torch.cat([x, y]), torch.arange(n), torch.arange(n) + n


def estimate(
    metric: Metric,
    x: torch.Tensor,
    y: torch.Tensor,
    samples: int = 60,
    block: int = BLOCK,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
) -> Estimate:
    """Mean of ``samples`` draws of d(x[n], y[n]) for each pair n, with standard errors."""
    if metric.config.transforms is None:
        samples = 1
    block = _block_size(samples, block)
    images, i, j = _pairs(x, y)
    return Estimate.from_draws(_per_draw_distances(metric, images, i, j, samples, block, generator, progress), block)


def estimate_adaptive(
    metric: Metric,
    x: torch.Tensor,
    y: torch.Tensor,
    max_error: float = 0.01,
    max_rel_error: float = 0.025,
    max_samples: int = 5000,
    block: int = BLOCK,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
) -> Estimate:
    """Sample block by block until every pair's 95 % error is below ``max_error`` and ``max_rel_error``
    times its value, or ``max_samples`` draws were taken (the reference's stopping rule)."""
    if metric.config.transforms is None:
        return estimate(metric, x, y, 1, progress=progress)
    images, i, j = _pairs(x, y)
    chunks: list[torch.Tensor] = []
    taken = 0
    while True:
        count = min(block, max_samples - taken)  # the last block may be cut short by the cap
        chunks.append(_per_draw_distances(metric, images, i, j, count, count, generator, progress))
        taken += count
        result = Estimate.from_draws(torch.cat(chunks), block)
        if result.meets(max_error, max_rel_error) or taken >= max_samples:
            return result


def compare(
    metric: Metric,
    reference: torch.Tensor,
    candidates: list[torch.Tensor],
    samples: int | None = None,
    max_samples: int = 2000,
    z: float = Z_95,
    block: int = BLOCK,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Distances of each candidate (1, 3, H, W) to ``reference`` under shared draws.

    With ``samples`` set, that many draws (whole blocks); otherwise block by block until the closest
    candidate is ahead of every other by ``z`` standard errors of the difference, or ``max_samples``.
    """
    if len(candidates) < 1:
        raise ValueError("compare needs at least one candidate")
    shapes = {tuple(c.shape) for c in candidates} | {tuple(reference.shape)}
    if len(shapes) != 1:
        raise ValueError(f"reference and candidates must have the same shape, got {sorted(shapes)}")
    images = torch.cat([reference, *candidates])
    k = len(candidates)
    i, j = torch.arange(1, k + 1), torch.zeros(k, dtype=torch.long)
    if metric.config.transforms is None:
        return Comparison.from_draws(_per_draw_distances(metric, images, i, j, 1, 1, generator, progress), 1)
    if samples is not None:
        block = _block_size(samples, block)
        per_draw = _per_draw_distances(metric, images, i, j, samples, block, generator, progress)
        return Comparison.from_draws(per_draw, block)
    chunks: list[torch.Tensor] = []
    taken = 0
    while True:
        count = min(block, max_samples - taken)
        chunks.append(_per_draw_distances(metric, images, i, j, count, count, generator, progress))
        taken += count
        result = Comparison.from_draws(torch.cat(chunks), block)
        if (len(chunks) >= 2 and result.confidence_z() >= z) or taken >= max_samples:
            return result

