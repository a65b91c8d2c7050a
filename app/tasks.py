"""Long runs in the app: worker threads, cancellation, run-time estimates and output folders.

A run (an average, a geodesic, an attack) executes on its own worker thread, not on the request that
started it. The request only watches: it drains the progress the engine reports through its
callback and streams it to the browser. So a closed browser tab stops the watching, not the
run; the worker still finishes and writes every result into the run's output folder.

One device runs one heavy job at a time (`DeviceSlot`), whichever tab started it; the others wait in
arrival order and can say what they wait behind. The Cancel button reaches a session's jobs through
`TaskBoard` and sets their cancel event: a running job's engine stops at its next step and returns what it
has, which is saved like any other result; a job still waiting leaves the queue without running.
"""

from __future__ import annotations

import math
import queue
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterator

from geometry.engine.phases import Phase

if TYPE_CHECKING:
    from geometry import Progress

#: How often a watcher reports progress to the browser.
UPDATE_SECONDS = 0.5

_DONE = object()


class _Ticket:
    """A place in the device's queue; `holder` is what the waiting lines name (a `DeviceTask` or a phrase)."""

    def __init__(self, holder: Any):
        self.holder = holder


def describe_holder(holder: Any) -> str:
    """'a geodesic run at step 12/5000, about 3 min 10 s left', or the phrase a holder was given."""
    return holder.describe() if hasattr(holder, "describe") else str(holder)


class DeviceSlot:
    """The right to run one heavy job on a device. Waiters are served in arrival order, can give up while
    they wait (a cancelled run leaves the queue without running), and can ask what holds the device."""

    def __init__(self, device: str):
        self.device = device
        self._changed = threading.Condition()
        self._holder: _Ticket | None = None
        self._waiting: list[_Ticket] = []

    def acquire(self, holder: Any = "a distance or speed measurement", cancel: threading.Event | None = None,
                poll: float = 0.1) -> bool:
        """Wait for the device in arrival order; False (and out of the queue) if `cancel` is set first."""
        turns = self.wait_turn(holder, poll)
        for _ in turns:
            if cancel is not None and cancel.is_set():
                turns.close()
                return False
        return True

    def wait_turn(self, holder: Any, interval: float = UPDATE_SECONDS) -> Iterator[str]:
        """Join the queue as `holder` and, while it waits, yield what it waits behind (`waiting_line`) about every
        `interval` seconds; the generator ends holding the device (`release` it after). Closing it before then
        gives up the place in the queue."""
        ticket = _Ticket(holder)
        with self._changed:
            self._waiting.append(ticket)
        held = False
        try:
            while True:
                with self._changed:
                    deadline = time.monotonic() + interval
                    while not self._turn_of(ticket) and time.monotonic() < deadline:
                        self._changed.wait(max(0.0, deadline - time.monotonic()))
                    if self._turn_of(ticket):
                        self._waiting.pop(0)
                        self._holder, held = ticket, True
                        return
                yield self.waiting_line(holder)
        finally:
            if not held:
                with self._changed:
                    self._waiting.remove(ticket)
                    self._changed.notify_all()

    def _turn_of(self, ticket: _Ticket) -> bool:
        return self._holder is None and self._waiting[0] is ticket

    def release(self) -> None:
        with self._changed:
            self._holder = None
            self._changed.notify_all()

    def __enter__(self) -> "DeviceSlot":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def holder_line(self) -> str | None:
        """What holds the device now ('a geodesic run at step 3/60, ...'), or None when it is free."""
        with self._changed:
            current = self._holder.holder if self._holder is not None else None
        return None if current is None else describe_holder(current)

    def waiting_line(self, holder: Any) -> str | None:
        """What `holder`, waiting in the queue, waits behind ('behind a geodesic run at step 3/60, and 1 other
        waiting run'); None when it is not waiting."""
        with self._changed:
            place = next((k for k, ticket in enumerate(self._waiting) if ticket.holder is holder), None)
            if place is None:
                return None
            current = self._holder.holder if self._holder is not None else None
            ahead = [ticket.holder for ticket in self._waiting[:place]]
        if current is None:
            current, ahead = ahead[0], ahead[1:]
        line = f"behind {describe_holder(current)}" if current is not None else "for the device to be free"
        if ahead:
            line += f", and {len(ahead)} other waiting run{'s' if len(ahead) > 1 else ''}"
        return line


