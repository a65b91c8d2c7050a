"""Named optimisation recipes.

A preset says how to initialise the free images and how to optimise them: a sequence of stages, each
at an image size (the output size divided by `divisor`) with its step count, Adam learning rate,
schedule and number of random draws per step. Coarse stages are cheap (a 1/2-size step costs about a
quarter of a full-size one) and their result is upsampled to start the next stage.

* ``"reference"``: the E-LPIPS authors' recipe, ELPIPS.md §6, exactly: x0 = 0.5 + 0.2 N(0, 1) clipped,
  Adam with lr(t) = 0.03 / (1 + 0.02 t'^0.75), one draw per step, clipping to [1e-5, 1 - 1e-5],
  100 000 steps, the reference's snapshot steps.
* ``"fast"``: the default, designed for a budget of about 1/20 of the reference's network work at
  2000 steps. Barycenters (`FAST`):
  - Initialisation from the reference's noise, not the pixel mean: ELPIPS.md §6 measured that the
    mean of an image and its 12 px translate stays a double exposure when started from the mean, and
    becomes one object when started from noise. A fast recipe must keep that.
  - Coarse to fine: descending from noise is the slow part (measured here at 32 px: 30 full-size
    steps from noise shrink the E-LPIPS distance to the target only by a fifth), so it runs at 1/4
    size, where a step costs about 1/16 of the pixels and the translation is 4x smaller; the result is
    upsampled and refined at 1/2 and full size. Stage costs for a pair at 64 px, in full-size image
    evaluations: 300 * 3/16 + 100 * 3/4 + 50 * 3 = 281, vs 2000 * 3 = 6000 for 2000 reference steps.
  - A cosine schedule: with a fixed budget the large early steps and the small final ones (that average
    the stochastic gradient's noise) both fit; one draw per step (more draws cost proportionally more
    network evaluations per step).
  Geodesics (`FAST_PATH`): a path optimises all its frames at once (10 frames = 10 images per draw),
  so it starts from the cross-dissolve (ELPIPS.md §6: for content at disjoint positions that is even
  the shorter E-LPIPS path; motion appears where it is shorter) and refines it at full size with small
  steps: coarse stages lose the detail the endpoints keep (see the measurements at `FAST_PATH`).
  Measured here (2 shared, heavily loaded CPU cores; energies with 64 fixed draws): cat/dog average at
  64 px, FAST (450 steps, 281 full-size evaluations) reaches energy 0.00156 +- 0.00014, below the
  reference preset's 0.00188 +- 0.00015 after 200 steps (600 evaluations); at half the budget (141
  evaluations) 0.00190, not below. The pixel mean scores 0.00109 (the energy alone favours the mean;
  it is the motion that rules it out). Translation test at 32 px (an image and its copy moved 6 px): the
  same coarse-to-fine-from-noise recipe ends at E-LPIPS 0.0126 from the true 3 px translation, the
  pixel mean (double exposure) at 0.0191. Not yet measured: the reference at 2000 steps (the target of
  the ">= 20x" goal).
  The benchmark benchmarks/bench_geometry.py prints these numbers.
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

FAST = Preset(
    "fast",
    init="noise",
    stages=(
        Stage(4, 300, 0.05, "cosine", 1),
        Stage(2, 100, 0.03, "cosine", 1),
        Stage(1, 50, 0.01, "cosine", 1),
    ),
)

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
