"""Named optimisation recipes.

A preset says how to initialise the free images and how to optimise them: a sequence of stages, each
at an image size (the output size divided by `divisor`) with its step count, Adam learning rate,
schedule and number of random draws per step. Coarse stages are cheap (a 1/2-size step costs about a
quarter of a full-size one) and their result is upsampled to start the next stage.

* ``"reference"``: the E-LPIPS authors' recipe, ELPIPS.md §6, exactly: x0 = 0.5 + 0.2 N(0, 1) clipped,
  Adam with lr(t) = 0.03 / (1 + 0.02 t'^0.75), one draw per step, clipping to [1e-5, 1 - 1e-5],
  100 000 steps, the reference's snapshot steps.
* ``"fast"``: the default, designed by measurement to reach the reference's quality after 2000 steps with
  1/20 of its network work. Both kinds start from the exact optimum under squared L2 (the weighted pixel
  mean, or the cross-dissolve) and refine it at full size with small Adam steps on a cosine schedule.
  Barycenters (`FAST`): 100 steps, lr 0.003, one draw per step: for a pair that is 300 image-evaluations
  against 6000 for 2000 reference steps. Measured at 64 px (benchmarks/bench_geometry.py, 256 fixed draws;
  reference after 2000 steps vs fast; paired differences share the draws and are known to +- 0.000007):
  - cat/dog average: reference 0.001098; fast 0.001057 at 50 steps (150 evaluations: 40x fewer; 6 s vs
    254 s), 0.001042 at 100, 0.000989 at 400. The pixel mean: 0.001162.
  - an image and its copy moved 12 px: reference 0.000533; fast 0.000594 at 100 steps, 0.000543 at 200,
    0.000501 at 400 (about 5x fewer evaluations). The pixel mean scores 0.001013 and the true 6 px translation
    0.000683: E-LPIPS rates the sharpened overlap that both recipes reach as a better average than the
    half-way translation (ELPIPS.md §6 saw the noise start become one object only after 2500 steps).
  - bary10 shift: sharpness 0.75x the source's (pixel mean 0.49x), energy 0.000075 (pixel mean 0.000612).
  Tried and measured worse at 300 evaluations (cat/dog energy, 12 px pair energy): the previous default,
  coarse to fine from the reference's noise (300/100/50 steps at 1/4, 1/2 and full size): 0.00160, with
  leftover colour noise (sharpness 2.0x the pixel mean's); the same from the pixel mean: 0.00134, 0.00089;
  from noise at full size, on pixels or on a Laplacian pyramid: 0.0038 / 0.0026; lr 0.004 / 0.006:
  0.00105 / 0.00108, 0.00059 / 0.00058 (larger steps move the overlap faster but add noise); 50 steps of
  2 draws: 0.00105, 0.00062; 25 steps of 4 draws, lr 0.012: 0.00113, 0.00066; lr 0.006 with the output
  averaged over the last ~10-20 iterates: 0.00108, 0.00059; Adam on a Laplacian pyramid of the pixel mean
  (3 levels, lr 0.003 / 2 levels, lr 0.002): 0.00107 / 0.00105, 0.00057 / 0.00058. Coarse stages lose detail that full-size
  refinement must then rebuild, and noise takes thousands of steps to average out.
  Geodesics (`FAST_PATH`): a path optimises all its frames at once (10 frames = 10 images per draw), so it
  starts from the cross-dissolve (ELPIPS.md §6: for content at disjoint positions that is even the shorter
  E-LPIPS path; motion appears where it is shorter) and refines it with 60 steps of 4 draws (see the
  measurements at `FAST_PATH`).
  benchmarks/bench_geometry.py prints the measurements above; the variants tried were measured with the
  same estimates by one-off scripts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .schedules import SCHEDULES


@dataclass(frozen=True)
class Stage:
    divisor: int     # image size = output size / divisor (rounded)
    steps: int
    lr: float        # Adam base learning rate
    schedule: str    # see geometry.schedules
    draws: int       # random transformations per step, shared by all images

    def __post_init__(self):
        if self.divisor < 1 or self.steps < 0 or self.draws < 1 or self.lr <= 0:
            raise ValueError(f"invalid stage {self}: divisor >= 1, steps >= 0, draws >= 1 and lr > 0 are required")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: use one of {SCHEDULES}")


@dataclass(frozen=True)
class Preset:
    name: str
    init: str                  # "noise" (the reference's) or "mean" (weighted pixel mean / cross-dissolve)
    stages: tuple[Stage, ...]

    @property
    def steps(self) -> int:
        return sum(stage.steps for stage in self.stages)

    def with_steps(self, steps: int) -> "Preset":
        """The same recipe with `steps` in total, shared among the stages in the preset's proportions."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        total = self.steps
        shares = [stage.steps * steps / total for stage in self.stages]
        counts = [int(share) for share in shares]
        counts[-1] += steps - sum(counts)  # rounding goes to the finest stage
        return replace(self, stages=tuple(replace(s, steps=c) for s, c in zip(self.stages, counts)))

    def with_draws(self, draws: int) -> "Preset":
        return replace(self, stages=tuple(replace(s, draws=int(draws)) for s in self.stages))

    def with_init(self, init: str) -> "Preset":
        return replace(self, init=init)

    def to_dict(self) -> dict:
        return asdict(self)


def reference_snapshot_steps(total: int) -> list[int]:
    """The reference scripts' snapshot steps: 0, 1, 2, 3, 5, 7, 10, ..., 1500, then every 500, up to `total`."""
    early = [0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 400, 600, 900, 1200, 1500]
    return [s for s in early if s <= total] + list(range(2000, total + 1, 500))


REFERENCE = Preset("reference", init="noise", stages=(Stage(1, 100_000, 0.03, "reference", 1),))

FAST = Preset("fast", init="mean", stages=(Stage(1, 100, 0.003, "cosine", 1),))

# Geodesics start from the cross-dissolve and stay at full size with a small step and 4 draws per step.
# Measured (cat -> dog, 6 frames at 64 px, path energy from 64 fixed draws; cross-dissolve 0.00041, max/min
# consecutive distance 1.96): coarse-to-fine from the cross-dissolve (150/80/30 steps at 1/4, 1/2, 1)
# loses the detail that the endpoints keep and ends far above it (10 frames: 0.0028 vs 0.0001); full size,
# lr 0.01: 0.00070 (Adam's noisy steps add texture); lr 0.003: 0.00036; lr 0.001: 0.00033, max/min 1.31;
# lr 0.003 with 4 draws: 0.00030, max/min 1.07, about 50 s on 2 cores.
FAST_PATH = Preset("fast", init="mean", stages=(Stage(1, 60, 0.003, "cosine", 4),))

PRESETS = {preset.name: preset for preset in (REFERENCE, FAST)}
PATH_PRESETS = {"reference": REFERENCE, "fast": FAST_PATH}


def get_preset(preset: str | Preset, kind: str = "barycenter") -> Preset:
    """The recipe named `preset` for `kind` ("barycenter" or "geodesic"); Preset objects pass through."""
    if isinstance(preset, Preset):
        return preset
    table = PATH_PRESETS if kind == "geodesic" else PRESETS
    if preset not in table:
        raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(table)} or a geometry.presets.Preset")
    return table[preset]
