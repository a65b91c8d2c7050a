"""What a run does outside the optimiser's steps, told to whoever shows its progress: the flow search, the
spacing, the render.

The engine's ``callback`` gets a `geometry.engine.optimize.Progress` after every optimisation step. A run also spends
time before its first step (the motion start's flow search, the spacing of its frames) and after its last (the
frames rendered and written), deep in `geometry.paths` and `geometry.service`, where no callback is passed. Those
parts `report` a `Phase` to the listener installed on the current thread by `listening` (a front end's progress bar,
`app.forecast.RunClock`); with none installed a report costs one context-variable read.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Callable, Iterator

#: The phases a run reports, in the order they run: the motion start's search ("flow search"), the texture checks
#: of `motion="auto"` where the flow does not align the pair and of the texture start ("texture checks": the
#: endpoints' stationarity and the turn-and-zoom detection, `geometry.paths.detection`), the texture change's
#: "synthesis" (`geometry.paths.synthesis`), "refinement" (reported once, when the start is decided, with the steps
#: that follow: 0 when none do), "spacing" (`geometry.paths.spacing.even_times`; for the texture change also its
#: syntheses at the spaced times, `part_of`), "render" (the frames at the output size, written with the movies).
PHASE_NAMES = ("flow search", "texture checks", "synthesis", "refinement", "spacing", "render")


@dataclass(frozen=True)
class Phase:
    """`name` (one of PHASE_NAMES) has begun or moved on: `done` is the share of it finished (0 to 1); `detail`
    what it decided (the refinement's: the start ``taken`` and the ``steps`` that follow)."""

    name: str
    done: float = 0.0
    detail: dict = field(default_factory=dict)


_LISTENER: contextvars.ContextVar[Callable[[Phase], None] | None] = contextvars.ContextVar("phase_listener",
                                                                                         default=None)


@contextlib.contextmanager
def listening(listener: Callable[[Phase], None]) -> Iterator[None]:
    """Send the phases reported on this thread (and in contexts copied from it) to `listener` until the block ends."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


@contextlib.contextmanager
def part_of(name: str, begin: float, end: float) -> Iterator[None]:
    """Within the block, every report (of any phase) counts as the share from `begin` to `end` (0 to 1) of phase
    `name`: work that runs inside a phase (the texture change's syntheses inside its spacing) moves that phase's
    share forward rather than taking the listener back to another phase."""
    outer = _LISTENER.get()
    if outer is None:
        yield
        return
    with listening(lambda phase: outer(Phase(name, begin + (end - begin) * phase.done, phase.detail))):
        yield


def report(name: str, done: float = 0.0, **detail) -> None:
    """Tell the listener, if any, that phase `name` is `done` (a share, 0 to 1) finished."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(Phase(name, float(done), detail))
