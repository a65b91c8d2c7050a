"""A geodesic run into an output folder (`geometry.service.runs`): two images, or a clip's consecutive pairs.

A `GeodesicRequest` says what to compute; `GeodesicRunner` is such a request read and checked against its output
folder. A run is made of parts: :meth:`GeodesicRunner.start` once (the scene cuts; the pairs left),
:meth:`GeodesicRunner.run_pair` for each of them in any order and at the same time, then
:meth:`GeodesicRunner.finish`. They run in different processes or machines on a folder they all reach (a job
file's "clip" on Ray, `GeodesicRunner.run_parallel`), or one after another in this process: the run whole
(:meth:`GeodesicRunner.run_all`: what the tool, a job's "geodesic" and the app use). The files are the same either
way.

Pairs that are not morphed (a scene cut: at least the cut threshold apart, `geometry.service.clips`; or no in-between
shown) hold their first frame. Each optimised pair has its own checkpoint (``checkpoint.pt`` for two images,
``checkpoints/pair_0000.pt`` ... for a clip) and, once finished, its own record (``pairs/pair_0000.json``: pairs
finishing at the same time never share a file), which the last part folds into ``run.json``.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from elpips.errors import InputError
from elpips.io import read_json, write_json
from geometry.engine import phases
from geometry.service.folder_claim import check_no_foreign_outputs
from geometry.service.memory_check import COMMAND_LINE, MemoryWording, check_memory, check_render
from geometry.service.run_folder import MOVIE_STEM, FolderLayout, RunArtefacts, RunFolder, checkpoint_bytes, file_sha256

if TYPE_CHECKING:
    from geometry.options import RunOptions
    from geometry.service.clips import TimingPlan

#: The output rate of two images when the request gives none.
DEFAULT_FPS = 10.0
#: What a request's fields are called in a job file's "clip" settings (the same names as the fields).
CLIP_SETTINGS = ("insert", "to_fps", "input_fps", "fps", "cut_threshold", "formats", "montage", "gif",
                 "output_size")


@dataclass(frozen=True)
class GeodesicRequest:
    """What a geodesic run computes, beside its `RunOptions`.

    Two ``images`` -> ``frames`` frames (endpoints included; or ``insert`` in-betweens), or a ``video`` (a file,
    or a folder of numbered frames at ``input_fps``) -> ``insert`` new frames between every consecutive pair, or
    what plays it at ``to_fps``. ``fps``: the output's rate (None: two images 10, a clip what keeps its timing).
    ``cut_threshold``: a clip's scene-cut distance (None: the distance's default). ``formats``, ``gif``: the
    movies (`geometry.service.video.write_movies`); ``montage``: also input, cross-dissolve and geodesic side by side.
    ``start_frames``: a folder of start frames (two images). ``snapshot_steps``: steps at which the engine hands the
    callback the current frames (two images). ``output_size``: the size of the frames written (a short side or
    (H, W); None: the first input's own size): the engine works at the options' size and the frames are rendered
    at this one (`geometry.api.Result.render`)."""

    images: tuple[Path, ...] = ()
    video: Path | None = None
    input_fps: float | None = None
    insert: int | None = None
    to_fps: float | None = None
    frames: int | None = None
    fps: float | None = None
    cut_threshold: float | None = None
    formats: tuple[str, ...] = ("mp4", "gif", "sheet")
    montage: bool = False
    gif: str = "forward"
    start_frames: Path | None = None
    snapshot_steps: tuple[int, ...] = ()
    output_size: int | tuple[int, int] | None = None

    @classmethod
    def from_job(cls, kind: str, inputs: tuple[Path, ...], settings: Mapping[str, Any]) -> GeodesicRequest:
        """A job file's "geodesic" (two images; frames, fps, gif) or "clip" (`CLIP_SETTINGS`) as a request."""
        if kind == "clip":
            given = {key: settings[key] for key in CLIP_SETTINGS if key in settings}
            if "formats" in given:
                given["formats"] = tuple(given["formats"])
            if isinstance(given.get("output_size"), list):
                given["output_size"] = tuple(given["output_size"])
            return cls(video=Path(inputs[0]), **given)
        output_size = settings.get("output_size")
        return cls(images=tuple(inputs), frames=int(settings.get("frames", 10)),
                   fps=float(settings.get("fps", DEFAULT_FPS)), gif=settings.get("gif", "forward"),
                   output_size=tuple(output_size) if isinstance(output_size, list) else output_size)


@dataclass
class FrameSource:
    """A request's input frames, read and checked before anything is written, and their timing."""

    items: list                  # the input frames: (H, W, 3) uint8 arrays, or image tensors (two images)
    plan: TimingPlan
    fps: float                   # the output's rate
    sources: list[Path]
    audio: Path | None = None    # a video whose audio track goes into the MP4
    audio_note: str = ""         # why the audio is not copied, when the input has some
    is_clip: bool = False


@dataclass
class GeodesicRunner:
    """A request read and checked against its output folder; the distances and cuts once measured."""

    request: GeodesicRequest
    source: FrameSource
    options: RunOptions
    size: tuple[int, int]            # the working size (the options' size)
    output_size: tuple[int, int]     # the size of the frames written
    settings: dict
    threshold: float | None
    checkpoints: list[Path]
    start_images: list | None        # the start frames read (two images), or None
    folder: RunFolder
    report: Callable[[str], None]
    distances: list[float] = field(default_factory=list)
    cuts: set[int] = field(default_factory=set)
    wording: MemoryWording = COMMAND_LINE   # how its lines name the settings

    @property
    def out(self) -> Path:
        return self.folder.out

    @property
    def pair_count(self) -> int:
        return len(self.source.items) - 1

    @property
    def morphed(self) -> list[int]:
        """The pairs whose geodesic is optimised: an in-between is shown and they are no cut."""
        plan = self.source.plan
        return [i for i in range(self.pair_count) if plan.steps_shown(i) and i not in self.cuts]

    @classmethod
    def open(cls, request: GeodesicRequest, options: RunOptions, out: str | Path, *, resume: bool,
             max_memory: int | None = None, wording: MemoryWording = COMMAND_LINE,
             report: Callable[[str], None] | None = None, source: FrameSource | None = None,
             overwrite: bool = False) -> GeodesicRunner:
        """Read (unless ``source`` is given) and check the inputs, the memory and the output folder (``overwrite``:
        a finished run there may be replaced); nothing is written yet."""
        import elpips
        from geometry.engine.inputs import target_size
        from geometry.service import clips

        source = source if source is not None else read_source(request)
        plan = source.plan
        start_files = (_start_frame_files(request.start_frames, plan.grid + 1) if request.start_frames is not None
                       else [])
        threshold = clips.cut_threshold(_name(options), request.cut_threshold) if source.is_clip else None
        size = target_size(_shape(source.items[0]), options.size)
        output_size = target_size(_shape(source.items[0]), request.output_size)
        settings = {
            "inputs": [str(p.resolve()) for p in source.sources],
            "input_sha256": [file_sha256(p) for p in source.sources],
            **({"start_sha256": [file_sha256(p) for p in start_files]} if start_files else {}),
            "mode": "video" if source.is_clip else "images",
            "frames_per_pair": plan.grid + 1,
            "timing": plan.to_dict(),
            **({"cut_threshold": threshold} if source.is_clip else {}),
            **options.result_settings(),
            "output_size": list(output_size),
        }
        layout, pairs = FolderLayout(out), len(source.items) - 1
        checkpoints = layout.checkpoints(pairs)
        check_memory("geodesic", options, plan.grid + 1, plan.grid - 1, size, limit=max_memory,
                     describe="this geodesic" if pairs == 1 else "each pair", wording=wording, clip=source.is_clip)
        check_render(plan.grid + 1, output_size, limit=max_memory, wording=wording)
        check_no_foreign_outputs(out, layout.geodesic_outputs())  # what it writes, and the frames it removes when stale
        folder = RunFolder(out, settings, resume, checkpoints, checkpoint_bytes(plan.grid - 1, size), overwrite)
        start_images = [elpips.load_image(path) for path in start_files] or None
        return cls(request, source, options, size, output_size, settings, threshold, checkpoints, start_images,
                   folder, report or (lambda line: None), wording=wording)

    @classmethod
    def reopen(cls, request: GeodesicRequest, options: RunOptions, out: str | Path) -> GeodesicRunner:
        """The run that :meth:`start` opened in ``out`` (in this process or another), with its cuts. A clip is
        decoded once per process for the inputs run.json names (a worker runs many of its pairs)."""
        digests = ((read_json(FolderLayout(out).run_file) or {}).get("settings") or {}).get("input_sha256")
        run = cls.open(request, options, out, resume=True, source=_cached_source(request, tuple(digests or ())))
        if "cuts" not in run.folder.state:
            raise InputError(f"{out} holds no started clip run: start the job first")
        run.distances, run.cuts = run.folder.state["pair_distances"], set(run.folder.state["cuts"])
        return run

    def find_cuts(self) -> None:
        """A clip's consecutive-frame distances and scene cuts (reported); the distance is loaded for it. On one
        thread: an evaluation at 64 px a frame is pixel work too small to split (`geometry.engine.threads`)."""
        import numpy as np

        from geometry.engine.threads import single_threaded
        from geometry.service import clips

        if self.source.is_clip:
            items = self.source.items
            self.distances = single_threaded(clips.consecutive_distances)(np.stack(items), self.options.distance,
                                                                          self.options.device)
            self.cuts = {i for i, d in enumerate(self.distances) if d >= self.threshold}
            self._report_distances(_shape(items[0]))

    def run_all(self, callback=None, cancel=None, on_pair: Callable[[int, int], None] | None = None) -> RunArtefacts:
        """The run whole: its parts one after another in this process (:meth:`start`, :meth:`run_pair` for each pair
        left, :meth:`finish`). A cancelled pair ends the run with its checkpoint kept (two images: with the frames
        and movies of where it stopped)."""
        try:
            pending = self.start()
            self.report_forecast(1)
            for index in pending:
                if on_pair is not None:
                    on_pair(self.morphed.index(index), len(self.morphed))
                stopped = self.run_pair(index, callback, cancel)
                if stopped is not None:
                    return self._cancelled(stopped)
        except BaseException as error:
            self.folder.discard_if_empty(error)
            raise
        return self.finish()

    def _cancelled(self, record: dict) -> RunArtefacts:
        """The run a cancel stopped in a pair (whose engine record is `record`): run.json says so and the checkpoint
        is kept; two images also write the movies of the frames where it stopped."""
        if self.pair_count > 1:
            self.folder.save(status="cancelled")
            return RunArtefacts(self.out, [], {}, [record])
        artefacts = self._write_outputs({**self._part_records(), "0": record})
        self.folder.save(status="cancelled")
        return artefacts

    def run_parallel(self, workers: int, on_pair: Callable[[int, int], None] | None = None) -> RunArtefacts:
        """A clip's pairs in `workers` processes at a time, each with its share of the CPU threads (a run in parts:
        :meth:`start`, :meth:`run_pair` in each process, :meth:`finish`): the same files as :meth:`run_all`.
        ``on_pair(k, n)`` is called as the k-th of the n pairs left ends."""
        import concurrent.futures
        import multiprocessing
        import os

        pending = self.start()
        self.report_forecast(workers)
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch's threads
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_use_threads,
                                                    initargs=(threads,)) as pool:
            futures = [pool.submit(_run_pair_apart, self.request, self.options, self.out, index) for index in pending]
            for done, future in enumerate(concurrent.futures.as_completed(futures)):
                future.result()
                if on_pair is not None:
                    on_pair(done + 1, len(pending))
        return self.finish()

    def report_forecast(self, workers: int) -> None:
        """Report a clip's expected time in the mode its options give and in the other one
        (`geometry.service.cost`), before its pairs start; two images only when long (`cost.long_run_line`:
        with the frames that take less), and not where the cost model's refinement constant (E-LPIPS on the CPU)
        does not apply."""
        from geometry.engine.problems import refine_applies
        from geometry.service import cost

        refine = refine_applies(self.options.refine, "warp" if self.options.motion in ("auto", "warp", "dis")
                                else "dissolve")
        frames = self.source.plan.grid + 1
        if not self.source.is_clip:
            line = (cost.long_run_line(refine, self.size, self.output_size, frames, self.options.preset,
                                       self.options.steps, self.wording.frames_option)
                    if refine == "none" or self._measured_refinement() else None)
            if line is not None:
                self.report(line)
            return
        other = "pixels" if refine == "none" else "none"
        pairs = len(self.morphed)
        chosen, alternative = (cost.clip_cost(mode, self.size, self.output_size, frames, pairs, workers,
                                              self.options.preset, self.options.steps, motion=self.options.motion)
                               for mode in (refine, other))
        self.report(cost.forecast_line(chosen, alternative))

    def _measured_refinement(self) -> bool:
        """The pixel refinement's cost was measured for this run's distance and device (E-LPIPS, the CPU)."""
        from geometry.engine.distances import resolve_device

        return _name(self.options) == "elpips_vgg" and resolve_device(self.options.device).type == "cpu"

    def start(self) -> list[int]:
        """A run in parts, first part: open (or continue) it, find the cuts, write the frames of the pairs that are
        not morphed; returns the pairs still to optimise."""
        self.find_cuts()
        self.folder.save(status="running", pair_distances=self.distances, cuts=sorted(self.cuts))
        records = self._part_records()
        for index in set(range(self.pair_count)) - set(self.morphed):
            self._compute_pair(index, None)
        return [i for i in self.morphed if not self._pair_finished(i, records)]

    def run_pair(self, index: int, callback=None, cancel=None) -> dict | None:
        """Optimise pair ``index`` of a started run (from its checkpoint, if any) and write its frames and record,
        unless it is finished already. Returns the pair's engine record when ``cancel`` stopped it (its checkpoint
        is kept), else None."""
        if self._pair_finished(index, self._part_records()):
            return None
        record = self._compute_pair(index, callback, cancel)
        if record.get("status") == "cancelled":
            return record
        write_json(self.folder.pair_record(index), record)
        self.checkpoints[index].unlink(missing_ok=True)
        return None

    def finish(self) -> RunArtefacts:
        """The last part, once every pair is done: the movies, montage and record.json; the pairs' records
        folded into run.json."""
        records = self._part_records()
        missing = [i for i in self.morphed if not self._pair_finished(i, records)]
        if missing:
            raise InputError(f"{self.out}: pairs {missing} are not finished; rerun the job to compute them")
        artefacts = self._write_outputs(records)
        self.folder.save(status="done", pairs=records)
        for path in [*self.folder.pair_files(), *self.folder.pair_folders()]:
            with contextlib.suppress(OSError):
                path.unlink() if path.is_file() else path.rmdir()
        return artefacts

    def _compute_pair(self, index: int, callback, cancel=None) -> dict | None:
        """Write pair ``index``'s output frames: the optimised geodesic's (resumed from the pair's checkpoint), or
        for a pair that is not morphed its first frame held. Returns the engine's record of an optimised pair.

        Pairs computed at the same time never write the same file (`_owned_frames`). A cancelled pair of a clip
        writes nothing (its checkpoint is kept); two images write where they stopped."""
        from geometry.api import Callbacks, solve
        from geometry.engine.problems import GeodesicProblem

        plan, total = self.source.plan, len(self.source.plan.positions)
        owned = self._owned_frames(index)
        if index not in self.morphed:
            a, b = (_working_frame(self.source.items[k], self.output_size) for k in (index, index + 1))
            self._write_frames([(n, b if j == plan.grid else a) for n, j in owned], total)
            return None
        checkpoint = self.checkpoints[index]
        self.folder.mkdir(checkpoint.parent)
        snapshots = self.request.snapshot_steps if self.pair_count == 1 else ()
        ends = _working_frame([self.source.items[index], self.source.items[index + 1]], self.size)
        problem = GeodesicProblem(ends, plan.grid + 1, self.options.energy, self.start_images)
        result = solve(problem, self.options, Callbacks(callback, cancel, checkpoint, snapshots))
        record = result.record.to_dict()
        if record.get("status") != "cancelled" or self.pair_count == 1:
            phases.report("render")
            endpoints = _working_frame([self.source.items[index], self.source.items[index + 1]], self.output_size)
            images = result.render(endpoints)
            self._write_frames([(n, images[j:j + 1]) for n, j in owned], total)
        return record

    def _owned_frames(self, index: int) -> list[tuple[int, int]]:
        """(output index, step) of the frames pair ``index`` writes: from its first frame up to, not including,
        the next pair's first (the last pair also the clip's last frame)."""
        grid = self.source.plan.grid
        return [(n, j) for n, j in self.source.plan.frames_of_pair(index)
                if j < grid or index == self.pair_count - 1]

    def _pair_finished(self, index: int, records: dict) -> bool:
        """Pair ``index`` has its record and all its output frames."""
        owned = [n for n, _ in self._owned_frames(index)]
        total = len(self.source.plan.positions)
        return str(index) in records and all(self.folder.frame(n, total).is_file() for n in owned)

    def _write_frames(self, frames: list, total: int) -> None:
        """Write (output index, image (1, 3, H, W)) pairs into frames/."""
        from geometry.service import video

        target = self.folder.mkdir(self.folder.frames)
        for index, image in frames:
            video.write_png_frames(target, image, start=index, count=total)

    def _part_records(self) -> dict[str, dict]:
        """The engine's records of the finished pairs, by pair index: run.json's and the pair files'."""
        records = dict(self.folder.state.get("pairs", {}))
        for index in self.morphed:
            record = read_json(self.folder.pair_record(index))
            if record is not None:
                records[str(index)] = record
        return records

    def _write_outputs(self, records: dict) -> RunArtefacts:
        """The movies, the montage and record.json from the frames in frames/."""
        import numpy as np

        from geometry.service import clips, video

        request, source, size, folder, plan = self.request, self.source, self.output_size, self.folder, self.source.plan
        total = len(plan.positions)
        frame_paths = [folder.frame(i, total) for i in range(total)]
        video.remove_stale_frames(folder.frames, keep=frame_paths)
        frames = np.stack([_read_png(p) for p in frame_paths])
        audio = source.audio if "mp4" in request.formats else None
        written = [*frame_paths, *video.write_movies(folder.out, frames, fps=source.fps, gif=request.gif,
                                                     name=MOVIE_STEM, formats=request.formats, audio=audio)]
        if request.montage:
            held, dissolve = clips.montage_columns(plan, lambda i: _working_frame(source.items[i], size))
            written.append(video.write_montage(folder.montage, [held, dissolve, frames],
                                               ["input", "dissolve", "geodesic"], fps=source.fps))
        record_json = self._record_json(records, "mp4" in request.formats)
        write_json(folder.record, record_json)
        if source.audio is not None or source.audio_note:
            self.report(f"audio {record_json['audio']}")
        names = [folder.relative(p) for p in [*written, folder.record]]
        optimised = [records[str(i)] for i in self.morphed if str(i) in records]
        return RunArtefacts(folder.out, names, record_json, optimised)

    def _record_json(self, records: dict, mp4: bool) -> dict:
        """record.json: the settings, output size, timing, cuts and the engine's record of every pair."""
        source, plan, cuts = self.source, self.source.plan, self.cuts
        audio_said = ("copied" if mp4 and source.audio is not None else source.audio_note if source.audio_note else
                      "not copied: no mp4 in --formats" if source.audio is not None else "none in the input")
        return {
            "settings": self.settings, "fps": source.fps, "frames": len(plan.positions),
            "output_size": list(self.output_size), "working_size": list(self.size),
            "optimised_at": [list(s) for s in self.stage_sizes()],
            "timing": plan.to_dict(), "audio": audio_said,
            **({"pair_distances": self.distances, "cut_threshold": self.threshold, "cuts": sorted(cuts)}
               if source.is_clip else {}),
            "pairs": [records.get(str(i)) or _held_record(i, cuts) for i in range(self.pair_count)],
        }

    def stage_sizes(self) -> list[tuple[int, int]]:
        """The sizes the preset's stages optimise at, coarse to fine."""
        from geometry.engine.presets import effective_stages, run_recipe, stage_sizes
        from geometry.engine.problems import GeodesicProblem

        recipe = run_recipe(self.options.preset, GeodesicProblem, self.size, steps=self.options.steps,
                            draws_per_step=self.options.draws_per_step)
        return stage_sizes(effective_stages(recipe.stages, self.size), self.size)

    def _report_distances(self, input_size) -> None:
        from geometry.service.clips import CUT_SIDE

        listed = " ".join(f"{d:.4f}{'*' if i in self.cuts else ''}" for i, d in enumerate(self.distances))
        side = min(CUT_SIDE, min(input_size))
        self.report(f"consecutive-frame distances ({_name(self.options)} at {side} px; * = scene cut, at least "
                    f"{self.threshold:g}): {listed}")
        if self.cuts:
            self.report(f"{len(self.cuts)} scene cut(s), pairs {', '.join(str(i) for i in sorted(self.cuts))} "
                        "(from 0): their in-betweens hold the first frame; raise --cut-threshold to morph them")


