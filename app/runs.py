"""The long runs behind the Average and Geodesic tabs, as generators the UI streams.

Each run goes through the same phases, reported in its status line:

1. the uploads are read and brought to one size (`app.uploads`), and saved in a new run folder;
2. a worker thread (`app.tasks`) waits for the device in the app's queue, saying what it waits behind
   (Cancel withdraws it from there);
3. the run's estimate comes from the stored cost model of the engine (`app.forecast`: nothing runs for it);
   holding the device, the worker runs the saved inputs through the run service (`geometry.service.runs`, the
   same as the command-line tools' and the job files': the same files) while the generator streams its phases
   and steps in one progress bar (`app.run_clock`), its time left, snapshots and energies;
4. the worker refreshes the cost model with the time each phase took, zips a geodesic's frames, and the
   generator shows the results.

The tabs' functions in `app.ui` turn the `TabUpdate`s yielded here into component values. `follow_task`, the
watching part, also streams the Robustness tab's attacks (`app.robustness`).
"""

from __future__ import annotations

import logging
import math
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr
import numpy as np
import torch

import elpips
from elpips.errors import InputError
from elpips.io import atomic_write, write_json
from geometry.engine import phases
from geometry.engine.distances import DISTANCE_NAMES, DistanceFamily, is_loaded
from geometry.engine.energies import ENERGY_FORMS
from geometry.engine.problems import CHANGE_ROUNDS, PROBLEMS
from geometry.options import RunOptions
from geometry.service import runs as geometry_runs
from geometry.service import video
from geometry.service.geodesic_run import GeodesicRequest
from geometry.service.run_folder import FolderLayout
from geometry.service.runs import RunArtefacts

from app.distance import MetricShelf
from app.forecast import EXPECTED_CHANGE_ROUNDS, Branch, CostBook, Plan, RunShape, plan_run, snapshot_steps
from app.previews import file_digest
from app.run_clock import PHASE_WORDS, RunClock
from app.tasks import (
    DeviceSlot,
    DeviceTask,
    SpeedTable,
    TaskBoard,
    Watch,
    format_seconds,
    new_run_folder,
    time_left,
)
from app.uploads import display_name, load_upload, prepare_uploads

log = logging.getLogger(__name__)

PRESET = "fast"
MAX_AVERAGE_IMAGES = 6  # one weight slider each in the UI


@dataclass
class AppContext:
    """What every request shares: where results go, the device and its job queue, the run-cost model (refreshed by
    finished runs, kept in the output folder), the attacks' measured speeds."""

    output_root: Path
    device: torch.device
    slot: DeviceSlot
    board: TaskBoard = field(default_factory=TaskBoard)
    speeds: SpeedTable = field(default_factory=SpeedTable)
    shelf: MetricShelf | None = None
    costs: CostBook | None = None

    def __post_init__(self):
        if self.shelf is None:
            self.shelf = MetricShelf(self.device)
        if self.costs is None:
            self.costs = CostBook.load(self.output_root)


@dataclass
class TabUpdate:
    """One update of a run for the browser."""

    status: str
    watch: Watch | None = None
    new_snapshot: bool = False
    outcome: Any = None  # what the run's `save` returned, on the last update


@dataclass(frozen=True)
class PreparedRun:
    """A prepared run: what its cost depends on, how to run it into its folder, what its tab shows of it."""

    kind: str
    shape: RunShape
    # execute(folder, callback, cancel, snapshot_steps), through geometry.service.runs
    execute: Callable[..., RunArtefacts]
    outcome: Callable[[RunArtefacts], Any]  # what the tab shows, from the files the run wrote (worker thread)
    inputs: torch.Tensor  # the prepared input images, saved in the run folder as the run's inputs
    names: tuple[str, ...]
    settings: dict  # saved in the run folder as settings.json

    @property
    def plan(self) -> Plan:
        return self.shape.plan


def input_paths(folder: Path, count: int) -> tuple[Path, ...]:
    """The prepared inputs `start_folder` saved: what the run service reads."""
    return tuple(FolderLayout(folder).app_input(k) for k in range(count))


#: The status of a run whose uploads and settings checked out, shown while the previous result is cleared.
STARTING = "Starting the run..."
#: What a run's status says from the moment Cancel is pressed until it has stopped, in every phase.
CANCELLING = "Cancelling..."


