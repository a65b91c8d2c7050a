"""Texture synthesis at in-between statistics: each frame one texture, not two overlaid.

A frame at time t is optimised (Adam on its pixels, from a start image) until its VGG feature distributions
match, on random directions redrawn each step, the interpolated quantiles of two sources' (`geometry.paths.sliced`:
the sliced optimal-transport loss of Heitz et al. 2021 towards the displacement interpolation). The sources
are the endpoints themselves for one texture becoming another, or the endpoints turned and scaled to the
in-between orientation and size for a turn or a zoom (`geometry.paths.textures.warped_endpoints`). Endpoints
that are grey (equal channels) give grey frames: one channel is optimised.

The optimisation keeps the layout of its start: 30 steps from the dissolve left the brick wall's mortar lines
where they were in the middle of a change (layout correlation with the wall +0.68, the dissolve's +0.66). A
texture change therefore starts from :class:`FreshLayoutPath`, whose middle frame has a layout of its own.
"""
from __future__ import annotations

import math
import threading

import torch

from geometry.engine import phases
from geometry.paths.sliced import directions, feature_clouds, interpolated, quantiles

#: Directions per layer and step, Adam's step size (pixel units) and the default number of steps.
DIRECTIONS, LEARNING_RATE, STEPS = 64, 0.02, 30


def is_grey(image: torch.Tensor) -> bool:
    return bool((image - image.mean(1, keepdim=True)).abs().max() < 1e-6)