def _use_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run_pair_apart(request: GeodesicRequest, options: RunOptions, out: Path, index: int) -> None:
    """Pair `index` of the run started in `out`, in a worker process (`GeodesicRunner.run_parallel`)."""
    GeodesicRunner.reopen(request, options, out).run_pair(index)


def read_source(request: GeodesicRequest) -> FrameSource:
    """Check the request and read its inputs, before anything is written."""
    if request.video is not None:
        return _read_clip(request)
    for name in ("to_fps", "input_fps", "cut_threshold"):
        if getattr(request, name) is not None:
            raise InputError(f"--{name.replace('_', '-')} applies to --video; two images take --frames or --insert")
    if len(request.images) != 2:
        raise InputError(f"give exactly two images (got {len(request.images)}), or --video CLIP --insert K")
    if request.insert is not None and request.frames is not None:
        raise InputError("give --frames N or --insert K (= --frames K+2), not both")
    frames = request.insert + 2 if request.insert is not None else 10 if request.frames is None else request.frames
    if frames < 3:
        raise InputError(f"--frames counts both endpoints and must be at least 3, got {frames}")
    import elpips
    from geometry.service import clips

    fps = DEFAULT_FPS if request.fps is None else request.fps
    a, b = (elpips.load_image(path) for path in request.images)
    return FrameSource([a, b], clips.insert_plan(2, fps / (frames - 1), frames - 2), fps, list(request.images))