def error_status(message: str) -> str:
    """What a tab's status area shows for an error: it stays there until the next run (a toast fades)."""
    return f"**Error:** {message}"


def average_selection(files: list | None) -> tuple[list, str | None]:
    """The files the Average tab keeps, at most MAX_AVERAGE_IMAGES (one weight slider each), and a message
    naming those left out (None when all are kept)."""
    files = [path for path in (files or []) if path]
    if len(files) <= MAX_AVERAGE_IMAGES:
        return files, None
    dropped = ", ".join(display_name(path) for path in files[MAX_AVERAGE_IMAGES:])
    return files[:MAX_AVERAGE_IMAGES], (
        f"The Average takes at most {MAX_AVERAGE_IMAGES} images (one weight slider each): kept the first "
        f"{MAX_AVERAGE_IMAGES}, left out {dropped}. Remove one of the kept images to use another.")


def without_examples(files: list, example_digests: frozenset[str]) -> tuple[list, bool]:
    """An upload replaces the example images it was added to: the files that are not bundled examples when the
    list mixes both (Gradio appends an upload to the files shown), and whether examples were taken out. A list
    of examples only (one chosen from the examples row) stays as it is."""
    files = [path for path in (files or []) if path]
    example = [file_digest(path) in example_digests for path in files]
    if any(example) and not all(example):
        return [path for path, is_example in zip(files, example) if not is_example], True
    return files, False


def average_plan(files: list, weights: list[float]) -> str:
    """What Run will average: each image's name with its weight and share of the total."""
    files = [path for path in (files or []) if path]
    if len(files) < 2:
        return f"Run averages the images above: upload 2 to {MAX_AVERAGE_IMAGES} (or pick an example below)."
    weights = [float(w) for w in weights[: len(files)]]
    total = sum(weights)
    parts = [f"**{display_name(path)}** × {w:g}" + (f" ({w / total:.0%})" if total > 0 else "")
             for path, w in zip(files, weights)]
    return f"Run averages these {len(files)} images, weighted: " + ", ".join(parts) + "."


def warm_up() -> None:
    """Pay at the server's start what the first run after it would pay in its flow search: torch imports
    torch._dynamo when the first optimiser is made (about 1 CPU s; benchmarks/bench_app_estimate.py measured a first
    64 px geodesic at 1.39 CPU s without this and 0.36 with it, the same as the second)."""
    import torch._dynamo  # noqa: F401


def network_loaded(distance: str, device: torch.device) -> bool:
    """Whether a run of `distance` on `device` finds its network loaded (`load_network`; the pixel distance has
    none)."""
    return distance == "l2" or is_loaded(distance, device)


def load_network(distance: str, device: torch.device, sizes) -> None:
    """Load the distance's network at the sizes the run works at before the run's phases begin, so that the loading
    is a phase of its own (`app.forecast`'s "loading") and not a part of whatever phase first needs it."""
    if distance == "l2":
        return
    family = DistanceFamily(distance, device)
    for size in dict.fromkeys(tuple(size) for size in sizes):
        family.at_size(size)


def _check_distance(name: str) -> str:
    if name not in DISTANCE_NAMES:
        raise gr.Error(f"Unknown distance {name!r}: choose one of {', '.join(DISTANCE_NAMES)}.")
    return name


def _check_memory(kind: str, options: RunOptions, images: int, free: int, size: tuple[int, int]) -> None:
    """Refuse a run too large for the device's memory before it is queued or measured: the service's check
    (`geometry.service.runs.check_memory`), which the run makes again when it starts."""
    try:
        geometry_runs.check_memory(kind, options, images, free, size, wording=geometry_runs.APP,
                                   describe=f"This {PROBLEMS[kind].noun}")
    except InputError as error:
        raise gr.Error(f"{error.worded('app')}.") from None


def _load_all(paths: list, labels: list[str], size: int) -> tuple[torch.Tensor, str]:
    """The uploads at one size, and the resize note; `labels` name the inputs in errors ("Start (A): ...")."""
    images = [load_upload(path, label) for path, label in zip(paths, labels)]
    return prepare_uploads(images, [display_name(path) for path in paths], int(size), paths=paths)


