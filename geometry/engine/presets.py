"""Named optimisation presets and the recipes they stand for.

A preset name (``PRESETS``, the ``preset`` option) stands for a `Preset`: the `Recipe` an average runs and the
one a path of a given frame size runs, the one place that says what a name means; `run_recipe`
is the one function that says which recipe a run takes. A `Recipe` says how
to start and how to optimise: a sequence of stages, each at an image size (the output size divided by
`divisor`) with its step count, Adam learning rate, schedule and number of random draws per step. A step
at half the size costs about a quarter as much, so presets spend their many steps small. Between stages
the engine carries the coarse stage's changes up and keeps the start's full-size detail
(`geometry.engine.optimize.StageCarry`).

* ``"reference"``: the E-LPIPS authors' recipe (Kettunen et al., 2019; docs/geometry.md) exactly:
  x0 = 0.5 + 0.2 N(0, 1) clipped, Adam with lr(t) = 0.03 / (1 + 0.02 t'^0.75), one draw per step,
  clipping to [1e-5, 1 - 1e-5], 100 000 steps, the reference's snapshot steps.
* ``"fast"``: the default. It starts from the exact optimum under squared L2 (the weighted pixel mean, or the
  cross-dissolve for a path) and refines it with small Adam steps on a cosine schedule: averages with 100
  steps of one draw at full size; paths (10 frames are 10 images per draw) with 60 steps of 4 draws at
  `PATH_WORK_SIDE` px and short refinements at each doubling of the size up to the output's. With the
  default motion start (`geometry.paths.motion`) geodesics and two-image averages start from the warp path instead.

Why these numbers: benchmarks/bench_geometry.py (time to the reference's quality, path energy and evenness)
and benchmarks/bench_motion.py (motion, resolution, wall time) measure them; the variants that lost are
listed with their numbers in benchmarks/results/.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from elpips.errors import InputError
from geometry.engine.schedules import SCHEDULES


@dataclass(frozen=True)
class Stage:
    divisor: int     # image size = output size / divisor (rounded)
    steps: int
    lr: float        # Adam base learning rate
    schedule: str    # see geometry.engine.schedules
    draws: int       # random transformations per step, shared by all images

    def __post_init__(self):
        if self.divisor < 1 or self.steps < 0 or self.draws < 1 or self.lr <= 0:
            raise InputError(f"invalid stage {self}: divisor >= 1, steps >= 0, draws >= 1 and lr > 0 are required")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r}: use one of {SCHEDULES}")


@dataclass(frozen=True)
class Recipe:
    name: str
    init: str                  # "noise" (the reference's), "mean" (pixel mean / cross-dissolve), "even" (the
                               # dissolve spaced evenly, geometry.paths.spacing) or "given"
    stages: tuple[Stage, ...]

    @property
    def steps(self) -> int:
        return sum(stage.steps for stage in self.stages)

    def with_steps(self, steps: int) -> "Recipe":
        """The same recipe with `steps` in total, shared among the stages in the preset's proportions."""
        if steps < 1:
            raise InputError(f"steps must be >= 1, got {steps}")
        total = self.steps
        shares = [stage.steps * steps / total for stage in self.stages]
        counts = [int(share) for share in shares]
        counts[-1] += steps - sum(counts)  # rounding goes to the finest stage
        return replace(self, stages=tuple(replace(s, steps=c) for s, c in zip(self.stages, counts)))

    def with_draws(self, draws: int) -> "Recipe":
        return replace(self, stages=tuple(replace(s, draws=int(draws)) for s in self.stages))

    def with_init(self, init: str) -> "Recipe":
        return replace(self, init=init)

    def to_dict(self) -> dict:
        return asdict(self)


#: Coarse stages smaller than this (short side) are skipped: too little for VGG to see.
MIN_STAGE_SIZE = 16


def stage_sizes(stages: Sequence[Stage], size: tuple[int, int]) -> list[tuple[int, int]]:
    """The image size (H, W) each stage optimises at, for output `size`."""
    return [(max(1, round(size[0] / s.divisor)), max(1, round(size[1] / s.divisor))) for s in stages]


def effective_stages(stages: Sequence[Stage], size: tuple[int, int]) -> list[Stage]:
    """The recipe's stages for this output size: coarse stages whose images would be smaller than
    MIN_STAGE_SIZE are dropped and their steps given to the next stage (small outputs run at full size)."""
    kept: list[Stage] = []
    carried = 0
    for k, (stage, hw) in enumerate(zip(stages, stage_sizes(stages, size))):
        if k < len(stages) - 1 and stage.divisor > 1 and min(hw) < MIN_STAGE_SIZE:
            carried += stage.steps
            continue
        kept.append(Stage(stage.divisor, stage.steps + carried, stage.lr, stage.schedule, stage.draws))
        carried = 0
    return kept


