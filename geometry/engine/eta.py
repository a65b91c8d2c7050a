"""The time left of a running optimisation, from the step times it has measured so far: one clock for the engine's
progress reports and the app's status lines.

A run is a sequence of stages (`geometry.engine.presets`: coarse to fine sizes, draws per step), each with a prior for
its time per step: seconds measured before the run (the app's forecast, `app.forecast`), or a relative cost (the
engine: draws x images x pixels), or None. Measured step times replace the prior of the running stage; the later
stages' priors are scaled by how far the running stage's measurement is from its own prior, as the machine's load
moves them together.
"""

from __future__ import annotations

import statistics
from typing import Any, Sequence

#: How many of the latest step times of the running stage the live estimate takes the median of.
RECENT_STEPS = 20


class TimeLeft:
    """The time left of a running run, from the step times it has measured so far.

    `legs` are the run's stages as (steps, prior per step: seconds, a relative cost, or None). Feed it every
    progress report (`add`, or `tick` with the same numbers): the time of a step is the difference of the
    engine's `elapsed_s` between two consecutive steps of one stage (the first step of a stage also pays for
    setting it up, so it is left out). The running stage's remaining steps are timed by the median of its
    latest RECENT_STEPS steps; later stages by their prior scaled by how far the running stage's measured
    time is from its own prior (the machine's load moves them together), or, without priors, by the running
    step time.
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
        """A progress report (`geometry.Progress`: its step, stage and elapsed_s)."""
        elapsed = getattr(progress, "elapsed_s", None)
        if elapsed is not None:
            self.tick(int(getattr(progress, "stage", 0) or 0), int(progress.step), float(elapsed))

    def tick(self, stage: int, step: int, elapsed_s: float) -> float | None:
        """Step ``step`` (counted over all stages) of ``stage`` ended ``elapsed_s`` seconds into the run; returns
        the time left (:meth:`seconds_left`)."""
        if step == 0 or not 0 <= stage < len(self.legs):
            return self.seconds_left()
        if self._last is not None and self._last[0] == stage and self._last[1] == step - 1:
            self.gaps[stage].append(elapsed_s - self._last[2])
        self._last = (stage, step, elapsed_s)
        return self.seconds_left()

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