def start_folder(ctx: AppContext, spec: PreparedRun) -> Path:
    """A new run folder holding the prepared inputs and the settings."""
    folder = new_run_folder(ctx.output_root, spec.kind)
    layout = FolderLayout(folder)
    for k, image in enumerate(spec.inputs):
        elpips.save_image(layout.app_input(k), image)
    write_json(layout.app_settings, {
        **spec.settings, "inputs": list(spec.names), "size": list(spec.plan.size),
        "steps": spec.plan.total_steps, "preset": PRESET, "device": str(ctx.device),
    })
    return folder


def forecast_text(ctx: AppContext, spec: PreparedRun) -> str:
    """The estimate of a run from the stored cost model (`app.forecast`), in words: what runs after each start it
    may take, and how long each takes on this device."""
    device = ctx.device.type
    if not ctx.costs.knows(spec.shape.distance):
        return f"No stored run costs for the distance {spec.shape.distance}: the run shows its time left as it goes."
    parts = [_branch_text(ctx, branch, spec) for branch in ctx.costs.branches(spec.shape)]
    height, width = spec.plan.size
    if len(parts) == 1:
        said = f"Estimated run time: {parts[0]}"
    else:
        said = "Estimated run time: " + "; ".join(parts)
    return f"{said} ({width}x{height} px on {device}, from the stored run costs)."


def _branch_text(ctx: AppContext, branch: Branch, spec: PreparedRun) -> str:
    """'**about 5 s** if ... (the warp start kept as it is: flow search, render; no refinement step)'. On a device
    no run has measured yet (a GPU before its first run), it says so and gives the CPU's time instead: the stored
    costs are the CPU's, and no factor between the two is known here."""
    device = ctx.device.type
    seconds = ctx.costs.seconds(branch, device)
    if seconds is None:
        cpu = ctx.costs.seconds(branch, "cpu")
        said = (f"not measured on {device} yet (no run has finished there: the first one measures it, and the "
                f"progress bar gives its time left from its own steps; on this machine's CPU it would take "
                f"{format_seconds(cpu, about=True)})")
    else:
        said = f"**{format_seconds(seconds, about=True)}**"
        most = ctx.costs.seconds(branch, device, most=True)
        if most > seconds * 1.05:
            said += f" (up to {format_seconds(most, about=True)} with every re-timing round)"
    phases_said = [f"{leg.steps} refinement steps" if leg.phase == "refinement"
                   else "loading the network" if leg.phase == "loading"
                   else f"spacing (re-timed in {EXPECTED_CHANGE_ROUNDS} rounds, at most {CHANGE_ROUNDS})"
                   if leg.most is not None else leg.phase for leg in branch.legs]
    if not branch.steps:
        phases_said.append("no refinement step")
    when = f" {branch.when}" if branch.when else ""
    return f"{said}{when} ({', '.join(phases_said)})"


def run_clock(ctx: AppContext, spec: PreparedRun) -> RunClock:
    """The progress bar's clock of a run about to start, from the forecast's branches and this device's scales."""
    device = ctx.device.type
    scales = {name: ctx.costs.scale(device, name) for name in ("loading", *phases.PHASE_NAMES)}
    return RunClock(ctx.costs.branches(spec.shape), scales)


def stream_run(ctx: AppContext, spec: PreparedRun, session: str) -> Iterator[TabUpdate]:
    """Estimate, run and save `spec`, yielding `TabUpdate`s; the last one carries the outcome (None when the run
    was withdrawn from the queue before it started). The run's phases (`geometry.engine.phases`) and steps move
    one clock (`RunClock`); when the run has finished, the time each phase took refreshes the cost model."""
    folder = start_folder(ctx, spec)
    header = forecast_text(ctx, spec) + f" Results are saved in `{folder}`."
    snaps = snapshot_steps(spec.plan.total_steps)
    clock = run_clock(ctx, spec) if ctx.costs.knows(spec.shape.distance) else None

    def run(callback, cancel):
        with phases.listening(callback):
            return spec.execute(folder, callback, cancel, snaps)

    def save(artefacts: RunArtefacts):  # on the worker thread: done even when nobody watches any more
        if clock is not None:
            clock.finish()
            if artefacts.status != "cancelled":
                ctx.costs.refresh(ctx.device.type, clock.measured())
        return spec.outcome(artefacts)

    job = DeviceTask(spec.kind, ctx.slot, run=run, save=save, eta=clock,
                     on_withdraw=lambda: shutil.rmtree(folder, ignore_errors=True))
    yield from follow_task(ctx, job, session, header)


