"""The run service: one way to run an average or a geodesic into an output folder, for every front end.

The command-line tools (`geometry.tools`), the batch and Ray backends (`geometry.service.backends`) and the app
(`app.runs`) describe a run with its inputs (an `AverageRequest` or a `geometry.service.geodesic_run.GeodesicRequest`)
and its `RunOptions`, and call :func:`run_average` or :func:`run_geodesic` with an output folder. The service
checks the inputs and the folder, refuses a run too large for the memory (:func:`check_memory`, before any
network is loaded), runs the engine (`geometry.api`) with a checkpoint in the folder, and writes the outputs in
one layout whichever front end asked:

* an average: ``average.png``, the snapshots ``000100.png`` ... (those asked for), ``record.json`` (the engine's
  run record);
* a geodesic: ``frames/frame_000.png`` ..., the movies (``geodesic.mp4``, ``.gif``, ``.webp``, ``.apng``,
  ``contact_sheet.png``, as asked), ``montage.mp4`` when asked, ``record.json`` (settings, timing, cuts and
  the engine's record of every pair);
* both: ``run.json`` (settings and status: what ``resume=True`` checks, `geometry.service.run_folder`) and the
  checkpoint while the run is unfinished.

So the same request and options give the same files from the tool, a job file and the app. What differs is
what each front end does around it: the progress it shows (``callback``), how it words a refusal
(`MemoryWording`), what else it keeps in the folder (a job's ``done.json``, the app's ``settings.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from elpips.errors import InputError
from elpips.io import write_json
from geometry.service.folder_claim import check_no_foreign_outputs, claim_folder
from geometry.service.memory_check import APP, COMMAND_LINE, JOB_FILE, MemoryWording, check_memory, check_render
from geometry.service.run_folder import (
    AVERAGE_NAME,
    CHECKPOINT_NAME,
    RECORD_NAME,
    FolderLayout,
    RunArtefacts,
    RunFolder,
    checkpoint_bytes,
    file_sha256,
)

if TYPE_CHECKING:
    import threading

    from geometry.options import RunOptions
    from geometry.service.geodesic_run import GeodesicRequest

__all__ = ["AverageRequest", "MemoryWording", "RunArtefacts", "check_memory", "check_render", "run_average",
           "run_geodesic", "AVERAGE_NAME", "RECORD_NAME", "CHECKPOINT_NAME", "APP", "COMMAND_LINE", "JOB_FILE"]

Callback = Callable[[Any], None]  # called with the engine's `geometry.Progress` after every step


@dataclass(frozen=True)
class AverageRequest:
    """What to average: ``images`` (paths) with ``weights`` (None: equal), or with ``perturbed`` ("noise" or
    "shift") ``count`` perturbed copies of ONE image (the reference's 'bary10'). ``snapshot_steps``: the steps
    whose images are saved (None: the reference's, (): none)."""

    images: tuple[Path, ...]
    weights: tuple[float, ...] | None = None
    perturbed: str | None = None
    count: int = 10
    snapshot_steps: tuple[int, ...] | None = ()

    def checked_weights(self) -> list[float] | None:
        """The weights to run with; InputError naming the problem when the request does not hold together."""
        if self.perturbed:
            if len(self.images) != 1:
                raise InputError(f"--perturbed averages copies of ONE image, got {len(self.images)}",
                                 field="perturbed")
            if self.weights:
                raise InputError("--weights do not apply to --perturbed (its copies weigh the same)", field="weights")
            return None
        if len(self.images) < 2:
            raise InputError("give at least two images to average (or one with --perturbed noise|shift)",
                             field="images")
        if self.weights is None:
            return None
        from geometry.options import weights_problem

        problem = weights_problem(list(self.weights), len(self.images))
        if problem is not None:
            raise InputError(problem)
        return list(self.weights)

    def settings(self, options: RunOptions) -> dict:
        """What ``run.json`` stores, and resuming compares: the inputs (paths and contents) and the settings."""
        return {
            "inputs": [str(Path(p).resolve()) for p in self.images],
            "input_sha256": [file_sha256(p) for p in self.images],
            "weights": self.checked_weights(), "perturbed": self.perturbed,
            "count": self.count if self.perturbed else None,
            **options.result_settings(),
        }


def run_average(request: AverageRequest, options: RunOptions, out: str | Path, *, resume: bool = False,
                callback: Callback | None = None, cancel: threading.Event | None = None,
                max_memory: int | None = None, wording: MemoryWording = COMMAND_LINE,
                overwrite: bool = False) -> RunArtefacts:
    """Run the average of ``request`` into ``out`` (see the module docstring); ``resume`` continues the unfinished
    run there, ``overwrite`` replaces the finished one (refused without it). Bad input raises InputError before
    anything is written; a cancelled run writes its current image and keeps its checkpoint."""
    import elpips
    from geometry.engine.inputs import target_size

    weights = request.checked_weights()
    sizes = [tuple(elpips.load_image(path).shape[-2:]) for path in request.images]  # a clear line for a missing
    # or unreadable image, before anything is written
    settings = request.settings(options)
    out = Path(out)
    checkpoint = FolderLayout(out).checkpoint()
    size = target_size(sizes[0], options.size)
    targets = request.count if request.perturbed else len(request.images)
    check_memory("barycenter", options, targets + 1, 1, size, limit=max_memory, describe="this average",
                 wording=wording)
    with claim_folder(out, request.images):  # the folder is this run's until it ends
        check_no_foreign_outputs(out, FolderLayout(out).average_outputs(request.snapshot_steps))
        folder = RunFolder(out, settings, resume, [checkpoint], checkpoint_bytes(1, size), overwrite)
        return _average_into(folder, request, options, weights, callback, cancel)


def _average_into(folder: RunFolder, request: AverageRequest, options: RunOptions, weights, callback, cancel):
    """`run_average`'s optimisation, in its claimed and checked ``folder``: the request's problem solved by the
    engine (`geometry.api.solve`)."""
    import elpips
    from geometry.api import Callbacks, solve
    from geometry.engine.inputs import prepare_images
    from geometry.engine.problems import BarycenterProblem

    checkpoint = folder.checkpoint()
    snapshots: list[str] = []

    def on_progress(progress) -> None:
        if progress.snapshot is not None:
            snapshot = folder.snapshot(progress.step)
            elpips.save_image(snapshot, progress.snapshot[:1])
            snapshots.append(folder.relative(snapshot))
        if callback is not None:
            callback(progress)

    try:
        folder.mkdir(folder.out)
        if request.perturbed:
            image = prepare_images([request.images[0]], options.size)
            problem = BarycenterProblem.perturbed(image, request.perturbed, request.count, options.seed,
                                                  options.energy)
        else:
            problem = BarycenterProblem(prepare_images(list(request.images), options.size), weights, options.energy)
        result = solve(problem, options, Callbacks(on_progress, cancel, checkpoint, request.snapshot_steps))
    except BaseException as error:
        folder.discard_if_empty(error)
        raise
    record = result.record.to_dict()  # an average's record.json is the engine's record
    elpips.save_image(folder.average, result.images[:1])
    write_json(folder.record, record)
    _close(folder, record["status"] == "cancelled", [checkpoint])
    outputs = [*dict.fromkeys(snapshots), folder.relative(folder.average), folder.relative(folder.record)]
    return RunArtefacts(folder.out, outputs, record, [record])


def run_geodesic(request: GeodesicRequest, options: RunOptions, out: str | Path, *, resume: bool = False,
                 callback: Callback | None = None, cancel: threading.Event | None = None,
                 max_memory: int | None = None, wording: MemoryWording = COMMAND_LINE,
                 report: Callable[[str], None] | None = None,
                 on_pair: Callable[[int, int], None] | None = None, workers: int = 1,
                 overwrite: bool = False) -> RunArtefacts:
    """Run the geodesic of ``request`` (two images, or a clip's pairs) into ``out`` (see the module docstring).

    ``report`` gets the lines worth telling the user (the clip's consecutive distances and cuts, the audio);
    ``on_pair(k, n)`` is called before the k-th of the n optimised pairs starts (a progress bar over them). A run
    interrupted, or cancelled, keeps its finished pairs and its checkpoint; ``resume`` continues it; ``overwrite``
    replaces a finished run in ``out`` (refused without it). ``workers``
    > 1 runs a clip's pairs in that many processes at a time (`GeodesicRunner.run_parallel`: the same files; no
    ``callback`` nor ``cancel`` there, ``on_pair`` as pairs end)."""
    from geometry.service.geodesic_run import GeodesicRunner

    inputs = [*request.images, *([request.video] if request.video is not None else [])]
    with claim_folder(out, inputs):  # the folder is this run's until it ends (`geometry.service.folder_claim`)
        run = GeodesicRunner.open(request, options, out, resume=resume, max_memory=max_memory, wording=wording,
                                  report=report, overwrite=overwrite)
        if workers > 1 and run.pair_count > 1:
            return run.run_parallel(workers, on_pair)
        return run.run_all(callback, cancel, on_pair)


def _close(folder: RunFolder, cancelled: bool, checkpoints: list[Path]) -> None:
    """Mark the run done (its checkpoints removed), or cancelled (kept, so that it resumes)."""
    folder.save(status="cancelled" if cancelled else "done")
    if not cancelled:
        for checkpoint in checkpoints:
            checkpoint.unlink(missing_ok=True)
