"""Estimating E-LPIPS, an expectation over random transformations, from samples (Kettunen et al., 2019).

- :func:`estimate`: the mean of a fixed number of samples, with its standard error.
- :func:`estimate_adaptive`: the reference's rule: draw blocks of 10 until the 95 % error of the mean
  (1.96 standard errors) is below an absolute and a relative bound, or a sample cap is reached.
- :func:`compare`: several candidates against one reference under the SAME draws. The per-draw
  differences are strongly correlated, so which candidate is closer is settled with far fewer samples
  than the distances themselves.

All three sample through :func:`elpips.sampling.sample_blocks` (blocks, stratification, stopping; see
that module and docs/metric.md). ``progress(k)``, if given, is called after every network pass with the
number of draws it evaluated (for progress bars).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .errors import InputError
from .metric import Metric
from .sampling import (
    BLOCK,
    DEFAULT_COMPARE_MAX_SAMPLES,
    DEFAULT_MAX_ERROR,
    DEFAULT_MAX_REL_ERROR,
    DEFAULT_MAX_SAMPLES,
    Z_95,
    SamplingPlan,
    sample_blocks,
    standard_error,
)

DrawCounter = Callable[[int], object]  # called with the number of draws evaluated since the last call


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
        return Estimate(per_draw.mean(dim=0), standard_error(per_draw, block), per_draw.shape[0])

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
        return Comparison(per_draw.mean(0), standard_error(per_draw, block), differences.mean(0),
                          standard_error(differences, block), per_draw.shape[0])

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


def _sampled_distances(metric: Metric, images: torch.Tensor, i, j, plan: SamplingPlan, generator,
                       progress: DrawCounter | None,
                       stop: Callable[[torch.Tensor], bool] | None = None) -> torch.Tensor:
    """(draws, P) per-draw distances of the pairs (images[i], images[j]) sampled as ``plan`` (resolved) says,
    until ``stop(per_draw so far)`` holds; a network pass at a time (see Metric.pair_distances)."""
    chunks: list[torch.Tensor] = []

    def draw(count: int, stratify: int) -> torch.Tensor:
        draws = metric.sample_draws(count, generator, stratify=stratify)
        with torch.no_grad():
            chunks.append(metric.pair_distances(images, draws, i, j, progress).cpu())
        return chunks[-1]

    for _ in sample_blocks(draw, plan, lambda: stop is not None and stop(torch.cat(chunks))):
        pass
    return torch.cat(chunks)


def _plan(metric: Metric, samples: int | None, max_samples: int, block: int) -> SamplingPlan:
    return SamplingPlan(samples, max_samples, block).resolved(metric.config.transforms is None)


def _pairs(x: torch.Tensor, y: torch.Tensor):
    if x.shape != y.shape:
        raise InputError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n = x.shape[0]
    return torch.cat([x, y]), torch.arange(n), torch.arange(n) + n


def estimate(
    metric: Metric,
    x: torch.Tensor,
    y: torch.Tensor,
    samples: int = 60,
    block: int = BLOCK,
    generator: torch.Generator | None = None,
    progress: DrawCounter | None = None,
) -> Estimate:
    """Mean of ``samples`` draws of d(x[n], y[n]) for each pair n, with standard errors."""
    plan = _plan(metric, samples, samples, block)
    images, i, j = _pairs(x, y)
    return Estimate.from_draws(_sampled_distances(metric, images, i, j, plan, generator, progress), plan.block)


def estimate_adaptive(
    metric: Metric,
    x: torch.Tensor,
    y: torch.Tensor,
    max_error: float = DEFAULT_MAX_ERROR,
    max_rel_error: float = DEFAULT_MAX_REL_ERROR,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    block: int = BLOCK,
    generator: torch.Generator | None = None,
    progress: DrawCounter | None = None,
) -> Estimate:
    """Sample block by block until every pair's 95 % error is below ``max_error`` and ``max_rel_error``
    times its value, or ``max_samples`` draws were taken (the reference's stopping rule)."""
    plan = _plan(metric, None, max_samples, block)
    images, i, j = _pairs(x, y)

    def precise(per_draw: torch.Tensor) -> bool:
        return Estimate.from_draws(per_draw, plan.block).meets(max_error, max_rel_error)

    per_draw = _sampled_distances(metric, images, i, j, plan, generator, progress, precise)
    return Estimate.from_draws(per_draw, plan.block)


def compare(
    metric: Metric,
    reference: torch.Tensor,
    candidates: list[torch.Tensor],
    samples: int | None = None,
    max_samples: int = DEFAULT_COMPARE_MAX_SAMPLES,
    z: float = Z_95,
    block: int = BLOCK,
    generator: torch.Generator | None = None,
    progress: DrawCounter | None = None,
) -> Comparison:
    """Distances of each candidate (1, 3, H, W) to ``reference`` under shared draws.

    With ``samples`` set, that many draws; otherwise block by block until the closest candidate is ahead
    of every other by ``z`` standard errors of the difference (two blocks at least), or ``max_samples``.
    """
    if len(candidates) < 1:
        raise InputError("compare needs at least one candidate")
    shapes = {tuple(c.shape) for c in candidates} | {tuple(reference.shape)}
    if len(shapes) != 1:
        raise InputError(f"reference and candidates must have the same shape, got {sorted(shapes)}")
    images = torch.cat([reference, *candidates])
    k = len(candidates)
    i, j = torch.arange(1, k + 1), torch.zeros(k, dtype=torch.long)
    plan = _plan(metric, samples, max_samples, block)

    def settled(per_draw: torch.Tensor) -> bool:
        return per_draw.shape[0] > plan.block and Comparison.from_draws(per_draw, plan.block).confidence_z() >= z

    per_draw = _sampled_distances(metric, images, i, j, plan, generator, progress, settled)
    return Comparison.from_draws(per_draw, plan.block)