def step_line(latest, seconds_left: float | None, quantity: str = "energy") -> str:
    """The status line of a run's latest reported step: step count, `quantity` and the time left measured so far
    (`Watch.seconds_left`; the step-0 report, made before any step, has neither)."""
    line = f"Step {latest.step}/{latest.total_steps}"
    if latest.energy is not None and math.isfinite(latest.energy):
        line += f": {quantity} {latest.energy:.5f}"
    return line + ("" if seconds_left is None else f", {time_left(seconds_left)}")


def follow_task(ctx: AppContext, job: DeviceTask, session: str, header: str,
                describe: Callable[[Any], str] = step_line,
                tally: Callable[[Any], Any] = lambda outcome: outcome.artefacts) -> Iterator[TabUpdate]:
    """Start `job` for `session` (so its Cancel button reaches it) and yield its progress as `TabUpdate`s, the
    status being `header` and `describe(latest progress)`; the last view carries what the job's save returned,
    whose `tally(outcome)` has the run's `status`, `steps` and `seconds` (a run's `RunArtefacts`)."""
    ctx.board.add(session, job)
    try:
        job.start()
        last_snapshot = -1
        for watch in job.watch():
            header = watch.notice or header
            if not watch.started:
                if watch.waiting is not None:
                    yield TabUpdate(f"{header}\n\n**Waiting {watch.waiting}.** Cancel withdraws this run from the "
                                  "queue.")
                continue
            latest = watch.latest
            phase = watch.eta.phase if isinstance(watch.eta, RunClock) else None
            if latest is None or phase not in (None, "refinement"):  # the phases before or after the steps
                said = f"{PHASE_WORDS[phase].capitalize()}..." if phase is not None else "Starting..."
                if phase is not None and watch.seconds_left is not None:
                    said += f" {time_left(watch.seconds_left)} in all"
                yield TabUpdate(f"{header}\n\n{CANCELLING if job.cancel_event.is_set() else said}", watch)
                continue
            line = describe(latest, watch.seconds_left)
            if job.cancel_event.is_set():
                line = f"{CANCELLING} {line}"
            new_snapshot = watch.snapshot_step != last_snapshot
            last_snapshot = watch.snapshot_step
            yield TabUpdate(f"{header}\n\n{line}", watch, new_snapshot)
        try:
            outcome = job.outcome()
        except gr.Error:
            raise
        except InputError as error:
            raise gr.Error(error.worded("app")) from None
        except Exception as error:  # a bug: the user gets one line naming it; the log keeps the traceback
            log.exception("%s run failed", job.kind)
            raise gr.Error(f"The {job.kind} run failed: {type(error).__name__}: {error}") from None
    finally:
        ctx.board.remove(session, job)
    if job.withdrawn:
        yield TabUpdate(f"**{WITHDRAWN}**", watch, False, None)
        return
    ran = tally(outcome)  # what the run did: its status, steps and seconds
    if ran.status == "cancelled":
        done = f"Cancelled at step {ran.steps}; the partial result is kept"
    elif ran.steps:
        done = f"Done: {ran.steps} steps in {format_seconds(ran.seconds)}"
    else:  # a warp start, kept as it is (`geometry.engine.problems.refine_applies`)
        done = f"Done in {format_seconds(ran.seconds)}: the start kept as it is, no refinement step"
    yield TabUpdate(f"{header}\n\n**{done}**.", watch, True, outcome)


# ---------------------------------------------------------------- average / barycenter


@dataclass(frozen=True)
class AverageOutcome:
    artefacts: RunArtefacts  # status, steps, seconds and the files written
    image: torch.Tensor  # (1, 3, H, W)
    png: Path