def reference_snapshot_steps(total: int) -> list[int]:
    """The reference scripts' snapshot steps: 0, 1, 2, 3, 5, 7, 10, ..., 1500, then every 500, up to `total`."""
    early = [0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 400, 600, 900, 1200, 1500]
    return [s for s in early if s <= total] + list(range(2000, total + 1, 500))


REFERENCE = Recipe("reference", init="noise", stages=(Stage(1, 100_000, 0.03, "reference", 1),))

FAST = Recipe("fast", init="mean", stages=(Stage(1, 100, 0.003, "cosine", 1),))

#: Short side (px) at which fast paths take most of their steps.
PATH_WORK_SIDE = 64
PATH_WORK_STAGE = Stage(1, 60, 0.003, "cosine", 4)
#: Larger outputs: fewer steps at the working size, then a short refinement at each doubling of the size.
PATH_WORK_STEPS_BEFORE_REFINING = 30
PATH_REFINE_STAGE = Stage(1, 8, 0.003, "cosine", 4)

def fast_path(size: tuple[int, int] | None = None) -> Recipe:
    """The fast recipe for a path with frames of `size` (H, W), from the evenly spaced cross-dissolve
    (`geometry.paths.spacing`): up to about PATH_WORK_SIDE px, one stage of 60 steps of 4 draws; larger, 30 such
    steps at about PATH_WORK_SIDE px and 8 at each doubling of the size up to the output's
    (benchmarks/bench_motion.py --parts paths measures them)."""
    short = min(size) if size else PATH_WORK_SIDE
    divisor = max(1, short // PATH_WORK_SIDE)
    if divisor == 1:
        return Recipe("fast", init="even", stages=(PATH_WORK_STAGE,))
    stages = [replace(PATH_WORK_STAGE, divisor=divisor, steps=PATH_WORK_STEPS_BEFORE_REFINING)]
    while divisor > 1:
        divisor //= 2
        stages.append(replace(PATH_REFINE_STAGE, divisor=divisor))
    return Recipe("fast", init="even", stages=tuple(stages))


@dataclass(frozen=True)
class Preset:
    """What a preset name means: the `Recipe` of an average (barycenter), and that of a path (geodesic),
    which may depend on the frames' size (H, W)."""

    name: str
    average: Recipe
    path: Callable[[tuple[int, int] | None], Recipe]


#: The presets by name: what the ``preset`` option names.
PRESETS = {preset.name: preset for preset in (
    Preset("reference", REFERENCE, lambda size: REFERENCE),
    Preset("fast", FAST, fast_path),
)}


def run_recipe(preset: str | Preset | Recipe, problem: Any, size: tuple[int, int] | None, *,
               steps: int | None = None, draws_per_step: int | None = None, init: str | None = None) -> Recipe:
    """The recipe a run takes: the one place that answers "which stages does this run optimise?" (the engine, the
    run service, the memory check and the app's forecast all ask here).

    Args:
        preset: a preset name (``"fast"``, ``"reference"``), a `Preset`, or a `Recipe` (run as it is).
        problem: the kind of run, a problem class (`geometry.engine.problems.BarycenterProblem`,
            `GeodesicProblem`): its ``recipe_of(preset, size)`` picks the preset's recipe (a path's fast recipe
            depends on its frames' size).
        size: the run's output size (H, W).
        steps: the total number of steps, rescaling the stages (None: the preset's).
        draws_per_step: the draws of every stage (None: the preset's).
        init: the start method (None: the preset's).

    Returns:
        The `Recipe` to run with.

    Example:
        >>> from geometry.engine.problems import GeodesicProblem
        >>> run_recipe("fast", GeodesicProblem, (256, 256), steps=40).steps
        40
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}, "
                             "a geometry.engine.presets.Preset or Recipe")
        preset = PRESETS[preset]
    recipe = preset if isinstance(preset, Recipe) else problem.recipe_of(preset, None if size is None else tuple(size))
    if steps is not None:
        recipe = recipe.with_steps(int(steps))
    if draws_per_step is not None:
        recipe = recipe.with_draws(int(draws_per_step))
    if init is not None:
        recipe = recipe.with_init(init)
    return recipe
