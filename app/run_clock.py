"""The one progress bar of an Average or Geodesic run: every phase (loading, flow search, texture checks,
synthesis, spacing, refinement, render) in one bar, with the time left of the whole run.

A `RunClock` starts from the forecast's likelier `app.forecast.Branch` and follows what the run reports: a
`geometry.engine.phases.Phase` when a phase begins or moves on (the refinement's report says which start was
taken and how many steps follow, which picks the branch; a phase the branch followed lacks, such as the texture
checks or the synthesis of the texture change, picks the first branch that has it), and a `geometry.Progress`
after every step. The loading of the network, which reports no phase, is the running phase from the clock's start
until the first phase reported. The time
left is the running phase's (its expected seconds less those spent, or for the refinement the step times measured
so far, `geometry.engine.eta.TimeLeft`) plus the later phases' expected seconds, all scaled by how far the last
finished phase was from its own expectation (the machine's load moves them together). The share done is the time
spent over the time spent and left. The clock is injected, so tests drive it with events, not time.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from geometry.engine.eta import TimeLeft
from geometry.engine.phases import Phase

from app.forecast import Branch, Leg

#: What the bar says of each phase.
PHASE_WORDS = {
    "loading": "loading the network (the first run of this distance since the server started)",
    "flow search": "searching the flow between the images",
    "texture checks": "checking whether the images are textures, turned or zoomed",
    "synthesis": "synthesising the texture change's frames",
    "spacing": "spacing the frames evenly",
    "refinement": "refining",
    "render": "rendering and writing the frames",
}
#: A phase expected to take less than this tells nothing of the machine's load (its time is mostly overhead).
SCALE_FROM_SECONDS = 1.0


class RunClock:
    """See the module. `branches`: the forecast's, the likelier first; `scales`: phase -> this device's scale of
    the model's seconds (None: not known, the phase's time then comes from the run itself)."""

    def __init__(self, branches: list[Branch], scales: dict[str, float | None],
                 clock: Callable[[], float] = time.monotonic):
        self.branches, self.scales, self.clock = branches, scales, clock
        self.legs: tuple[Leg, ...] = branches[0].legs
        self.began = clock()
        # index into legs of the running phase: the loading from the start (it reports no phase of its own)
        self.current: int | None = 0 if self.legs and self.legs[0].phase == "loading" else None
        self.phase_began = self.began
        self.done = 0.0
        self.taken: dict[str, float] = {}  # seconds each finished phase took
        self.steps = self._step_clock()
        self.run_scale = 1.0
        self.shown = 0.0  # the highest share done said so far

    def _step_clock(self) -> TimeLeft:
        """The refinement's clock: its stages as the forecast planned them, each with its expected step time."""
        leg = self._leg("refinement")
        if leg is None:
            return TimeLeft([])
        scale = self.scales.get("refinement")
        return TimeLeft([(steps, None if scale is None else seconds * scale)
                         for steps, seconds in zip(leg.stage_steps, leg.step_seconds)])

    def _leg(self, phase: str) -> Leg | None:
        return next((leg for leg in self.legs if leg.phase == phase), None)

    def add(self, report: Any) -> None:
        """A `Phase`, or a step's `Progress` (a step-0 report, before any step, moves nothing)."""
        if isinstance(report, Phase):
            if report.name == "refinement":
                self._decided(str(report.detail.get("taken", "")), int(report.detail.get("steps", 0)))
                return
            self._enter(report.name)
            self.done = report.done
            return
        if getattr(report, "step", 0) > 0:
            self._enter("refinement")
            self.steps.add(report)

    def _decided(self, taken: str, steps: int) -> None:
        """The start is taken: the branch of that start (`Branch.start`), else the one with or without refinement
        steps as the run has them; the one followed so far where it agrees (a synthesis already picked the texture
        change's), else the first that has the running phase (the warp start after the texture checks)."""
        named = [branch for branch in self.branches if branch.start and branch.start == taken]
        agreeing = named or [branch for branch in self.branches if (branch.steps > 0) == (steps > 0)]
        if not agreeing or any(branch.legs == self.legs for branch in agreeing):
            return
        running = self.phase
        branch = next((branch for branch in agreeing if running in [leg.phase for leg in branch.legs]), agreeing[0])
        self.legs = branch.legs
        names = [leg.phase for leg in self.legs]
        self.current = names.index(running) if running in names else None
        self.steps = self._step_clock()

    def _switch_to(self, phase: str) -> None:
        """Follow the first branch that has `phase` where the one followed has not (none: stay)."""
        branch = next((branch for branch in self.branches if phase in [leg.phase for leg in branch.legs]), None)
        if branch is None:
            return
        running = self.phase
        self.legs = branch.legs
        names = [leg.phase for leg in self.legs]
        self.current = names.index(running) if running in names else None
        self.steps = self._step_clock()

    def _enter(self, phase: str) -> None:
        if phase not in [leg.phase for leg in self.legs]:
            self._switch_to(phase)
        names = [leg.phase for leg in self.legs]
        if phase not in names or (self.current is not None and names[self.current] == phase):
            return
        now = self.clock()
        if self.current is not None:
            leg = self.legs[self.current]
            self.taken[leg.phase] = now - self.phase_began
            expected = self._expected(leg)
            if expected is not None and expected >= SCALE_FROM_SECONDS:
                self.run_scale = self.taken[leg.phase] / expected
        self.current, self.phase_began, self.done = names.index(phase), now, 0.0

    def _expected(self, leg: Leg) -> float | None:
        scale = self.scales.get(leg.phase)
        return None if scale is None else leg.seconds * scale

    def finish(self) -> None:
        """The run has ended: the running phase's time is taken."""
        if self.current is not None:
            self.taken[self.legs[self.current].phase] = self.clock() - self.phase_began

    @property
    def phase(self) -> str | None:
        return None if self.current is None else self.legs[self.current].phase

    def seconds_left(self) -> float | None:
        """The time left of the whole run; None where a phase's time is not known yet."""
        if self.current is None:
            later = self.legs
            left = 0.0
        else:
            leg, later = self.legs[self.current], self.legs[self.current + 1:]
            left = self._running_left(leg)
            if left is None:
                return None
        for leg in later:
            expected = self._expected(leg)
            if expected is None:
                return None
            left += expected * self.run_scale
        return left

    def _running_left(self, leg: Leg) -> float | None:
        if leg.phase == "refinement" and self.steps.seconds_left() is not None:
            return self.steps.seconds_left()
        expected = self._expected(leg)
        spent = self.clock() - self.phase_began
        if expected is None:
            return spent * (1 - self.done) / self.done if self.done > 0 else None
        expected *= self.run_scale
        if spent <= expected:
            return expected - spent
        # longer than expected: what its own progress says is left, else as long again as it has run past
        return spent * (1 - self.done) / self.done if self.done > 0 else spent - expected

    def share_done(self) -> float:
        """The time spent over the time spent and left (0 where the time left is not known), never less than it
        said before: a phase that took longer than expected makes the later ones expected longer too, which would
        take the bar back; it holds instead until the run catches up (the time left says the new expectation)."""
        left = self.seconds_left()
        spent = self.clock() - self.began
        share = 0.0 if left is None or spent + left <= 0 else spent / (spent + left)
        self.shown = max(self.shown, share)
        return self.shown

    def describe(self) -> str | None:
        """The running phase and its place among the run's phases: 'flow search (phase 1 of 2)'."""
        if self.current is None:
            return None
        return f"{PHASE_WORDS[self.phase]} (phase {self.current + 1} of {len(self.legs)})"

    def measured(self) -> dict[str, tuple[float, float]]:
        """{phase: (seconds taken, model seconds)} of the phases this run finished, for `CostBook.refresh`."""
        return {leg.phase: (self.taken[leg.phase], leg.seconds) for leg in self.legs if leg.phase in self.taken}
