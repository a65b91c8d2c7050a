"""A path's frames spaced evenly under a distance: the cross-dissolve's (the pixel-only fast geodesics' start)
or any other path x(t), such as the warp path of the motion geodesics (`geometry.paths.motion`).

A geodesic's consecutive frames are equally far apart. The cross-dissolve x(t) = (1 - t) a + t b at equal
times t is not, under E-LPIPS: its distance changes fastest where the two images' structures overlap, and
the steps of a 10-frame dissolve differ severalfold (docs/pixel-paths.md: their max/min ratio). Choosing the
times so that the steps are equal makes a start with a lower path energy and even segments, which the
optimiser then sharpens; it costs forward passes only, at the first stage's size (the "string method" of
chemistry reparametrises its paths so).

The times come from a fine grid of the dissolve: with d(t, t + h) ~ h^p for small h (p is measured from
the grid: distances over one and two grid steps), L(t) = sum of d^(1/p) along the grid grows evenly along
the path, and equal steps of L give equal distances. A few rounds then measure the chosen frames' own
consecutive distances and redistribute them the same way.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import torch

from geometry.engine import phases
from geometry.engine.inputs import resize

#: Grid points per frame step, draws shared by every distance, correction rounds.
FINE = 4
DRAWS = 8
ROUNDS = 2


def dissolve(a: torch.Tensor, b: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W): the frames (1 - t) a + t b."""
    t = times.to(a.device, a.dtype).view(-1, 1, 1, 1)
    return (1 - t) * a + t * b


def even_times(a: torch.Tensor, b: torch.Tensor, count: int, metric: Any, generator: torch.Generator, *,
               size: tuple[int, int] | None = None, device: torch.device | str = "cpu",
               path: Callable[[torch.Tensor], torch.Tensor] | None = None,
               cancel: threading.Event | None = None) -> torch.Tensor | None:
    """The `count` inner times t_1 < ... < t_count in (0, 1) whose frames, with a and b, are equally far apart
    under `metric` (any distance with ``sample_draws``/``embed``/``embedding_distance``), measured at `size`
    (default: the images' own) on DRAWS draws from `generator`. The frames are the dissolve's, or those of
    `path` (times -> (T, 3, H, W) frames at any size, e.g. a warp path, `geometry.paths.motion`). Returns a float64
    CPU tensor, or None when `cancel` is set first (it is checked before every draw's forward pass). Reports its
    progress as the phase "spacing" (`geometry.engine.phases`)."""
    if size is not None:
        a, b = resize(a, size), resize(b, size)
    a, b = a.to(device), b.to(device)
    if path is None:
        def frames(times: torch.Tensor) -> torch.Tensor:
            return dissolve(a, b, times)
    else:
        def frames(times: torch.Tensor) -> torch.Tensor:
            return resize(path(times), tuple(a.shape[-2:])).to(device, a.dtype)
    draws = sample_spacing_draws(metric.sample_draws, generator)
    steps = FINE * (count + 1)
    total = even_times_evaluations(count)
    phases.report("spacing", 0.0)
    grid = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    measured = consecutive_distances(metric, frames(grid), draws, lags=(1, 2), cancel=cancel)
    if measured is None:
        return None
    one_step, two_steps = measured
    done = DRAWS * (steps + 1)
    phases.report("spacing", done / total)
    exponent = float(torch.log2(two_steps / (one_step[:-1] * one_step[1:]).sqrt()).median().clamp(1.0, 2.0))
    times = equal_steps(grid, one_step, exponent, count + 2)
    for _ in range(ROUNDS):
        retiming = retimed(metric, frames(times), times, draws, exponent, cancel)
        if retiming is None:
            return None
        times = retiming.times
        done += DRAWS * (count + 2)
        phases.report("spacing", done / total)
    return times[1:-1]


@dataclass(frozen=True)
class Retiming:
    """One re-timing round: the new `times` (float64 CPU, 0 and 1 included) and the `spread` (max/min) of the
    consecutive distances measured at the old ones, which says how even the frames measured were."""

    times: torch.Tensor
    spread: float


def retimed(metric: Any, frames: torch.Tensor, times: torch.Tensor, draws: list, exponent: float,
            cancel: threading.Event | None = None) -> Retiming | None:
    """One round of re-timing: the path's `frames` (endpoints included) at `times` (0 and 1 included) are measured
    under `metric` on `draws`, and the same number of times returned at equal steps of L = consecutive
    distances^(1/exponent), piecewise linear between the frames; None when `cancel` is set before a draw. It costs
    DRAWS x frames evaluations (forward only)."""
    measured = consecutive_distances(metric, frames, draws, lags=(1,), cancel=cancel)
    if measured is None:
        return None
    return Retiming(equal_steps(times, measured[0], exponent, len(times)), float(measured[0].max() / measured[0].min()))


def sample_spacing_draws(sample: Callable[[int, torch.Generator], Any], generator: torch.Generator) -> list:
    """The DRAWS single draws the spacing measures on, in turn from `generator` by `sample` (a distance's
    ``sample_draws``): single draws, not a stratified block, so their scale levels (and costs) vary from one seed
    to another, and the forecast prices the ones a run will take (`app.forecast.spacing_draw_cost`)."""
    return [sample(1, generator) for _ in range(DRAWS)]


def even_times_evaluations(count: int) -> int:
    """Network evaluations (forward only, one image under one draw, at the measuring size) of even_times."""
    return DRAWS * (FINE * (count + 1) + 1 + ROUNDS * (count + 2))


def consecutive_distances(metric: Any, frames: torch.Tensor, draws: list, lags: tuple[int, ...],
                          cancel: threading.Event | None = None) -> list[torch.Tensor] | None:
    """For each lag, the mean over the draws of d(frame k, frame k + lag) (float64 CPU, at least 1e-12); None when
    `cancel` is set before a draw."""
    n = frames.shape[0]
    totals = [torch.zeros(n - lag, dtype=torch.float64) for lag in lags]
    with torch.no_grad():
        for draw in draws:
            if cancel is not None and cancel.is_set():
                return None
            embedding = metric.embed(frames, draw)
            for total, lag in zip(totals, lags):
                index = torch.arange(n - lag, device=frames.device)
                total += metric.embedding_distance(embedding, index, index + lag).double().mean(0).cpu()
    return [(total / len(draws)).clamp_min(1e-12) for total in totals]


def equal_steps(times: torch.Tensor, distances: torch.Tensor, exponent: float, frames: int) -> torch.Tensor:
    """`frames` times from 0 to 1 at equal steps of L = cumulative distances^(1/exponent) along `times`
    (piecewise linear between them)."""
    length = cumulative_length(distances, exponent)
    return parameters_at(times, length, torch.linspace(0, float(length[-1]), frames, dtype=torch.float64))


def cumulative_length(distances: torch.Tensor, exponent: float) -> torch.Tensor:
    """L at each knot of a path: 0, then the running sum of the knots' distances^(1/exponent)."""
    return torch.cat([torch.zeros(1, dtype=torch.float64), distances.pow(1 / exponent).cumsum(0)])


def parameters_at(knots: torch.Tensor, length: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The path parameters at which L (`length` at `knots`, piecewise linear between them) reaches `targets`;
    the first and last are 0 and 1."""
    upper = torch.searchsorted(length, targets).clamp(1, len(knots) - 1)
    low, high = length[upper - 1], length[upper]
    fraction = ((targets - low) / (high - low).clamp_min(1e-300)).clamp(0, 1)
    result = knots[upper - 1] + fraction * (knots[upper] - knots[upper - 1])
    result[0], result[-1] = 0.0, 1.0
    return result
