"""Run-time estimates before a run starts, from speed measured on this device.

The engine runs a preset's stages at growing image sizes; a step's cost grows with the number of
random draws and the pixel count (the engine's own ETA uses the same model). So one measurement
per setting suffices: the seconds of a one-draw step at full size, timed over a few real engine
steps (`jobs.time_steps`) and remembered in a `jobs.SpeedTable`. The estimate of a run is that
time scaled by each stage's steps, draws and relative pixel count.
"""

from __future__ import annotations

from dataclasses import dataclass

from geometry.optimize import effective_stages, stage_sizes
from geometry.presets import Preset, Stage, get_preset

#: Engine steps timed per measurement (the first is dropped as warm-up).
PROBE_STEPS = 4
#: The measurement's recipe: full size, one draw, a small learning rate from the cross-dissolve.
PROBE_PRESET = Preset("probe", init="mean", stages=(Stage(1, PROBE_STEPS, 0.01, "cosine", 1),))


@dataclass(frozen=True)
class Plan:
    """The stages a run will execute at its output size."""

    stages: tuple[Stage, ...]
    sizes: tuple[tuple[int, int], ...]
    size: tuple[int, int]

    @property
    def total_steps(self) -> int:
        return sum(stage.steps for stage in self.stages)

    def full_size_step_equivalents(self) -> float:
        """The run's cost in one-draw steps at the output size."""
        pixels = self.size[0] * self.size[1]
        return sum(
            stage.steps * stage.draws * (h * w) / pixels for stage, (h, w) in zip(self.stages, self.sizes)
        )

    def seconds(self, seconds_per_full_step: float) -> float:
        return seconds_per_full_step * self.full_size_step_equivalents()


def plan_run(preset: str, steps: int | None, size: tuple[int, int]) -> Plan:
    """The stages of `preset` (rescaled to `steps` in total if given) for outputs of `size`."""
    recipe = get_preset(preset)
    if steps:
        recipe = recipe.with_steps(int(steps))
    stages = effective_stages(recipe.stages, size)
    return Plan(tuple(stages), tuple(stage_sizes(stages, size)), tuple(size))


def snapshot_steps(total_steps: int, count: int = 30) -> list[int]:
    """About `count` evenly spaced steps (and step 0) at which the engine sends the current images."""
    every = max(1, total_steps // count)
    return sorted(set(range(0, total_steps + 1, every)) | {total_steps})