def _read_clip(request: GeodesicRequest) -> FrameSource:
    from geometry.service import clips

    if request.images:
        raise InputError("give either two images or --video, not both", field="video")
    if request.frames is not None:
        raise InputError("--frames applies to two images; with --video use --insert K or --to-fps FPS",
                         field="frames")
    if (request.insert is None) == (request.to_fps is None):
        raise InputError("--video needs one of --insert K (frames between consecutive frames) or --to-fps FPS",
                         field="video")
    if request.start_frames is not None:
        raise InputError("--start-frames applies to two images; a clip's pairs start from their cross-dissolves",
                         field="start_frames")
    clip = clips.read_clip(request.video, request.input_fps)
    count = len(clip.frames)
    plan = (clips.insert_plan(count, clip.fps, request.insert) if request.insert is not None
            else clips.rate_plan(count, clip.fps, request.to_fps))
    fps = plan.fps if request.fps is None else request.fps
    audio, note = clip.audio, ""
    if audio is not None and abs(fps - plan.fps) > 1e-6 * plan.fps:
        audio, note = None, f"dropped: --fps {fps:g} changes the timing (the clip's is kept at {plan.fps:g} fps)"
    return FrameSource(list(clip.frames), plan, fps, list(clip.sources), audio, note, is_clip=True)


