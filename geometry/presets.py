"""Named optimisation recipes.

A preset says how to initialise the free images and how to optimise them: a sequence of stages, each
at an image size (the output size divided by `divisor`) with its step count, Adam learning rate,
schedule and number of random draws per step. Coarse stages are cheap (a 1/2-size step costs about a
quarter of a full-size one) and their result is upsampled to start the next stage.

* ``"reference"``: the E-LPIPS authors' recipe, ELPIPS.md §6, exactly: x0 = 0.5 + 0.2 N(0, 1) clipped,
  Adam with lr(t) = 0.03 / (1 + 0.02 t'^0.75), one draw per step, clipping to [1e-5, 1 - 1e-5],
  100 000 steps, the reference's snapshot steps.
* ``"fast"``: the default; see `FAST` below for its design and the measurements behind it.
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
        Stage(2, 200, 0.03, "cosine", 2),
        Stage(1, 120, 0.015, "cosine", 2),
    ),
)

# Geodesics optimise many frames at once (10 frames = 10 images per draw), so their fast recipe starts
# from the cross-dissolve and spends its steps at the coarse sizes.
FAST_PATH = Preset(
    "fast",
    init="mean",
    stages=(
        Stage(4, 150, 0.03, "cosine", 1),
        Stage(2, 80, 0.02, "cosine", 1),
        Stage(1, 30, 0.01, "cosine", 1),
    ),
)

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