def synthesise(first: torch.Tensor, second: torch.Tensor, times: torch.Tensor, start: torch.Tensor, *,
               steps: int = STEPS, generator: torch.Generator | None = None,
               cancel: threading.Event | None = None) -> torch.Tensor | None:
    """Frames (T, 3, H, W) in [0, 1] optimised from `start` (T, 3, H, W) for `steps` Adam steps towards the
    statistics (1 - t) first + t second at each time (T,): `first` and `second` are one image (1, 3, H, W)
    or one per frame (T, 3, H, W), of the frames' size. Directions come from `generator` (CPU; default seeded
    0); the work is done on `start`'s device, in float32. Reports the phase "synthesis" before each step
    (`geometry.engine.phases`); None when `cancel` is set before a step (a Cancel stops it within one)."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    device = start.device
    first, second = first.detach().float().to(device), second.detach().float().to(device)
    grey = is_grey(first) and is_grey(second) and is_grey(start)
    variable = start.detach().float()[:, :1] if grey else start.detach().float()
    variable = variable.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([variable], lr=LEARNING_RATE)
    with torch.no_grad():
        sources = feature_clouds(torch.cat([first, second]))
    split = first.shape[0]
    for step in range(steps):
        if cancel is not None and cancel.is_set():
            return None
        phases.report("synthesis", step / steps)
        image = variable.expand(-1, 3, -1, -1) if grey else variable
        clouds = feature_clouds(image)
        slices = directions(clouds, DIRECTIONS, generator)
        with torch.no_grad():
            projected = quantiles(sources, slices)
            targets = interpolated([q[:split] for q in projected], [q[split:] for q in projected], times)
        loss = sum((q - target).square().mean() for q, target in zip(quantiles(clouds, slices), targets))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            variable.clamp_(0, 1)
    result = variable.detach()
    return (result.expand(-1, 3, -1, -1) if grey else result).contiguous()


#: Seed of the fresh layout's random phases (`FreshLayoutPath`).
PHASE_SEED = 20261206


class FreshLayoutPath:
    """The texture change's start: each endpoint's own layout fades out while a fresh one fades in, so the
    middle frame copies neither endpoint's arrangement and the path stays continuous (neighbouring frames close).
    The frame at time t is

        mean_t + alpha(t) (a - mean_a) + beta(t) (b - mean_b) + gamma(t) noise_t

    with alpha = cos(pi t) up to t = 1/2 and 0 after, beta = cos(pi (1 - t)) from t = 1/2 on and 0 before,
    gamma = sqrt(1 - alpha^2 - beta^2) (the power kept: the three parts are unrelated), mean_t the endpoints' means
    interpolated; noise_t is random-phase noise (Galerne et al. 2011) with the interpolated power spectrum
    (1 - t) |A|^2 + t |B|^2 of the endpoints `a` and `b` given here and ONE phase field for every t, drawn from
    PHASE_SEED at their size: at t = 1/2 the frame is that noise alone. At another size the noise is resized.
    A fresh layout at every time would not be a path: its first frame jumps away from a."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, seed: int = PHASE_SEED):
        white = torch.randn(tuple(a.shape[-2:]), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        spectrum = torch.fft.fft2(white)
        self.phase = spectrum / spectrum.abs().clamp_min(1e-12)
        self.power_a, self.power_b = (torch.fft.fft2(x - x.mean((-2, -1), keepdim=True)).abs().square()
                                      for x in (a.detach().double().cpu(), b.detach().double().cpu()))

    def noise(self, times: torch.Tensor) -> torch.Tensor:
        """(T, C, h, w) at the size of the endpoints given at construction, mean 0."""
        t = times.to(torch.float64).cpu().view(-1, 1, 1, 1)
        return torch.fft.ifft2(((1 - t) * self.power_a + t * self.power_b).sqrt() * self.phase).real

    def frames(self, a: torch.Tensor, b: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        from geometry.paths.render import field_at

        t = times.to(torch.float64).cpu().view(-1, 1, 1, 1)
        alpha = torch.where(t < 0.5, torch.cos(math.pi * t), torch.zeros_like(t))
        beta = torch.where(t > 0.5, torch.cos(math.pi * (1 - t)), torch.zeros_like(t))
        gamma = (1 - alpha.square() - beta.square()).clamp_min(0).sqrt()
        noise = field_at(self.noise(times), tuple(a.shape[-2:])).to(a.device)
        t, alpha, beta, gamma = (w.to(a.device) for w in (t, alpha, beta, gamma))
        a64, b64 = a.double(), b.double()
        mean_a, mean_b = a64.mean((-2, -1), keepdim=True), b64.mean((-2, -1), keepdim=True)
        frames = ((1 - t) * mean_a + t * mean_b + alpha * (a64 - mean_a) + beta * (b64 - mean_b) + gamma * noise)
        return frames.clamp(0, 1).to(a.dtype)


#: The times at which a synthesised path's frames are synthesised by default (its knots); between them the
#: corrections are interpolated linearly.
KNOTS = (0.25, 0.5, 0.75)


class SynthesisPath:
    """A path `base` (an object with ``frames(a, b, times)``: `FreshLayoutPath`, the dissolve, the texture path)
    whose frames at the `knots` (increasing times in (0, 1)) were re-synthesised at in-between statistics: at a
    knot, at the size it was synthesised at, the synthesised frame itself; at any other time or size, the base's
    frame plus the knots' corrections (synthesised minus base frame) interpolated linearly in t (none at the endpoints),
    resized to the endpoints' size. Since the dissolve is linear in t, between two knots of a dissolve base the
    frames are the blend of the two synthesised knots."""

    def __init__(self, base, made: torch.Tensor, start: torch.Tensor, knots=KNOTS):
        self.base = base
        self.made = made.detach().float().cpu()
        self.corrections = self.made - start.detach().float().cpu()
        self.knots = torch.as_tensor(knots, dtype=torch.float64).cpu()

    def frames(self, a: torch.Tensor, b: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        from geometry.paths.render import field_at

        times = times.to(torch.float64).cpu()
        knots = torch.cat([torch.zeros(1, dtype=torch.float64), self.knots, torch.ones(1, dtype=torch.float64)])
        zero = torch.zeros_like(self.corrections[:1])
        corrections = field_at(torch.cat([zero, self.corrections, zero]), tuple(a.shape[-2:]))
        upper = torch.searchsorted(knots, times.clamp(0, 1), right=True).clamp(1, len(knots) - 1)
        weight = ((times - knots[upper - 1]) / (knots[upper] - knots[upper - 1])).float().view(-1, 1, 1, 1)
        blended = (1 - weight) * corrections[upper - 1] + weight * corrections[upper]
        base = self.base.frames(a, b, times)
        frames = (base + blended.to(base.device, base.dtype)).clamp(0, 1)
        if tuple(a.shape[-2:]) == tuple(self.made.shape[-2:]):
            for row, time in enumerate(times.tolist()):
                hit = (self.knots == time).nonzero()
                if len(hit):
                    frames[row] = self.made[int(hit[0])].to(frames.device, frames.dtype)
        return frames


def synthesised_path(base, a: torch.Tensor, b: torch.Tensor, *, knots=KNOTS, steps: int = STEPS,
                     generator: torch.Generator | None = None, device=None,
                     cancel: threading.Event | None = None) -> SynthesisPath | None:
    """`base`'s frames at the `knots` (increasing times in (0, 1): a tuple or a tensor) re-synthesised from
    themselves (`synthesise`): towards the endpoints' interpolated statistics, or, for a base with a
    ``sources(a, b, times)`` method (the texture path: the endpoints turned and scaled to each time), towards
    those sources' statistics. The path's frames at the knots are the syntheses. `device`: where (default a's).
    None when `cancel` stopped the synthesis."""
    work = torch.device(device) if device is not None else a.device
    a_work, b_work = a.detach().float().to(work), b.detach().float().to(work)
    times = torch.as_tensor(knots, dtype=torch.float64).cpu()
    start = base.frames(a_work, b_work, times).float()
    first, second = base.sources(a_work, b_work, times) if hasattr(base, "sources") else (a_work, b_work)
    made = synthesise(first, second, times, start, steps=steps, generator=generator, cancel=cancel)
    return None if made is None else SynthesisPath(base, made, start, times)
