"""Estimating E-LPIPS, an expectation over random transformations, from samples (ELPIPS.md section 4).

- :func:`estimate`: the mean of a fixed number of samples, with its standard error.
- :func:`estimate_adaptive`: the reference's rule: draw batches of 10 until the 95 % error of the mean
  (1.96 standard errors) is below an absolute and a relative bound, or a sample cap is reached.
- :func:`compare`: several candidates against one reference under the SAME draws. The per-draw
  differences are strongly correlated, so which candidate is closer is settled with far fewer samples
  than the distances themselves.
Metrics without transformations are deterministic: one sample, zero error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .metric import Metric

Z_95 = 1.96


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

    @property
    def closest(self) -> int:
        return int(self.values.argmin())

    def confidence_z(self) -> float:
        """How many standard errors separate the closest candidate from the runner-up (inf if exact)."""
        best = self.closest
        others = [k for k in range(len(self.values)) if k != best]
        if not others:
            return math.inf
        z = [-float(self.diff[best, k]) / float(self.diff_stderr[best, k]) if self.diff_stderr[best, k] > 0 else math.inf for k in others]
        return min(z)


def _stderr(samples: torch.Tensor) -> torch.Tensor:
    if samples.shape[0] < 2:
        return torch.zeros_like(samples[0])
    return samples.std(dim=0) / math.sqrt(samples.shape[0])


def _per_draw_distances(metric: Metric, images: torch.Tensor, i, j, count: int, generator) -> torch.Tensor:
    """(count, P) per-draw distances, computed in passes of at most ``metric.max_batch`` evaluations."""
    draws = metric.sample_draws(count, tuple(images.shape[-2:]), generator)
    with torch.no_grad():
        return metric.embedding_distance(metric.embed(images, draws), i, j).cpu()


def _pairs(metric: Metric, x: torch.Tensor, y: torch.Tensor):
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n = x.shape[0]
    return torch.cat([x, y]), torch.arange(n), torch.arange(n) + n


def estimate(metric: Metric, x: torch.Tensor, y: torch.Tensor, samples: int = 64, generator: torch.Generator | None = None) -> Estimate:
    """Mean of ``samples`` draws of d(x[n], y[n]) for each pair n, with standard errors."""
    if metric.config.transforms is None:
        samples = 1
    images, i, j = _pairs(metric, x, y)
    per_draw = _per_draw_distances(metric, images, i, j, samples, generator)
    return Estimate(per_draw.mean(dim=0), _stderr(per_draw), samples)


def estimate_adaptive(
    metric: Metric,
    x: torch.Tensor,
    y: torch.Tensor,
    max_error: float = 0.01,
    max_rel_error: float = 0.025,
    max_samples: int = 5000,
    batch: int = 10,
    generator: torch.Generator | None = None,
) -> Estimate:
    """Sample in batches until every pair's 95 % error is below ``max_error`` and ``max_rel_error`` times
    its value, or ``max_samples`` draws were taken (the reference's stopping rule)."""
    if metric.config.transforms is None:
        return estimate(metric, x, y, 1)
    images, i, j = _pairs(metric, x, y)
    chunks: list[torch.Tensor] = []
    taken = 0
    while taken < max_samples:
        count = min(batch, max_samples - taken)
        chunks.append(_per_draw_distances(metric, images, i, j, count, generator))
        taken += count
        per_draw = torch.cat(chunks)
        mean, error = per_draw.mean(dim=0), Z_95 * _stderr(per_draw)
        if taken >= 2 and bool(((error < max_error) & (error < max_rel_error * mean.abs())).all()):
            break
    return Estimate(mean, _stderr(per_draw), taken)


def compare(
    metric: Metric,
    reference: torch.Tensor,
    candidates: list[torch.Tensor],
    samples: int | None = None,
    max_samples: int = 2000,
    z: float = Z_95,
    batch: int = 10,
    generator: torch.Generator | None = None,
) -> Comparison:
    """Distances of each candidate (1, 3, H, W) to ``reference`` under shared draws.

    With ``samples`` set, exactly that many draws; otherwise batches of ``batch`` until the closest
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
    deterministic = metric.config.transforms is None
    target = 1 if deterministic else samples or max_samples
    step = target if samples or deterministic else batch
    chunks: list[torch.Tensor] = []
    taken = 0
    while taken < target:
        count = min(step, target - taken)
        chunks.append(_per_draw_distances(metric, images, i, j, count, generator))
        taken += count
        result = _comparison(torch.cat(chunks))
        if samples is None and taken >= 2 * batch and result.confidence_z() >= z:
            break
    return result


def _comparison(per_draw: torch.Tensor) -> Comparison:
    differences = per_draw[:, :, None] - per_draw[:, None, :]
    return Comparison(per_draw.mean(0), _stderr(per_draw), differences.mean(0), _stderr(differences), per_draw.shape[0])