def prepare_average(ctx: AppContext, paths: list, weights: list[float], distance: str, size: int,
                    steps: int, seed: int, motion: str = "auto") -> tuple[PreparedRun, str]:
    """Check the uploads and settings of an average; returns the run and the resize note."""
    paths = [path for path in (paths or []) if path]
    if len(paths) < 2:
        raise gr.Error("Average: upload at least 2 images (or pick an example).")
    if len(paths) > MAX_AVERAGE_IMAGES:
        raise gr.Error(f"Average: at most {MAX_AVERAGE_IMAGES} images; you gave {len(paths)}.")
    weights = [float(w) for w in weights[: len(paths)]]
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise gr.Error("Average: weights must be non-negative and not all zero.")
    distance = _check_distance(distance)
    batch, note = _load_all(paths, [f"Image {k + 1}" for k in range(len(paths))], size)
    size_hw = tuple(batch.shape[-2:])
    plan = plan_run(PRESET, "barycenter", int(steps) if steps else None, size_hw)
    options = RunOptions(distance=distance, seed=int(seed), device=ctx.device, preset=PRESET, steps=plan.total_steps,
                         motion=motion)
    _check_memory("barycenter", options, len(paths) + 1, 1, size_hw)

    def execute(folder: Path, callback, cancel, snaps) -> RunArtefacts:
        load_network(distance, ctx.device, (*plan.sizes, size_hw))
        request = geometry_runs.AverageRequest(input_paths(folder, len(paths)), tuple(weights),
                                               snapshot_steps=tuple(snaps))
        return geometry_runs.run_average(request, options, folder, callback=callback, cancel=cancel,
                                         wording=geometry_runs.APP)

    def outcome(artefacts: RunArtefacts) -> AverageOutcome:
        png = FolderLayout(artefacts.out).average
        return AverageOutcome(artefacts, elpips.load_image(png), png)

    shape = RunShape("barycenter", distance, plan, len(paths), motion, network_loaded(distance, ctx.device))
    settings = {"weights": weights, **options.to_dict()}
    names = tuple(display_name(path) for path in paths)
    return PreparedRun("average", shape, execute, outcome, batch, names, settings), note


# ---------------------------------------------------------------- geodesic / morph


@dataclass(frozen=True)
class GeodesicOutcome:
    artefacts: RunArtefacts  # status, steps, seconds and the files written
    frames: list[Path]
    mp4: Path
    gif: Path
    zip: Path
    sheet: Path
    images: torch.Tensor | None = None  # the frames written, (T, 3, H, W), for the live preview's last picture


#: The Geodesic tab's files: the run service's frames and movies (`geometry.service.video.write_movies`), and a zip of
#: the frames.
GEODESIC_FORMATS = ("mp4", "gif", "sheet")


def prepare_geodesic(ctx: AppContext, path_a, path_b, frames: int, distance: str, energy: str, size: int,
                     steps: int, seed: int, fps: float, motion: str = "auto") -> tuple[PreparedRun, str]:
    """Check the uploads and settings of a geodesic; returns the run and the resize note."""
    frames = int(frames)
    if not 3 <= frames <= 64:
        raise gr.Error("Geodesic: the number of frames (both ends included) must be between 3 and 64.")
    if energy not in ENERGY_FORMS:
        raise gr.Error(f"Geodesic: the path energy is one of {', '.join(ENERGY_FORMS)}; got {energy!r}.")
    distance = _check_distance(distance)
    if not path_a or not path_b:
        raise gr.Error("Geodesic: give both a start and an end image.")
    batch, note = _load_all([path_a, path_b], ["Start (A)", "End (B)"], size)
    size_hw = tuple(batch.shape[-2:])
    plan = plan_run(PRESET, "geodesic", int(steps) if steps else None, size_hw)
    options = RunOptions(distance=distance, seed=int(seed), device=ctx.device, energy=energy, preset=PRESET,
                         steps=plan.total_steps, motion=motion)
    _check_memory("geodesic", options, frames, frames - 2, size_hw)

    def execute(folder: Path, callback, cancel, snaps) -> RunArtefacts:
        load_network(distance, ctx.device, (*plan.sizes, size_hw))
        request = GeodesicRequest(images=input_paths(folder, 2), frames=frames, fps=float(fps), gif="pingpong",
                                  formats=GEODESIC_FORMATS, snapshot_steps=tuple(snaps))
        return geometry_runs.run_geodesic(request, options, folder, callback=callback, cancel=cancel,
                                          wording=geometry_runs.APP)

    shape = RunShape("geodesic", distance, plan, frames, motion, network_loaded(distance, ctx.device), options.seed)
    settings = {"frames": frames, "fps": float(fps), **options.to_dict()}
    names = (display_name(path_a), display_name(path_b))
    return PreparedRun("geodesic", shape, execute, geodesic_outcome, batch, names, settings), note


