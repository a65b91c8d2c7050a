"""Run-time estimates from speed measured on this device: before a run starts, and while it runs.

The engine runs a preset's stages at growing image sizes. A step's time depends on the stage's
image size and number of random draws in ways no formula catches (small images are dominated by
fixed overheads), so it is measured: for each distinct (size, draws) of the plan, a few real
engine steps are timed (`jobs.time_steps`) the first time, and every finished run then refreshes the
speeds of the stages it ran (`jobs.SpeedTable.refresh`), so that one slow measurement on a busy machine
does not stick. The estimate is the sum over stages of steps times the step time.

While a run runs, `LiveEta` gives the time left from the run's own measured steps (`Progress.elapsed_s`)
rather than from the estimate made before it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from geometry.optimize import effective_stages, stage_sizes
from geometry.presets import Preset, Stage, get_preset

#: Engine steps timed per measurement (the first is dropped as warm-up).
PROBE_STEPS = 4

Probe = tuple[tuple[int, int], int]  # (image size (H, W), draws per step)


def probe_preset(draws: int) -> Preset:
    """The measurement's recipe: one stage at the size asked for, from the cross-dissolve, small steps."""
    return Preset("probe", init="mean", stages=(Stage(1, PROBE_STEPS, 0.01, "cosine", int(draws)),))


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
        """(steps, seconds per step or None when unknown) of every stage, for `LiveEta`."""
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


def plan_run(preset: str | Preset, kind: str, steps: int | None, size: tuple[int, int]) -> Plan:
    """The stages of `preset` for a run of `kind` (rescaled to `steps` in total if given) for outputs of `size`."""
    recipe = get_preset(preset, kind, tuple(size))
    if steps:
        recipe = recipe.with_steps(int(steps))
    stages = effective_stages(recipe.stages, size)
    return Plan(tuple(stages), tuple(stage_sizes(stages, size)), tuple(size))


def snapshot_steps(total_steps: int, count: int = 30) -> list[int]:
    """About `count` evenly spaced steps (and step 0) at which the engine sends the current images."""
    every = max(1, total_steps // count)
    return sorted(set(range(0, total_steps + 1, every)) | {total_steps})


#: How many of the latest step times of the running stage the live estimate takes the median of.
RECENT_STEPS = 20


class LiveEta:
    """The time left of a running run, from the step times it has measured so far.

    `legs` are the run's stages as (steps, seconds per step estimated before the run, or None). Feed it every
    progress report (`add`): the time of a step is the difference of the engine's `elapsed_s` between two
    consecutive steps of one stage (the first step of a stage also pays for setting it up, so it is left out).
    The running stage's remaining steps are timed by the median of its latest RECENT_STEPS steps; later stages
    by their prior estimate scaled by how far the running stage's measured time is from its own prior (the
    machine's load moves them together), or, without priors, by the running step time.
    """

    def __init__(self, legs: Sequence[tuple[int, float | None]]):
        self.legs = [(int(steps), prior) for steps, prior in legs]
        self.ends = []
        total = 0
        for steps, _ in self.legs:
            total += steps
            self.ends.append(total)
        self.gaps: list[list[float]] = [[] for _ in self.legs]
        self._last: tuple[int, int, float] | None = None  # (stage, step, elapsed_s)

    def add(self, progress: Any) -> None:
        step, elapsed = int(progress.step), getattr(progress, "elapsed_s", None)
        stage = int(getattr(progress, "stage", 0) or 0)
        if step == 0 or elapsed is None or not 0 <= stage < len(self.legs):
            return
        if self._last is not None and self._last[0] == stage and self._last[1] == step - 1:
            self.gaps[stage].append(float(elapsed) - self._last[2])
        self._last = (stage, step, float(elapsed))

    def step_seconds(self, stage: int) -> float | None:
        """The median of the latest measured step times of `stage` (None before two steps of it)."""
        recent = self.gaps[stage][-RECENT_STEPS:]
        return statistics.median(recent) if recent else None

    def seconds_left(self) -> float | None:
        """None until the run has a measured step."""
        if self._last is None:
            return None
        stage, step, _ = self._last
        scale = self._scale(stage)
        current = self.step_seconds(stage)
        if current is None:  # a stage's first step: its prior, scaled as the stage before ran
            prior = self.legs[stage][1]
            if not (prior and scale):
                return None
            current = prior * scale
        left = current * max(0, self.ends[stage] - step)
        for steps, later_prior in self.legs[stage + 1:]:
            left += steps * (later_prior * scale if later_prior and scale else current)
        return left

    def _scale(self, stage: int) -> float | None:
        """Measured over prior step time of the latest stage (up to `stage`) that has both."""
        for k in range(stage, -1, -1):
            measured, prior = self.step_seconds(k), self.legs[k][1]
            if measured is not None and prior:
                return measured / prior
        return None

    def measured(self) -> dict[int, float]:
        """Median seconds per step of every stage with at least 3 measured steps, by stage index."""
        return {stage: statistics.median(gaps) for stage, gaps in enumerate(self.gaps) if len(gaps) >= 3}
