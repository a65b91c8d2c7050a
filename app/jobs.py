"""Long runs in the app: worker threads, cancellation, run-time estimates and output folders.

A run (an average, a geodesic, an attack) executes on its own worker thread, not on the request that
started it. The request only watches: it drains the progress the engine reports through its
callback and streams it to the browser. So a closed browser tab stops the watching, not the
run; the worker still finishes and writes every result into the run's output folder.

One device runs one heavy job at a time (`DeviceSlot`), whichever tab started it. The Cancel
button reaches a session's running jobs through `JobBoard` and sets their cancel event; the
engine stops at its next step and returns what it has, which is saved like any other result.
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

if TYPE_CHECKING:
    from geometry import Progress

#: How often a watcher reports progress to the browser.
UPDATE_SECONDS = 0.5

_DONE = object()


class DeviceSlot:
    """The right to run one heavy job on a device; jobs queue for it in arrival order."""

    def __init__(self, device: str):
        self.device = device
        self._lock = threading.Lock()

    def __enter__(self) -> "DeviceSlot":
        self._lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


@dataclass
class Watch:
    """What a watcher has seen of a job so far: the latest progress, the latest snapshot and the
    energy after every reported step (for the energy-over-steps plot)."""

    latest: Progress | None = None
    snapshot: Any = None
    snapshot_step: int = -1
    energies: list[tuple[int, float]] = field(default_factory=list)
    started: bool = False
    eta: Any = None  # an `app.estimate.LiveEta` fed every progress, or None: the engine's own estimate

    def add(self, progress: Progress) -> None:
        self.latest = progress
        if self.eta is not None:
            self.eta.add(progress)
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


class Job:
    """One run on a worker thread.

    `run(callback, cancel)` does the computation (it calls the engine with these two);
    `save(result)` writes the result into the run's folder and returns what the UI shows.
    Both happen on the worker thread while it holds the device slot.
    """

    def __init__(
        self,
        kind: str,
        slot: DeviceSlot,
        run: Callable[[Callable[[Progress], None], threading.Event], Any],
        save: Callable[[Any], Any],
        eta: Any = None,
    ):
        self.kind = kind
        self.eta = eta
        self.cancel_event = threading.Event()
        self._slot = slot
        self._run = run
        self._save = save
        self._updates: queue.Queue = queue.Queue()
        self._started = threading.Event()
        self._outcome: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"elpips-app-{kind}", daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def started(self) -> bool:
        """Whether the job holds the device (False while it waits behind another job)."""
        return self._started.is_set()

    def _work(self) -> None:
        try:
            with self._slot:
                self._started.set()
                result = self._run(self._updates.put, self.cancel_event)
                self._outcome = self._save(result)
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
            yield seen

    def outcome(self) -> Any:
        """What `save` returned; re-raises the run's error if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._outcome


class JobBoard:
    """The running jobs of every browser session, so that a session's Cancel button reaches them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, list[Job]] = {}

    def add(self, session: str, job: Job) -> None:
        with self._lock:
            self._jobs.setdefault(session, []).append(job)

    def remove(self, session: str, job: Job) -> None:
        with self._lock:
            jobs = self._jobs.get(session, [])
            if job in jobs:
                jobs.remove(job)
            if not jobs:
                self._jobs.pop(session, None)

    def cancel(self, session: str) -> int:
        """Ask every running job of `session` to stop; returns how many were asked."""
        with self._lock:
            jobs = list(self._jobs.get(session, []))
        for job in jobs:
            job.cancel()
        return len(jobs)


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
