"""Refinements of the warp path's middle frame under E-LPIPS, as tried for issue 26 (the benchmark that measures them:
benchmarks/bench_interpolation.py; what they scored: benchmarks/results/refine-variants.md).

Each takes the endpoints a, b ((1, 3, H, W) at the working size), the warp path found between them
(`geometry.paths.render.WarpPath`), a metric (`elpips.Metric`) and a seed, and returns the middle frame
(1, 3, H, W) that minimises, in its own way, the E-LPIPS path energy d(a, x)^2 + d(x, b)^2 (the draws of a
step shared by both distances):

* :func:`path_parameters`: over the warp path's own parameters: a correction of the flow on a coarse control
  grid (one point per GRID px), the visibility maps (as logits) and a residual image with a penalty;
* :func:`held_pixels`: over the free pixels, with a penalty on their distance from the start and early
  stopping once the energy stops falling;
* :func:`masked_pixels`: over the pixels where the two warped endpoints disagree (a change masked by their
  difference), elsewhere the start stays.

None of them is the engine's default: they did not end no worse than their start on every measure.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from geometry.paths.render import WarpPath
from geometry.paths.warps import warp

HALF = torch.tensor([0.5], dtype=torch.float64)
STEPS = 40
DRAWS = 4
GRID = 4                 # px of the working size per flow control point
RESIDUAL_PENALTY = 10.0  # on the residual's mean square
HOLD = 10.0              # on the mean square distance of the pixels from their start
PATIENCE = 8             # steps without a new lowest (smoothed) energy before stopping


def _energy(metric, a: torch.Tensor, x: torch.Tensor, b: torch.Tensor, seed: int) -> torch.Tensor:
    """d(a, x)^2 + d(x, b)^2 under one set of DRAWS draws (from `seed`)."""
    first = metric(a, x, samples=DRAWS, generator=torch.Generator().manual_seed(seed))
    second = metric(x, b, samples=DRAWS, generator=torch.Generator().manual_seed(seed))
    return (first.square() + second.square()).sum()


def _logit(seen: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    if seen is None:
        return torch.full_like(like[:, :1], 4.0)
    return torch.logit(seen.clamp(0.02, 0.98))


def path_parameters(a: torch.Tensor, b: torch.Tensor, path: WarpPath, metric, seed: int = 0,
                    steps: int = STEPS) -> torch.Tensor:
    """The middle frame of the warp path with its flow (coarse grid), visibility and residual optimised."""
    size = tuple(a.shape[-2:])
    grid = tuple(max(2, side // GRID) for side in size)
    correction = torch.zeros(1, 2, *grid, requires_grad=True)
    logits = [_logit(path.seen_a, a).clone().requires_grad_(True), _logit(path.seen_b, a).clone().requires_grad_(True)]
    residual = torch.zeros(1, 3, *size, requires_grad=True)
    optimizer = torch.optim.Adam([{"params": [correction], "lr": 0.05}, {"params": logits, "lr": 0.1},
                                  {"params": [residual], "lr": 0.003}])
    with torch.enable_grad():
        for step in range(steps):
            flow = path.flow + F.interpolate(correction, size=size, mode="bilinear", align_corners=True)
            current = WarpPath(flow, torch.sigmoid(logits[0]), torch.sigmoid(logits[1]), residual)
            middle = current.frames(a, b, HALF, clamp=False)
            loss = _energy(metric, a, middle, b, seed + step) + RESIDUAL_PENALTY * residual.square().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        flow = path.flow + F.interpolate(correction, size=size, mode="bilinear", align_corners=True)
        return WarpPath(flow, torch.sigmoid(logits[0]), torch.sigmoid(logits[1]), residual).frames(a, b, HALF)


def _pixels(a: torch.Tensor, b: torch.Tensor, start: torch.Tensor, metric, seed: int, steps: int,
            mask: torch.Tensor | None, hold: float) -> torch.Tensor:
    change = torch.zeros_like(start, requires_grad=True)
    optimizer = torch.optim.Adam([change], lr=0.003)
    best, best_energy, since, smoothed = start, float("inf"), 0, None
    with torch.enable_grad():
        for step in range(steps):
            moved = change if mask is None else change * mask
            middle = (start + moved).clamp(0, 1)
            energy = _energy(metric, a, middle, b, seed + step)
            loss = energy + hold * moved.square().mean()
            smoothed = energy.item() if smoothed is None else 0.7 * smoothed + 0.3 * energy.item()
            if smoothed < best_energy:
                best, best_energy, since = middle.detach(), smoothed, 0
            else:
                since += 1
                if since >= PATIENCE:
                    break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return best


def held_pixels(a: torch.Tensor, b: torch.Tensor, path: WarpPath, metric, seed: int = 0,
                steps: int = STEPS) -> torch.Tensor:
    """The warp path's middle frame refined over its pixels, held near it, stopped when the energy stops falling."""
    return _pixels(a, b, path.frames(a, b, HALF), metric, seed, steps, None, HOLD)


def disagreement(a: torch.Tensor, b: torch.Tensor, path: WarpPath) -> torch.Tensor:
    """(1, 1, H, W) in [0, 1]: where the two endpoints warped to the middle differ (their largest channel
    difference over 0.1, smoothed over 3x3 px)."""
    flow = path.flow
    from_a, _ = warp(a, -0.5 * flow)
    from_b, _ = warp(b, 0.5 * flow)
    differ = ((from_a - from_b).abs().amax(1, keepdim=True) / 0.1).clamp(0, 1)
    return F.max_pool2d(differ, 3, stride=1, padding=1)


def masked_pixels(a: torch.Tensor, b: torch.Tensor, path: WarpPath, metric, seed: int = 0,
                  steps: int = STEPS) -> torch.Tensor:
    """The warp path's middle frame refined only where the warped endpoints disagree (`disagreement`)."""
    return _pixels(a, b, path.frames(a, b, HALF), metric, seed, steps, disagreement(a, b, path), 0.0)