@dataclass
class Watch:
    """What a watcher has seen of a job so far: the latest progress, the latest snapshot and the
    energy after every reported step (for the energy-over-steps plot)."""

    latest: Progress | None = None
    snapshot: Any = None
    snapshot_step: int = -1
    energies: list[tuple[int, float]] = field(default_factory=list)
    started: bool = False
    waiting: str | None = None  # while not started: what the job waits behind (`DeviceSlot.waiting_line`)
    notice: str | None = None  # the latest line the job's run reported (e.g. its estimate, once measured)
    eta: Any = None  # the job's `geometry.engine.eta.TimeLeft`, or None: the engine's own estimate

    def add(self, progress: Progress | Phase | str) -> None:
        if isinstance(progress, str):
            self.notice = progress
            return
        if isinstance(progress, Phase):  # the job's `eta` (an `app.run_clock.RunClock`) has taken it in
            return
        self.latest = progress
        if progress.energy is not None and math.isfinite(progress.energy):
            self.energies.append((int(progress.step), float(progress.energy)))
        if progress.snapshot is not None:
            self.snapshot = progress.snapshot
            self.snapshot_step = int(progress.step)

    @property
    def seconds_left(self) -> float | None:
        if self.eta is not None:
            return self.eta.seconds_left()
        return None if self.latest is None else self.latest.eta_s


class DeviceTask:
    """One run on a worker thread.

    `run(callback, cancel)` does the computation (it calls the engine with these two; a string passed to the
    callback is a line for the watcher, `Watch.notice`; a `geometry.engine.phases.Phase` goes to `eta` only);
    `save(result)` writes the result into the run's folder
    and returns what the UI shows. Both happen on the worker thread while it holds the device slot. A job
    cancelled while it waits for the slot is `withdrawn`: neither runs, and `on_withdraw()` tidies up.
    `eta` (a `geometry.engine.eta.TimeLeft`, or an `app.run_clock.RunClock` for the phases too) is fed every
    progress on the worker thread, watched or not.
    """

    def __init__(
        self,
        kind: str,
        slot: DeviceSlot,
        run: Callable[[Callable[[Progress], None], threading.Event], Any],
        save: Callable[[Any], Any],
        eta: Any = None,
        on_withdraw: Callable[[], None] | None = None,
    ):
        self.kind = kind
        self.eta = eta
        self.withdrawn = False
        self.latest: Progress | None = None
        self._on_withdraw = on_withdraw
        self.cancel_event = threading.Event()
        self._slot = slot
        self._run = run
        self._save = save
        self._updates: queue.Queue = queue.Queue()
        self._started = threading.Event()
        self._outcome: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"elpips-app-{kind}", daemon=True)

    def start(self) -> "DeviceTask":
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def started(self) -> bool:
        """Whether the job holds the device (False while it waits behind another job)."""
        return self._started.is_set()

    def describe(self) -> str:
        """How the job appears to the runs waiting behind it."""
        line = f"a{'n' if self.kind[0] in 'aeiou' else ''} {self.kind} run"
        latest = self.latest
        # a phase without steps (an `app.run_clock.RunClock`'s flow search, spacing or render)
        phase = None if getattr(self.eta, "phase", None) in (None, "refinement") else self.eta.describe()
        if latest is None or phase is not None:
            left = self.eta.seconds_left() if phase is not None else None
            return line + f" ({phase or 'starting'}{'' if left is None else ', ' + time_left(left)})"
        line += f" at step {latest.step}/{latest.total_steps}"
        left = self.eta.seconds_left() if self.eta is not None else latest.eta_s
        return line + ("" if left is None else f", {time_left(left)}")

    def _report(self, progress: Progress | Phase | str) -> None:
        if not isinstance(progress, str):
            if not isinstance(progress, Phase):
                self.latest = progress
            if self.eta is not None:
                self.eta.add(progress)
        self._updates.put(progress)

    def _work(self) -> None:
        try:
            if not self._slot.acquire(self, self.cancel_event):
                self.withdrawn = True
                if self._on_withdraw is not None:
                    self._on_withdraw()
                return
            try:
                self._started.set()
                result = self._run(self._report, self.cancel_event)
                self._outcome = self._save(result)
            finally:
                self._slot.release()
        except BaseException as exc:  # handed to the watcher, which reports it
            self._error = exc
        finally:
            self._updates.put(_DONE)

    def watch(self, interval: float = UPDATE_SECONDS) -> Iterator[Watch]:
        """Yield the growing `Watch` about every `interval` seconds (a browser cannot redraw faster
        than the engine steps), and once more when the job has finished. Call `outcome()` afterwards."""
        seen = Watch(eta=self.eta)
        finished = False
        while not finished:
            deadline = time.monotonic() + interval
            while not finished:  # take everything that arrives until the deadline or the end
                try:
                    update = self._updates.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if update is _DONE:
                    finished = True
                else:
                    seen.add(update)
            seen.started = self.started
            seen.waiting = None if seen.started else self._slot.waiting_line(self)
            yield seen

    def outcome(self) -> Any:
        """What `save` returned; re-raises the run's error if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._outcome


class TaskBoard:
    """The jobs of every browser session (runs, and measurements in progress: anything with `cancel()`, `kind` and
    `started`), so that a session's Cancel and Stop buttons reach them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, list[DeviceTask]] = {}

    def add(self, session: str, job: DeviceTask) -> None:
        with self._lock:
            self._jobs.setdefault(session, []).append(job)

    def remove(self, session: str, job: DeviceTask) -> None:
        with self._lock:
            jobs = self._jobs.get(session, [])
            if job in jobs:
                jobs.remove(job)
            if not jobs:
                self._jobs.pop(session, None)

    def cancel(self, session: str) -> list:
        """Ask every job of `session` to stop; returns them. A running one stops after its current step, one still
        waiting for the device (not `started`) leaves the queue without running."""
        with self._lock:
            jobs = list(self._jobs.get(session, []))
        for job in jobs:
            job.cancel()
        return jobs


