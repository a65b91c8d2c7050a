"""The one sample-until-precise loop: draws taken in blocks until a stopping rule holds or a cap is reached.

E-LPIPS is an expectation over random transformations (Kettunen et al., 2019, "E-LPIPS: Robust
Perceptual Image Similarity via Random Transformation Ensembles"; docs/metric.md), so every number
computed from it is a mean over draws with a standard error. Every estimator of the library samples
through :func:`sample_blocks`:

- a :class:`SamplingPlan` with ``samples`` set takes exactly that many draws as one block, stratified in
  sub-blocks of ``block`` (made smaller where ``samples`` is not a multiple: 64 samples, sub-blocks of 8);
- without ``samples``, blocks of ``block`` draws (each stratified on its own) until ``stop()`` holds after
  a block, or ``max_samples`` draws were taken (the last block cut short by the cap);
- metrics without transformations are deterministic: one draw.

Stratified blocks have independent, unbiased means; :func:`standard_error` takes the error from their
spread, for a running mean too (one statistic while draws come in and at the end). ``Z_95`` and
:func:`confidence` turn standard errors into 95 % intervals and probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from .errors import InputError

if TYPE_CHECKING:  # torch loads when a standard error is computed: the command line starts without it
    import torch

#: Half-width of a 95 % confidence interval in standard errors (the reference's adaptive evaluator).
Z_95 = 1.96
#: Draws per block: the reference's batch.
BLOCK = 10
#: The reference's stopping rule: the 95 % error below this absolute bound ...
DEFAULT_MAX_ERROR = 0.01
#: ... and below this fraction of the value ...
DEFAULT_MAX_REL_ERROR = 0.025
#: ... or this many draws.
DEFAULT_MAX_SAMPLES = 5000
#: compare's default cap: a ranking settles with fewer draws than a distance
DEFAULT_COMPARE_MAX_SAMPLES = 2000

Block = TypeVar("Block")


def block_size(samples: int, block: int) -> int:
    """The largest block size up to ``block`` that splits ``samples`` into at least two whole blocks."""
    if samples < 1 or block < 1:
        raise InputError(f"samples and block must be >= 1, got {samples} and {block}")
    return next((b for b in range(min(block, samples // 2), 1, -1) if samples % b == 0), 1)


@dataclass(frozen=True)
class SamplingPlan:
    """How many draws to take: exactly ``samples``, or blocks of ``block`` up to ``max_samples``.

    ``stratified=False`` draws every block as independent draws (for distances without stratified
    sampling, e.g. a custom geometry distance); ``block`` is then just how many draws go per call.
    """

    samples: int | None = None
    max_samples: int = DEFAULT_MAX_SAMPLES
    block: int = BLOCK
    stratified: bool = True

    def __post_init__(self) -> None:
        if (self.samples is not None and self.samples < 1) or self.max_samples < 1 or self.block < 1:
            raise InputError(f"samples, max_samples and block must be >= 1, got {self.samples}, "
                             f"{self.max_samples} and {self.block}")

    def resolved(self, deterministic: bool) -> "SamplingPlan":
        """The plan as it runs: one draw for a deterministic metric, the sub-block size of a fixed count."""
        if deterministic:
            return replace(self, samples=1, block=1)
        if self.samples is not None:
            return replace(self, block=block_size(self.samples, self.block))
        return self

    @property
    def error_block(self) -> int:
        """The block size that :func:`standard_error` takes for draws of this (resolved) plan."""
        return self.block if self.stratified else 1


def sample_blocks(draw: Callable[[int, int], Block], plan: SamplingPlan,
                  stop: Callable[[], bool] = lambda: False) -> Iterator[Block]:
    """Yield ``draw(count, stratify)`` block by block as ``plan`` (already resolved) says.

    ``draw`` takes ``count`` draws balanced in blocks of ``stratify`` and returns what the caller keeps
    of them (per-draw distances, maps); ``stop()`` is asked after each block of an open-ended plan.
    """
    if plan.samples is not None:
        yield draw(plan.samples, plan.block if plan.stratified else 1)
        return
    taken = 0
    while True:
        count = min(plan.block, plan.max_samples - taken)
        yield draw(count, count if plan.stratified else 1)
        taken += count
        if taken >= plan.max_samples or stop():
            return


def standard_error(per_draw: torch.Tensor, block: int) -> torch.Tensor:
    """Standard error of the mean of (n, ...) per-draw values drawn in stratified blocks of ``block``
    (``block=1``: independent draws). From two whole blocks on, the spread of the whole blocks' means, scaled
    to the n draws (``std(means) * sqrt(block / n)``): a mean of draws still in an unfinished block gets the same
    statistic as the finished run, so an interval shown while draws come in does not jump when the last
    block completes. With fewer than two whole blocks, the independent-draws formula, an upper bound; zero for
    a single draw."""
    n = per_draw.shape[0]
    blocks = n // block
    if blocks >= 2:
        means = per_draw[: blocks * block].unflatten(0, (blocks, block)).mean(dim=1)
        return means.std(dim=0) * math.sqrt(block / n)
    if n < 2:
        return per_draw.new_zeros(per_draw.shape[1:])
    return per_draw.std(dim=0) / math.sqrt(n)


def confidence(difference: float, stderr: float | None) -> float:
    """Probability that a positive mean ``difference`` with standard error ``stderr`` really is positive,
    under a normal approximation (exact orderings, ``stderr`` 0 or None: 1, or 0.5 for a tie)."""
    if stderr is None or not stderr > 0:
        return 1.0 if difference > 0 else 0.5
    return 0.5 * (1.0 + math.erf(difference / stderr / math.sqrt(2.0)))
