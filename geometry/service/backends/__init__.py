"""Backends: where and how ``elpips-batch`` runs its jobs.

The batch driver (`geometry.tools.batch`) parses and validates the job file, skips finished jobs, and hands
the rest to a backend. A backend is anything with this shape (:class:`Backend`)::

    class MyBackend:
        name = "mine"
        def run(self, jobs: Sequence[Job], on_event: Callable[[JobEvent], None]) -> Iterator[JobResult]:
            ...

``run`` yields exactly one :class:`JobResult` per job, in any order, as each job ends; a job's failure
is a ``JobResult`` with ``status="failed"``, never an exception. ``on_event`` is called in the driver's
process with :class:`JobEvent` progress (started/progress/finished) for the progress bar. The driver
writes the manifest from the results, so every backend produces the same manifest.

What runs one job lives here too, so that every backend runs jobs the same way: :func:`run_job`
(call it in the worker: each network is loaded once per worker process, by
`geometry.engine.distances.load_cached`) and :func:`finished_result` (is the job already done?). Both only
touch the job's output folder, which is where resumability lives:

* ``job.json``         the job's spec (`Job.spec`), written when it starts;
* ``checkpoint.pt``    the engine's checkpoint, written every ``checkpoint_every`` steps and on
                       SIGINT/SIGTERM; a rerun resumes from it (deleted when the job's spec changed);
* the outputs          the run service's (`geometry.service.runs`: the same files as the tools' and the app's), with
                       its ``run.json``;
* ``done.json``        written last, atomically: spec, output file names, run record. A job is
                       finished when ``done.json`` matches its spec and every output it lists exists.

A "clip" job runs in parts (:func:`run_clip`): :func:`start_clip` (cut detection; the pairs left), then
:func:`run_clip_pair` for each of them, each pair checkpointed in ``checkpoints/`` and its record written
to its own file in ``pairs/``, then :func:`finish_clip` (movies, ``record.json``, ``done.json``). The local
backend runs the parts one after another; a cluster backend may run the pairs at the same time. The process
that owns a clip's parts (:func:`run_clip`'s, a cluster backend's driver) holds its folder's lock
(:func:`hold_folder`) from before its start until no part of it runs any more; :func:`run_job` holds a whole job's.

A cluster backend (Ray) runs :func:`run_job` (or a clip's parts) in its workers on a folder every
node can reach, and registers itself in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Protocol, Sequence

from elpips.cli_common import one_line
from elpips.errors import InputError
from elpips.io import read_json, remove_stale_temporaries, write_json
from geometry.service.folder_claim import (
    FolderClaim,
    FolderRefused,
    check_no_foreign_outputs,
    check_not_over_inputs,
    claim_folder,
)
from geometry.service.jobs import Job
from geometry.service.memory_check import JOB_FILE
from geometry.service.run_folder import SPEC_FILE, FolderLayout

if TYPE_CHECKING:  # imported when a job runs, so that `elpips-batch` starts (and stops on Ctrl-C) quickly
    import torch

    from geometry.service.runs import RunArtefacts

__all__ = [
    "Backend",
    "BACKENDS",
    "JobEvent",
    "JobResult",
    "make_backend",
    "run_job",
    "run_clip",
    "start_clip",
    "run_clip_pair",
    "finish_clip",
    "finished_result",
    "hold_folder",
    "hold_clip_folder",
    "DEFAULT_CHECKPOINT_EVERY",
]

#: Steps between checkpoints when a job does not say (a few seconds of work at typical sizes).
DEFAULT_CHECKPOINT_EVERY = 50

Status = Literal["done", "failed", "skipped"]

#: Backend name -> "module:Class". A backend class takes ``device`` and its own keyword options.
BACKENDS: dict[str, str] = {
    "local": "geometry.service.backends.local:LocalBackend",
    "ray": "geometry.service.backends.ray_backend:RayBackend",
}


@dataclass(frozen=True)
class JobEvent:
    """Progress of one job, reported to the driver.

    kind: "started" (before the engine runs), "progress" (after each optimisation step, with the
    engine's step, total, energy and ETA) or "finished" (outputs written, or the job failed).
    """

    job: str
    kind: Literal["started", "progress", "finished"]
    step: int = 0
    total_steps: int = 0
    energy: float | None = None
    eta_s: float | None = None


@dataclass
class JobResult:
    """How one job ended; one entry of the manifest (`to_dict`)."""

    name: str
    kind: str | None
    output: Path | None
    status: Status
    error: str | None = None
    outputs: list[str] = field(default_factory=list)  # file names relative to `output`
    record: dict | None = None                         # record.json's content (the manifest's key)
    resumed_from_step: int | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output) if self.output is not None else None
        return data


class Backend(Protocol):
    """Runs validated jobs somewhere and reports how each ended (see the module docstring)."""

    name: str

    def run(self, jobs: Sequence[Job], on_event: Callable[[JobEvent], None]) -> Iterator[JobResult]:
        ...


def make_backend(name: str, **options: Any) -> Backend:
    """Instantiate the backend registered under ``name`` with ``options`` (e.g. ``device``)."""
    if name not in BACKENDS:
        raise InputError(f"unknown backend {name!r}: use one of {', '.join(sorted(BACKENDS))}")
    module_name, _, class_name = BACKENDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InputError(f"backend {name!r} is not available ({error}); install its extra, "
                         "e.g. pip install 'elpips-torch[cluster]'") from None
    return getattr(module, class_name)(**options)


def finished_result(job: Job) -> JobResult | None:
    """The job's result from its ``done.json`` when it is finished (same spec, outputs present), else None."""
    done = read_json(FolderLayout(job.output).done)
    if not done or not job.is_spec(done.get("spec")):
        return None
    outputs = done.get("outputs") or []
    if not all((job.output / name).is_file() for name in outputs):
        return None
    return JobResult(name=job.name, kind=job.kind, output=job.output, status="skipped", outputs=list(outputs),
                     record=done.get("record"), seconds=0.0)


def run_job(job: Job, device: torch.device | str | None,
            on_event: Callable[[JobEvent], None], cancel: threading.Event | None = None) -> JobResult:
    """Run one job to completion in this process: resume its checkpoint if any, write its outputs and
    ``done.json``. Errors become a failed result with a one-line message; KeyboardInterrupt propagates
    (the engine has written the checkpoint by then)."""
    if job.kind == "clip":
        return run_clip(job, device, on_event, cancel)
    started = time.perf_counter()
    result = JobResult(name=job.name, kind=job.kind, output=job.output, status="failed")
    claim = None
    try:
        claim = hold_folder(job)  # for the job's lifetime: two runners on one folder never interleave
        checkpoint = _prepare_folder(job)
        resumed = checkpoint.exists()
        seen_step: list[int] = []
        on_event(JobEvent(job.name, "started"))

        def callback(progress) -> None:
            if not seen_step and progress.step > 0:
                seen_step.append(progress.step)
                if resumed:  # the first update after a checkpoint taken at step s is s + 1
                    result.resumed_from_step = progress.step - 1
            on_event(_progress_event(job, progress))

        artefacts = _execute(job, device, callback, cancel)
        if artefacts.status == "cancelled":
            result.error = "cancelled; rerun the job file to resume from its checkpoint"
        else:
            if resumed and not seen_step:  # the checkpoint already held the finished optimisation
                result.resumed_from_step = artefacts.steps
            write_json(FolderLayout(job.output).done, {"spec": job.spec(), "outputs": artefacts.files,
                                                    "record": artefacts.record_json})
            result.status, result.outputs, result.record = "done", artefacts.files, artefacts.record_json
    except Exception as error:  # one job's failure must not stop the others; the manifest says why
        result.error = _error_text(error)
    finally:
        if claim is not None:
            claim.release()
    result.seconds = time.perf_counter() - started
    on_event(JobEvent(job.name, "finished"))
    return result


def run_clip(job: Job, device, on_event: Callable[[JobEvent], None],
             cancel: threading.Event | None = None) -> JobResult:
    """A "clip" job in this process, its folder held throughout: :func:`start_clip`, its pairs one after another,
    :func:`finish_clip` (the Ray backend hands the same parts to its workers, the pairs to whichever is idle, and
    its driver holds the folder)."""
    started = time.perf_counter()
    claim = hold_clip_folder(job, on_event)
    if isinstance(claim, JobResult):
        return claim
    try:
        pending = start_clip(job, device, on_event)
        for index in pending if isinstance(pending, list) else ():
            failed = run_clip_pair(job, index, device, on_event, cancel)
            if failed is not None:
                pending = failed
                break
        result = pending if isinstance(pending, JobResult) else finish_clip(job, device, on_event)
    finally:
        claim.release()
    result.seconds = time.perf_counter() - started
    return result


def hold_folder(job: Job) -> FolderClaim:
    """Claim the job's output folder (`geometry.service.folder_claim`) in this process, for as long as the job
    runs: by :func:`run_job` for a whole job, by whoever owns a clip's parts (:func:`run_clip`, the Ray driver)
    for a clip. Raises FolderRefused (one line) for a folder over the job's inputs or held by a live run."""
    return claim_folder(job.output, job.inputs).acquire()


def hold_clip_folder(job: Job, on_event: Callable[[JobEvent], None]) -> FolderClaim | JobResult:
    """:func:`hold_folder` for the owner of a clip's parts: the claim, or the job's failed result (the line)."""
    try:
        return hold_folder(job)
    except InputError as error:
        return _failed(job, error, on_event)


def start_clip(job: Job, device, on_event: Callable[[JobEvent], None]) -> list[int] | JobResult:
    """A clip job's first part (`geometry.service.geodesic_run.GeodesicRunner.start`) in its prepared folder: the
    pairs left to
    optimise, or the job's failed result."""
    on_event(JobEvent(job.name, "started"))
    try:
        _prepare_folder(job)
        request, options = _geodesic_request(job, device)
        from geometry.service.geodesic_run import GeodesicRunner

        run = GeodesicRunner.open(request, options, job.output, resume=True, max_memory=_max_memory(job),
                               wording=JOB_FILE)
        return run.start()
    except Exception as error:
        return _failed(job, error, on_event)


def run_clip_pair(job: Job, index: int, device, on_event: Callable[[JobEvent], None],
                  cancel: threading.Event | None = None) -> JobResult | None:
    """Pair ``index`` of a started clip job, in any process and order: None when it is done, else the job's
    failed result (a cancelled pair keeps its checkpoint)."""
    try:
        run = _reopen_clip(job, device)
        if run.run_pair(index, lambda progress: on_event(_progress_event(job, progress)), cancel) is None:
            return None
        return _failed(job, "cancelled; rerun the job file to resume from its checkpoint", on_event)
    except Exception as error:
        return _failed(job, error, on_event)


def finish_clip(job: Job, device, on_event: Callable[[JobEvent], None]) -> JobResult:
    """A clip job's last part, once all its pairs are done: its movies and records, then ``done.json``."""
    try:
        artefacts = _reopen_clip(job, device).finish()
        write_json(FolderLayout(job.output).done, {"spec": job.spec(), "outputs": artefacts.files,
                                                "record": artefacts.record_json})
    except Exception as error:
        return _failed(job, error, on_event)
    on_event(JobEvent(job.name, "finished"))
    return JobResult(name=job.name, kind=job.kind, output=job.output, status="done", outputs=artefacts.files,
                     record=artefacts.record_json)


def _reopen_clip(job: Job, device):
    from geometry.service.geodesic_run import GeodesicRunner

    return GeodesicRunner.reopen(*_geodesic_request(job, device), job.output)


def _geodesic_request(job: Job, device):
    """The job's `GeodesicRequest` and its run options on ``device``."""
    from geometry.service.geodesic_run import GeodesicRequest

    return GeodesicRequest.from_job(job.kind, job.inputs, job.settings), _options(job, device)


def _options(job: Job, device):
    """The job's run options (its distance by name: the engine loads it through the process's metric cache)."""
    options = job.options
    return replace(options, device=device, checkpoint_every=options.checkpoint_every or DEFAULT_CHECKPOINT_EVERY)


def _max_memory(job: Job) -> int | None:
    from elpips.memory import parse_bytes

    limit = job.settings.get("max_memory")
    return None if limit is None else parse_bytes(str(limit))


def _failed(job: Job, error: Exception | str, on_event: Callable[[JobEvent], None]) -> JobResult:
    on_event(JobEvent(job.name, "finished"))
    return JobResult(name=job.name, kind=job.kind, output=job.output, status="failed",
                     error=error if isinstance(error, str) else _error_text(error))


def _progress_event(job: Job, progress) -> JobEvent:
    return JobEvent(job.name, "progress", progress.step, progress.total_steps, energy=progress.energy,
                    eta_s=progress.eta_s)


def _error_text(error: Exception) -> str:
    """The error on one line; where it was raised, when it is unexpected (for the bug report)."""
    text = _one_line(error)
    if not isinstance(error, (InputError, OSError)):
        frame = traceback.extract_tb(error.__traceback__)[-1]
        text += f" (at {Path(frame.filename).name}:{frame.lineno})"
    return text


def _prepare_folder(job: Job) -> Path:
    """Create the output folder and record the job's spec; a checkpoint or done marker of a different
    spec of this job is stale and removed, so a changed job starts afresh, and so are temporary files that a
    worker killed mid-write left behind. A folder over the job's inputs, holding a run that is not this
    job's (run state but no ``job.json``) or files named like its outputs that no run wrote, or holding this
    job's finished run of a different spec (unless the job's settings say ``overwrite = true``) is refused with
    nothing changed."""
    check_not_over_inputs(job.output, job.inputs)
    job.output.mkdir(parents=True, exist_ok=True)
    spec, layout = job.spec(), FolderLayout(job.output)
    checkpoint = layout.checkpoint()
    stored = read_json(layout.spec)
    if stored is None and layout.holds_run():
        raise FolderRefused(f"{job.output} holds a run that is not this job's (no {SPEC_FILE}): choose another "
                            f"output folder for job {job.name!r}, or finish that run with its own tool",
                            path=job.output)
    if stored is None:  # before job.json marks the folder as the job's
        check_no_foreign_outputs(job.output, layout.geodesic_outputs() if job.kind in ("geodesic", "clip")
                                 else layout.average_outputs())
    changed = stored is not None and not job.is_spec(stored)
    if changed and layout.holds_finished_run() and not job.settings.get("overwrite"):
        raise FolderRefused(f"{job.output} holds job {job.name!r}'s finished run of other settings or inputs: set "
                            f"overwrite = true in the job's settings to replace it, or give the job another output "
                            f"folder", path=job.output)
    remove_stale_temporaries(job.output)
    if not job.is_spec(stored):
        checkpoint.unlink(missing_ok=True)
        layout.flow(checkpoint).unlink(missing_ok=True)
        layout.done.unlink(missing_ok=True)
        layout.run_file.unlink(missing_ok=True)  # a clip job's run state: its pairs are redone
        for stale in layout.pair_files():
            stale.unlink()  # a clip job's pair checkpoints and finished pairs' records
        write_json(layout.spec, spec)
    return checkpoint


def _execute(job: Job, device, callback, cancel) -> RunArtefacts:
    """The job through the run service (`geometry.service.runs`), resuming what its folder holds."""
    from geometry.service import runs

    options, common = _options(job, device), dict(resume=True, callback=callback, cancel=cancel,
                                                  max_memory=_max_memory(job), wording=JOB_FILE)
    if job.kind == "geodesic":
        request, _ = _geodesic_request(job, device)
        return runs.run_geodesic(request, options, job.output, **common)
    if job.kind in ("barycenter", "perturbed_barycenter"):
        perturbed = job.settings.get("mode", "noise") if job.kind == "perturbed_barycenter" else None
        request = runs.AverageRequest(tuple(job.inputs), job.weights, perturbed, job.settings.get("count", 10))
        return runs.run_average(request, options, job.output, **common)
    # validated by geometry.service.jobs; a raw Job gets a clear line
    raise ValueError(f"unknown job kind {job.kind!r}")


def _one_line(error: BaseException) -> str:
    """The error on one line, after its type's name (the manifest says what kind of failure it was)."""
    text = one_line(error.worded("job") if isinstance(error, InputError) else error)
    name = type(error).__name__
    return text if text == name else f"{name}: {text}"