class SpeedTable:
    """Seconds per optimisation step on this machine, by key.

    The key names everything a step's time depends on (kind of run, distance, image size, number
    of images, device, and the stage's draws). The first time a key is asked for, `measure()` times a few
    real engine steps (see `time_steps`); every finished run then `refresh`es the keys of the stages it ran
    with the step time it measured: the first run's time replaces the short measurement outright (a few steps
    on a busy machine can be several times off), later runs enter an exponential moving average.
    """

    #: Weight of a finished run's step time in the moving average.
    RUN_WEIGHT = 0.5

    def __init__(self):
        self._lock = threading.Lock()
        self._seconds: dict[Hashable, float] = {}
        self._from_runs: set[Hashable] = set()

    def known(self, key: Hashable) -> float | None:
        with self._lock:
            return self._seconds.get(key)

    def seconds_per_step(self, key: Hashable, measure: Callable[[], float]) -> float:
        cached = self.known(key)
        if cached is not None:
            return cached
        seconds = measure()
        with self._lock:
            self._seconds.setdefault(key, seconds)
            return self._seconds[key]

    def refresh(self, key: Hashable, seconds: float) -> float:
        """Take a finished run's measured seconds per step for `key` into account; returns the new value."""
        with self._lock:
            if key in self._from_runs:
                seconds = (1 - self.RUN_WEIGHT) * self._seconds[key] + self.RUN_WEIGHT * seconds
            self._seconds[key] = seconds
            self._from_runs.add(key)
            return seconds


def time_steps(run_steps: Callable[[Callable[[Progress], None]], Any]) -> float:
    """Median seconds per step of a short engine run, leaving out the first step (which pays for
    loading the metric and warming caches). `run_steps(callback)` runs the engine for >= 3 steps."""
    stamps: list[float] = []
    run_steps(lambda progress: stamps.append(time.perf_counter()))
    gaps = [later - earlier for earlier, later in zip(stamps[1:], stamps[2:])]
    if not gaps:
        raise RuntimeError("timing needs at least 3 reported engine steps")
    return statistics.median(gaps)


def format_seconds(seconds: float, about: bool = False) -> str:
    """'under a second', '45 s', '3 min 20 s', '1 h 05 min'; with `about`, 'about 45 s' etc."""
    if seconds < 1:
        return "under a second"
    prefix = "about " if about else ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{prefix}{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{prefix}{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{prefix}{hours} h {minutes:02d} min"


def time_left(seconds: float) -> str:
    """'about 45 s left', 'under a second left'."""
    return f"{format_seconds(seconds, about=True)} left"


def new_run_folder(root: Path, kind: str) -> Path:
    """A fresh folder ``<root>/<YYYYmmdd-HHMMSS>-<kind>[-n]`` for one run's results."""
    root = Path(root)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}"
    for attempt in range(1, 1000):
        folder = root / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder under {root}")