@functools.lru_cache(maxsize=1)
def _cached_source(request: GeodesicRequest, digests: tuple[str, ...]) -> FrameSource:
    """`read_source`, once per process for a request whose input contents (``digests``) stay the same."""
    return read_source(request)


def _start_frame_files(folder: Path, frames: int) -> list[Path]:
    """The image files of --start-frames in name order: `frames` of them (endpoints included) or the frames - 2
    in-betweens."""
    if not folder.is_dir():
        raise InputError(f"--start-frames {folder}: not a folder; give the folder that holds the start frames",
                         field="start_frames", path=folder)
    from geometry.service.clips import IMAGE_SUFFIXES

    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) not in (frames, frames - 2):
        raise InputError(f"--start-frames {folder} holds {len(files)} image files; this geodesic has {frames} "
                         f"frames: give {frames} (endpoints included) or the {frames - 2} in-betweens, or set --frames "
                         "to match",
                         field="start_frames", path=folder)
    return files


def _name(options: RunOptions) -> str:
    from geometry.engine.distance_names import distance_name

    return distance_name(options.distance)


def _working_frame(items, size):
    """An input frame (or a list of them) as (N, 3, H, W) at `size` (`geometry.engine.inputs.prepare_images`)."""
    from geometry.engine.inputs import prepare_images

    return prepare_images(items if isinstance(items, list) else [items], size)


def _held_record(index: int, cuts: set[int]) -> dict:
    if index in cuts:
        return {"status": "cut", "held": "the in-betweens repeat the pair's first frame"}
    return {"status": "no in-between shown", "held": "only the pair's own frames are in the output"}


def _shape(item) -> tuple[int, int]:
    return tuple(item.shape[-2:]) if hasattr(item, "dim") else tuple(item.shape[:2])


def _read_png(path: Path):
    import imageio.v3 as iio

    return iio.imread(path)[..., :3]
