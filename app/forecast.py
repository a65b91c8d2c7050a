"""Run-time forecasts from speed measured on this device, before a run starts.

The engine runs a preset's stages at growing image sizes. A step's time depends on the stage's
image size and number of random draws in ways no formula catches (small images are dominated by
fixed overheads), so it is measured: for each distinct (size, draws) of the plan, a few real
engine steps are timed (`jobs.time_steps`) the first time, and every finished run then refreshes the
speeds of the stages it ran (`jobs.SpeedTable.refresh`), so that one slow measurement on a busy machine
does not stick. The estimate is the sum over stages of steps times the step time.

While a run runs, `geometry.engine.eta.TimeLeft` gives the time left from the run's own measured steps, with these
forecasts as its priors for the stages still to come (the engine's own `Progress.eta_s` is the same clock with
the stages' relative costs as priors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from geometry.engine.presets import Recipe, Stage, effective_stages, run_recipe, stage_sizes
from geometry.engine.problems import PROBLEMS

#: Engine steps timed per measurement (the first is dropped as warm-up).
PROBE_STEPS = 4

Probe = tuple[tuple[int, int], int]  # (image size (H, W), draws per step)


def probe_preset(draws: int) -> Recipe:
    """The measurement's recipe: one stage at the size asked for, from the cross-dissolve, small steps."""
    return Recipe("probe", init="mean", stages=(Stage(1, PROBE_STEPS, 0.01, "cosine", int(draws)),))


@dataclass(frozen=True)
class Plan:
    """The stages a run will execute at its output size."""

    stages: tuple[Stage, ...]
    sizes: tuple[tuple[int, int], ...]
    size: tuple[int, int]

    @property
    def total_steps(self) -> int:
        return sum(stage.steps for stage in self.stages)

    def probes(self) -> list[Probe]:
        """The distinct (size, draws) whose step time the estimate needs, largest last."""
        found = {(size, stage.draws) for stage, size in zip(self.stages, self.sizes) if stage.steps}
        return sorted(found, key=lambda probe: (probe[0][0] * probe[0][1], probe[1]))

    def legs(self, step_seconds: Mapping[Probe, float] | None = None) -> list[tuple[int, float | None]]:
        """(steps, seconds per step or None when unknown) of every stage, for `geometry.engine.eta.TimeLeft`."""
        known = step_seconds or {}
        return [(stage.steps, known.get((size, stage.draws))) for stage, size in zip(self.stages, self.sizes)]

    def probe_of(self, stage: int) -> Probe:
        return self.sizes[stage], self.stages[stage].draws

    def seconds(self, step_seconds: Mapping[Probe, float]) -> float:
        """The run's time, given the seconds per step of each of its probes."""
        return sum(
            stage.steps * step_seconds[(size, stage.draws)]
            for stage, size in zip(self.stages, self.sizes)
            if stage.steps
        )


def plan_run(preset: str | Recipe, kind: str, steps: int | None, size: tuple[int, int]) -> Plan:
    """The stages of `preset` for a run of `kind` (rescaled to `steps` in total if given) for outputs of `size`."""
    recipe = run_recipe(preset, PROBLEMS[kind], tuple(size), steps=steps or None)
    stages = effective_stages(recipe.stages, size)
    return Plan(tuple(stages), tuple(stage_sizes(stages, size)), tuple(size))


def snapshot_steps(total_steps: int, count: int = 30) -> list[int]:
    """About `count` evenly spaced steps (and step 0) at which the engine sends the current images."""
    every = max(1, total_steps // count)
    return sorted(set(range(0, total_steps + 1, every)) | {total_steps})