def geodesic_outcome(artefacts: RunArtefacts) -> GeodesicOutcome:
    """The Geodesic tab's results from the files the run wrote, with the frames zipped for download."""
    layout = FolderLayout(artefacts.out)
    frames = [layout.out / name for name in artefacts.files if (layout.out / name).parent == layout.frames]
    archive = layout.frames_zip
    with atomic_write(archive) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in frames:
                bundle.write(path, arcname=path.name)
    # the frames as written: a start kept as it is sends no step's snapshot, and the live preview showed nothing
    images = torch.cat([elpips.load_image(path) for path in frames]) if frames else None
    return GeodesicOutcome(artefacts, frames, layout.movie("mp4"), layout.movie("gif"), archive, layout.movie("sheet"),
                           images)


def progress_bar(view: TabUpdate) -> str:
    """An HTML progress bar of the whole run: every phase (`RunClock`: flow search, spacing, refinement, render) with
    the time left of the run; where the run has no such clock (an attack), its steps."""
    watch = view.watch
    if watch is None:
        return ""
    latest, clock = watch.latest, watch.eta if isinstance(watch.eta, RunClock) else None
    if view.outcome is not None:
        ended = getattr(view.outcome, "artefacts", None) or getattr(view.outcome, "record", None)
        if getattr(ended, "status", "completed") == "completed":
            return _bar(1.0, "Done: every phase of the run")
        return "" if latest is None else _bar(latest.step / max(1, latest.total_steps),
                                              f"Cancelled at step {latest.step}/{latest.total_steps}")
    left = "" if watch.seconds_left is None else f", {time_left(watch.seconds_left)}"
    if clock is not None:
        if clock.phase is None:
            return ""
        share = clock.share_done()
        steps = f", step {latest.step}/{latest.total_steps}" if clock.phase == "refinement" and latest else ""
        return _bar(share, f"{clock.describe().capitalize()}{steps}: {100 * share:.0f} % of the run{left}")
    if latest is None:
        return ""
    step, total = int(latest.step), max(1, int(latest.total_steps))
    return _bar(step / total, f"{step}/{total} steps ({100 * step / total:.0f} %){left}")


def _bar(share: float, said: str) -> str:
    return (f'<progress max="1000" value="{round(1000 * min(1.0, max(0.0, share)))}" '
            f'style="width:100%;height:12px"></progress><div>{said}</div>')


def to_pixels(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) uint8 for display, rounded as the saved frames are
    (`geometry.service.video`)."""
    return video.to_uint8_frames(image[None])[0]


def enlarged(pixels: np.ndarray, min_height: int = 128) -> np.ndarray:
    """Pixels repeated by the smallest whole factor that makes them at least `min_height` tall, so
    that small working images show crisp in the live preview (no interpolation)."""
    factor = max(1, -(-min_height // pixels.shape[0]))
    return pixels.repeat(factor, axis=0).repeat(factor, axis=1)


def filmstrip(frames: torch.Tensor, gap: int = 2) -> np.ndarray:
    """All frames side by side (H, T*W + gaps, 3) uint8, for the live preview."""
    pixels = list(video.to_uint8_frames(frames))
    count, (height, width, _) = len(pixels), pixels[0].shape
    strip = np.full((height, count * width + (count - 1) * gap, 3), 255, dtype=np.uint8)
    for k, frame in enumerate(pixels):
        strip[:, k * (width + gap): k * (width + gap) + width] = frame
    return strip


#: The last status of a run cancelled while it waited for the device.
WITHDRAWN = "Withdrawn from the queue before it started: nothing ran."


def cancel_session(ctx: AppContext, session: str) -> str:
    """Stop every run and measurement of `session`; says what happens to each."""
    asked = ctx.board.cancel(session)
    measuring = sum(job.kind == "measurement" for job in asked)
    running = sum(job.started for job in asked) - measuring
    waiting = len(asked) - measuring - running
    if not asked:
        return "Nothing to cancel: no run of yours is running or waiting."
    lines = []
    if running:
        lines.append("Cancelling: the run stops after its current step and keeps what it has.")
    if waiting:
        lines.append(f"Withdrew {waiting} waiting run{'s' if waiting > 1 else ''} from the queue.")
    if measuring:
        lines.append("Stopping: the measurement ends after its current samples, with the estimate so far.")
    return " ".join(lines)
