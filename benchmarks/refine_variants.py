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

:func:`consistency` has another data term: not the path energy of the middle frame but how well the two endpoints,
each warped half way, agree (E-LPIPS between them plus a robust pixel difference, each relative to its value at
the start), over a correction of the flow on a control grid held near the flow search's flow; the draws are fixed,
so the energy is one function, the lowest of it found is kept (the start when nothing is lower) and the search
stops when it stops falling.

Importing the module registers each variant as a method of benchmarks/bench_interpolation.py ("refine ...").
None of them is the engine's default: they did not end no worse than their start on every measure.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from geometry.paths.flows import CHARBONNIER_EPS
from geometry.paths.render import SAMPLING, WarpPath
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


class _Lowest:
    """The early stop both refinements share: keeps the candidate of the lowest energy seen (lower by more than
    the relative ``margin``) and says when `PATIENCE` steps in a row brought none."""

    def __init__(self, start: torch.Tensor | None, margin: float = 0.0):
        self.best, self.energy, self.margin, self.since = start, float("inf"), margin, 0

    def stalled(self, energy: float, candidate: torch.Tensor) -> bool:
        if energy < self.energy * (1 - self.margin):
            self.best, self.energy, self.since = candidate.detach(), energy, 0
            return False
        self.since += 1
        return self.since >= PATIENCE


def _pixels(a: torch.Tensor, b: torch.Tensor, start: torch.Tensor, metric, seed: int, steps: int,
            mask: torch.Tensor | None, hold: float) -> torch.Tensor:
    change = torch.zeros_like(start, requires_grad=True)
    optimizer = torch.optim.Adam([change], lr=0.003)
    lowest, smoothed = _Lowest(start), None
    with torch.enable_grad():
        for step in range(steps):
            moved = change if mask is None else change * mask
            middle = (start + moved).clamp(0, 1)
            energy = _energy(metric, a, middle, b, seed + step)
            loss = energy + hold * moved.square().mean()
            smoothed = energy.item() if smoothed is None else 0.7 * smoothed + 0.3 * energy.item()
            if lowest.stalled(smoothed, middle):
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return lowest.best


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


CONSISTENCY_STEPS = 20
CONSISTENCY_DRAWS = 2
CONSISTENCY_GRID = 2      # px of the working size per control point of the flow's correction
CONSISTENCY_LR = 0.05     # px per Adam step
ANCHOR = 0.05             # on the correction's mean square (px^2), against energies of about 2
STALL = 1e-4              # relative fall below which a step counts as not falling


def _agreement(a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor, metric, draws) -> tuple[torch.Tensor, ...]:
    """(E-LPIPS between a and b warped half way along `flow` (0 without a metric), their Charbonnier difference
    over the pixels both see)."""
    from_a, inside_a = warp(a, -0.5 * flow, SAMPLING)
    from_b, inside_b = warp(b, 0.5 * flow, SAMPLING)
    perceptual = torch.zeros(())
    if metric is not None:
        embedding = metric.embed(torch.cat([from_a, from_b]).clamp(0, 1), draws)
        perceptual = metric.embedding_distance(embedding, torch.tensor([0]), torch.tensor([1])).mean()
    seen = inside_a * inside_b
    robust = ((from_a - from_b).square() + CHARBONNIER_EPS ** 2).sqrt()
    return perceptual, (robust * seen).sum() / (3 * seen.sum()).clamp_min(1.0)


def consistency(a: torch.Tensor, b: torch.Tensor, path: WarpPath, metric, seed: int = 0,
                steps: int = CONSISTENCY_STEPS) -> WarpPath:
    """The warp path with its flow corrected so that the endpoints warped half way agree (see the module);
    `metric` None leaves the pixel term alone. Returns the path (the start itself when no step lowered the
    energy)."""
    size = tuple(a.shape[-2:])
    grid = tuple(max(2, side // CONSISTENCY_GRID) for side in size)
    draws = None if metric is None else metric.sample_draws(CONSISTENCY_DRAWS, torch.Generator().manual_seed(seed),
                                                            stratify=CONSISTENCY_DRAWS)
    correction = torch.zeros(1, 2, *grid, requires_grad=True)
    optimizer = torch.optim.Adam([correction], lr=CONSISTENCY_LR)
    with torch.no_grad():
        scale = [max(term.item(), 1e-12) for term in _agreement(a, b, path.flow, metric, draws)]
    lowest = _Lowest(None, margin=STALL)
    with torch.enable_grad():
        for _ in range(steps + 1):
            flow = path.flow + F.interpolate(correction, size=size, mode="bilinear", align_corners=True)
            perceptual, pixels = _agreement(a, b, flow, metric, draws)
            energy = (perceptual / scale[0] + pixels / scale[1]
                      + ANCHOR * correction.square().mean())
            if lowest.stalled(energy.item(), flow):
                break
            optimizer.zero_grad(set_to_none=True)
            energy.backward()
            optimizer.step()
    return WarpPath(lowest.best, path.seen_a, path.seen_b, path.residual)


def _register() -> None:
    from interpolation_methods import Job, method

    from geometry.engine.distances import DistanceFamily
    from geometry.paths.motion import MOTION_STARTS

    def start(job: Job) -> WarpPath:
        return MOTION_STARTS["warp"](job.a, job.b).shape

    def metric(job: Job):
        return DistanceFamily("elpips_vgg", torch.device("cpu")).at_size(tuple(job.a.shape[-2:]))

    @method("refine consistency", expensive=True)
    def refine_consistency(job: Job) -> torch.Tensor:
        """the warp path's flow corrected (2 px grid, anchored) so the half-warped endpoints agree under E-LPIPS
        (2 fixed draws) and a Charbonnier pixel term; the start kept where nothing is lower"""
        return consistency(job.a, job.b, start(job), metric(job), job.seed).frames(job.a, job.b, HALF).float()

    @method("refine consistency, pixels only")
    def refine_consistency_pixels(job: Job) -> torch.Tensor:
        """as refine consistency without the E-LPIPS term (a finer flow grid under the pixel term alone)"""
        path = consistency(job.a, job.b, start(job), None, job.seed)
        return path.frames(job.a, job.b, HALF).float()

    @method("refine path parameters", expensive=True)
    def refine_path_parameters(job: Job) -> torch.Tensor:
        """flow grid + visibility + residual under the E-LPIPS path energy (refine_variants.path_parameters)"""
        return path_parameters(job.a, job.b, start(job), metric(job), job.seed).float()

    @method("refine held pixels", expensive=True)
    def refine_held_pixels(job: Job) -> torch.Tensor:
        """pixels under the path energy held near the start, early stopping (refine_variants.held_pixels)"""
        return held_pixels(job.a, job.b, start(job), metric(job), job.seed).float()

    @method("refine masked pixels", expensive=True)
    def refine_masked_pixels(job: Job) -> torch.Tensor:
        """pixels under the path energy where the warped endpoints disagree (refine_variants.masked_pixels)"""
        return masked_pixels(job.a, job.b, start(job), metric(job), job.seed).float()


_register()
