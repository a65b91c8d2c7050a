"""``elpips-geodesic``: perceptual in-between frames — a morph of two images, or a clip slowed down.

A discrete geodesic between images a and b is the sequence of frames a = x_0, x_1, ..., x_N = b with
the smallest path energy sum_i d(x_i, x_{i+1})^2 under the distance d (E-LPIPS by default). Under plain
L2 it is a cross-dissolve; under E-LPIPS the frames stay sharp and evenly spaced. Started from the
cross-dissolve (``--motion none``), content that moves more than a pixel or two per frame stays a sharpened
double exposure, because the E-LPIPS path energy is lower there; the default (``--motion warp``) starts from
the endpoints warped towards each other by a flow the engine finds itself, and the refinement keeps the
motion (docs/motion.md, benchmarks/bench_motion.py). ``--init`` starts from given frames instead.

Two images -> N frames (both endpoints included)::

    elpips-geodesic a.png b.png --frames 10 --size 128 --out morph/
    python -m geometry.tools.geodesic a.png b.png --frames 12 --gif pingpong --fps 12 --out morph/
    elpips-geodesic a.png b.png --distance l2 --out fade/         # the cross-dissolve, for comparison

A clip (a video file, or a folder of numbered frames with ``--input-fps``) -> K new frames between every
consecutive pair, played at fps x (K + 1) (same duration), or the frames a target rate needs::

    elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/
    elpips-geodesic --video frames/ --input-fps 24 --to-fps 60 --formats mp4,webp --montage --out smooth/

A pair of unrelated frames (a scene cut: at least ``--cut-threshold`` apart under the run's distance at 64
px) is not morphed: its in-betweens hold its first frame. The clip's audio track is copied into the MP4 when
the timing is kept (no ``--fps`` that changes it). The timing plan and the cut detection are in
`geometry.clips`.

Interrupted (Ctrl-C, a crash, a kill)? Run the same command with ``--resume``: it continues from the
checkpoint (a clip: finished pairs are kept, the next unfinished one continues)::

    elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/ --resume

Outputs in ``--out``:

* ``frames/frame_000.png`` ...   every frame, endpoints (or the clip's own frames) included
* ``geodesic.mp4``               H.264, yuv420p, faststart: plays in browsers (a clip's audio when kept)
* ``geodesic.gif``               forward, or a -> b -> a with ``--gif pingpong``
* ``geodesic.webp/.apng``        full-colour loops, with ``--formats`` (default mp4,gif,sheet)
* ``contact_sheet.png``          all frames in a numbered grid
* ``montage.mp4``                with ``--montage``: input, cross-dissolve and geodesic side by side
* ``record.json``                the settings, output size, timing, cuts and the engine's run record of every pair
* ``run.json``                   the run's settings and status (what ``--resume`` checks)

This module is the command line only: the engine is `geometry.geodesic` (`geometry.api`), the file writers
are in `geometry.video` (both imported when the command runs, so that Ctrl-C during start-up is handled).

Options: ``--frames`` (default 10), ``--size`` (short side or HxW; inputs of different sizes are
centre-cropped to the first one's aspect, see `geometry.inputs`), ``--steps``, ``--distance``
(elpips_vgg, lpips_vgg, vgg, alex, l2), ``--energy`` (squared | linear), ``--preset`` (fast |
reference), ``--seed``, ``--device``, ``--fps``, ``--gif``, ``--formats``, ``--checkpoint-every``,
``--no-progress``, ``--init FOLDER`` (start from another interpolator's frames and refine them: the
engine keeps content where the start frames put it, see README "Motion"). Bad input prints one line on
stderr and exits with code 2, writing nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from elpips.cli_common import OneLineParser, positive_float, positive_int
from elpips.io import read_json, write_json
from geometry.tools.support import (
    RunFolder,
    StepBar,
    add_run_options,
    check_memory,
    checkpoint_bytes,
    file_sha256,
    load_distance,
    run_options,
    run_tool,
)

if TYPE_CHECKING:
    from geometry.clips import TimingPlan
    from geometry.options import RunOptions

PROG = "elpips-geodesic"
RECORD_NAME = "record.json"
MONTAGE_NAME = "montage.mp4"
DEFAULT_FPS = 10.0


def build_parser() -> argparse.ArgumentParser:
    from geometry.energies import ENERGY_FORMS  # imports torch, as add_run_options does: not at import
    from geometry.video import DEFAULT_MOVIE_FORMATS, MOVIE_FORMATS

    parser = OneLineParser(
        prog=PROG,
        description="Perceptual in-between frames: a geodesic between two images, or new frames inserted "
                    "into a clip (a video file or a folder of frames).",
        epilog="examples:\n  elpips-geodesic a.png b.png --frames 10 --size 128 --out morph/\n"
               "  elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/\n"
               "  elpips-geodesic --video frames/ --input-fps 24 --to-fps 60 --formats mp4,webp --out smooth/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="*", type=Path, help="the two endpoint images (not with --video)")
    parser.add_argument("--video", type=Path, metavar="CLIP",
                        help="a video file, or a folder of numbered frames, to insert frames into")
    parser.add_argument("--input-fps", type=positive_float, metavar="FPS",
                        help="with --video FOLDER: the frames' rate (required for a folder)")
    parser.add_argument("--insert", type=positive_int, metavar="K",
                        help="frames to insert between each consecutive pair (a clip plays at its rate x (K+1), "
                             "the same duration; two images: the same as --frames K+2)")
    parser.add_argument("--to-fps", type=positive_float, metavar="FPS",
                        help="with --video: insert what a clip needs to play at FPS over the same duration")
    parser.add_argument("--frames", type=int, default=None,
                        help="two images: frames in the result, both endpoints included (default 10)")
    parser.add_argument("--fps", type=positive_float, default=None,
                        help="the output's frame rate (default: two images 10; a clip: what keeps its timing); a "
                             "clip's audio is copied only when the timing is kept")
    parser.add_argument("--cut-threshold", type=float, default=None, metavar="D",
                        help="with --video: consecutive frames at least D apart (the run's distance at 64 px) are "
                             "a scene cut, held instead of morphed (default per distance: elpips_vgg 0.05, l2 "
                             "0.06, see geometry/clips.py; inf: never)")
    parser.add_argument("--formats", type=_formats, default=DEFAULT_MOVIE_FORMATS, metavar="LIST",
                        help=f"files beside the PNG frames, comma-separated from {','.join(MOVIE_FORMATS)} "
                             f"(default {','.join(DEFAULT_MOVIE_FORMATS)})")
    parser.add_argument("--montage", action="store_true",
                        help=f"also write {MONTAGE_NAME}: the input (held), the cross-dissolve and the geodesic "
                             "side by side")
    parser.add_argument("--gif", default="forward", choices=("forward", "pingpong"),
                        help="GIF/WebP/APNG playback: forward, or forward then backward (default forward)")
    parser.add_argument("--energy", default="squared", choices=ENERGY_FORMS,
                        help="path energy: sum of d^2 (default) or sum of d")
    parser.add_argument("--init", type=Path, metavar="FOLDER",
                        help="two images: start from the frames in FOLDER (image files in name order: all --frames "
                             "of them, or the in-betweens) instead of the cross-dissolve, e.g. another "
                             "interpolator's output, which the geodesic then refines")
    add_run_options(parser)
    return parser


def _formats(text: str) -> tuple[str, ...]:
    from geometry.video import MOVIE_FORMATS

    chosen = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [f for f in chosen if f not in MOVIE_FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown format(s) {', '.join(unknown) or repr(text)}: choose from "
                                         f"{','.join(MOVIE_FORMATS)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(PROG, build_parser, argv, _run)


@dataclass
class _Inputs:
    """What the command line asks for, read and checked before anything is written."""

    items: list                  # the input frames: (H, W, 3) uint8 arrays, or image tensors (two images)
    plan: "TimingPlan"
    fps: float                   # the output's rate
    sources: list[Path]
    audio: Path | None = None    # a video whose audio track goes into the MP4
    audio_note: str = ""         # why the audio is not copied, when the input has some
    is_clip: bool = False


@dataclass
class _Clip:
    """A run read and checked: its inputs, settings and output folder; the distance and cuts once measured."""

    args: argparse.Namespace
    given: _Inputs
    options: "RunOptions"
    size: tuple[int, int]
    settings: dict
    threshold: float | None
    checkpoints: list[Path]
    start: list | None
    folder: RunFolder
    distances: list[float] = field(default_factory=list)
    cuts: set[int] = field(default_factory=set)

    @property
    def pair_count(self) -> int:
        return len(self.given.items) - 1

    @property
    def morphed(self) -> list[int]:
        """The pairs whose geodesic is optimised: an in-between is shown and they are no cut."""
        plan = self.given.plan
        return [i for i in range(self.pair_count) if plan.steps_shown(i) and i not in self.cuts]


def _open(args: argparse.Namespace, resume: bool, given: _Inputs | None = None) -> _Clip:
    """Read (unless ``given``) and check the inputs, and check the output folder (nothing is written yet)."""
    import elpips
    from geometry import clips
    from geometry.inputs import target_size

    given = given if given is not None else _load_inputs(args)
    plan = given.plan
    start_files = _start_frame_files(args.init, plan.grid + 1) if args.init is not None else []
    start = [elpips.load_image(path) for path in start_files] or None
    options = run_options(args, energy=args.energy)
    threshold = clips.cut_threshold(args.distance, args.cut_threshold) if given.is_clip else None
    size = target_size(tuple(_shape(given.items[0])), args.size)
    settings = {
        "inputs": [str(p.resolve()) for p in given.sources],
        "input_sha256": [file_sha256(p) for p in given.sources],
        **({"start_sha256": [file_sha256(p) for p in start_files]} if start_files else {}),
        "mode": "video" if given.is_clip else "images",
        "frames_per_pair": plan.grid + 1,
        "timing": plan.to_dict(),
        **({"cut_threshold": threshold} if given.is_clip else {}),
        **options.result_settings(),
    }
    out: Path = args.out
    pair_count = len(given.items) - 1
    checkpoints = [_checkpoint_path(out, i, pair_count) for i in range(pair_count)]
    check_memory(args, options, "geodesic", plan.grid + 1, plan.grid - 1, size,
                 "this geodesic" if pair_count == 1 else "each pair")
    folder = RunFolder(out, settings, resume, checkpoints, checkpoint_bytes(plan.grid - 1, size))
    return _Clip(args, given, options, size, settings, threshold, checkpoints, start, folder)


def _load_metric(run: _Clip) -> None:
    run.options = replace(run.options, distance=load_distance(run.args.distance, run.args.device))


def _find_cuts(run: _Clip) -> None:
    """A clip's consecutive-frame distances and scene cuts (said on stderr); needs the loaded distance."""
    import numpy as np

    from geometry import clips

    if run.given.is_clip:
        items = run.given.items
        run.distances = clips.consecutive_distances(np.stack(items), run.options.distance, run.args.device)
        run.cuts = {i for i, d in enumerate(run.distances) if d >= run.threshold}
        _report_distances(run.args.distance, run.distances, run.cuts, run.threshold, _shape(items[0]))


def _run(args: argparse.Namespace) -> int:
    run = _open(args, args.resume)
    try:
        _load_metric(run)
        _find_cuts(run)
        records = _compute_pairs(run)
    except BaseException as error:
        run.folder.discard_if_empty(error)
        raise

    _write_outputs(run, records)
    run.folder.save(status="done")
    if run.pair_count > 1:
        run.folder.discard_if_empty()  # the emptied checkpoints/ folder
    return 0


def _write_outputs(run: _Clip, records: dict) -> None:
    """The movies, the montage and record.json from the frames in frames/; the closing lines on stderr."""
    import numpy as np

    from geometry import clips, video

    args, given, size, cuts = run.args, run.given, run.size, run.cuts
    out, plan = args.out, given.plan
    total = len(plan.positions)
    frame_paths = [out / video.FRAMES_DIR / video.png_frame_name(i, total) for i in range(total)]
    video.remove_stale_frames(out / video.FRAMES_DIR, keep=frame_paths)
    frames = np.stack([_read_png(p) for p in frame_paths])
    audio = given.audio if "mp4" in args.formats else None
    video.write_movies(out, frames, fps=given.fps, gif=args.gif, formats=args.formats, audio=audio)
    if args.montage:
        held, dissolve = clips.montage_columns(plan, lambda i: _working_frame(given.items[i], size))
        video.write_montage(out / MONTAGE_NAME, [held, dissolve, frames], ["input", "dissolve", "geodesic"],
                            fps=given.fps)
    stages = _stage_sizes(args.preset, args.steps, size)
    audio_said = ("copied" if audio is not None else given.audio_note if given.audio_note else
                  "not copied: no mp4 in --formats" if given.audio is not None else "none in the input")
    write_json(out / RECORD_NAME, {
        "settings": run.settings, "fps": given.fps, "frames": total, "output_size": list(size),
        "optimised_at": [list(s) for s in stages], "timing": plan.to_dict(), "audio": audio_said,
        **({"pair_distances": run.distances, "cut_threshold": run.threshold, "cuts": sorted(cuts)}
           if given.is_clip else {}),
        "pairs": [records.get(str(i)) or _held_record(i, cuts) for i in range(len(given.items) - 1)],
    })
    if given.audio is not None or given.audio_note:
        print(f"{PROG}: audio {audio_said}", file=sys.stderr)
    refined = f", refined at {' then '.join(_hw(s) for s in stages[1:])}" if len(stages) > 1 else ""
    print(f"{PROG}: {total} frames at {given.fps:g} fps, {_hw(size)} px (optimised at {_hw(stages[0])}{refined}) "
          f"in {out}", file=sys.stderr)


#: A job file's "clip" settings (validated by `geometry.jobs`) and the options of this command they stand for.
JOB_OPTIONS = {"distance": "--distance", "size": "--size", "steps": "--steps", "preset": "--preset", "seed": "--seed",
               "energy": "--energy", "checkpoint_every": "--checkpoint-every", "max_memory": "--max-memory",
               "insert": "--insert", "to_fps": "--to-fps", "input_fps": "--input-fps", "fps": "--fps",
               "cut_threshold": "--cut-threshold", "formats": "--formats", "gif": "--gif"}
BOOKKEEPING = {"run.json", "job.json", "done.json"}


#: The clip this process decoded last, for the next part of the same clip job (`ClipJob._continue`).
_DECODED: dict = {}
#: A clip job's finished pairs' records, one file each, so that pairs finishing at the same time never share a file.
PAIRS_DIR = "pairs"


class ClipJob:
    """A job file's "clip" job (`elpips-batch`): this command on ``source`` into ``out`` with the job's settings,
    in parts that may run in different processes or machines on a folder they all reach.

    :meth:`start` once, then :meth:`run_pair` for each pair it returns (in any order, at the same time),
    then :meth:`finish`: the frames, movies and record.json are the command's. Each part continues what an
    interrupted run left: finished pairs are kept, an unfinished pair resumes from its checkpoint. The
    network is loaded by name through the process's cache (`geometry.distances.load_cached`), once per worker.
    """

    def __init__(self, source: Path, out: Path, settings: dict, device=None) -> None:
        argv = ["--video", str(source), "--out", str(out), "--no-progress"]
        for key, value in settings.items():
            if key == "montage":
                argv += ["--montage"] if value else []
                continue
            if key == "size" and isinstance(value, (list, tuple)):
                value = "x".join(map(str, value))
            elif key == "formats":
                value = ",".join(value)
            argv += [JOB_OPTIONS[key], str(value)]
        if device is not None:
            argv += ["--device", str(device)]
        try:
            self.args = build_parser().parse_args(argv)
        except SystemExit:
            raise ValueError(f"clip settings the command does not take: {' '.join(argv)}") from None
        self.out = Path(out)

    def start(self) -> list[int]:
        """Open (or continue) the run, find the scene cuts, write the frames of the pairs that are not morphed;
        returns the pairs still to optimise."""
        run = _open(self.args, resume=(self.out / "run.json").is_file())
        _find_cuts(run)
        run.folder.save(status="running", pair_distances=run.distances, cuts=sorted(run.cuts))
        records = self._records(run)
        for index in set(range(run.pair_count)) - set(run.morphed):
            _compute_pair(run, index, None)
        return [i for i in run.morphed if not _pair_finished(run, i, records)]

    def run_pair(self, index: int, callback=None, cancel=None) -> bool:
        """Optimise pair ``index`` (from its checkpoint, if any) and write its frames and record, unless it is
        finished already; False when ``cancel`` stopped it (its checkpoint is kept)."""
        run = self._continue()
        if _pair_finished(run, index, self._records(run)):
            return True
        record = _compute_pair(run, index, callback, cancel)
        if record.get("status") == "cancelled":
            return False
        write_json(self._pair_file(index), record)
        run.checkpoints[index].unlink(missing_ok=True)
        return True

    def finish(self) -> tuple[list[str], dict]:
        """The movies, montage and record.json from the finished pairs; their records folded into run.json.
        Returns the output files (relative to ``out``) and record.json's content."""
        run = self._continue()
        records = self._records(run)
        missing = [i for i in run.morphed if not _pair_finished(run, i, records)]
        if missing:
            raise ValueError(f"{self.out}: pairs {missing} are not finished; rerun the job to compute them")
        _write_outputs(run, records)
        run.folder.save(status="done", pairs=records)
        for path in [*(self.out / PAIRS_DIR).glob("pair_*.json"), self.out / PAIRS_DIR, self.out / "checkpoints"]:
            with contextlib.suppress(OSError):
                path.unlink() if path.is_file() else path.rmdir()
        names = sorted(str(p.relative_to(self.out)) for p in self.out.rglob("*")
                       if p.is_file() and p.name not in BOOKKEEPING and not p.name.startswith("."))
        return names, read_json(self.out / RECORD_NAME)

    def _continue(self) -> _Clip:
        """The run that :meth:`start` opened, with its cuts. The clip is decoded once per process (a worker runs
        many of its pairs) for the file contents run.json names, which are checked against the files each time."""
        digests = ((read_json(self.out / "run.json") or {}).get("settings") or {}).get("input_sha256")
        key = (str(self.args.video), self.args.input_fps, self.args.insert, self.args.to_fps, self.args.fps,
               tuple(digests or ()))
        if _DECODED.get("key") != key:
            _DECODED.update(key=key, given=_load_inputs(self.args))
        run = _open(self.args, resume=True, given=_DECODED["given"])
        if "cuts" not in run.folder.state:
            raise ValueError(f"{self.out} holds no started clip run: start the job first")
        run.distances, run.cuts = run.folder.state["pair_distances"], set(run.folder.state["cuts"])
        return run

    def _records(self, run: _Clip) -> dict[str, dict]:
        """The engine's records of the finished pairs, by pair index: run.json's and the pair files'."""
        records = dict(run.folder.state.get("pairs", {}))
        for index in run.morphed:
            record = read_json(self._pair_file(index))
            if record is not None:
                records[str(index)] = record
        return records

    def _pair_file(self, index: int) -> Path:
        return self.out / PAIRS_DIR / f"pair_{index:04d}.json"


def _compute_pairs(run: _Clip) -> dict[str, dict]:
    """Every pair's frames, one after another, under one progress bar; the engine's records of the optimised
    pairs (by pair index) saved in run.json as each ends. Pairs finished before an interruption are kept."""
    records: dict[str, dict] = dict(run.folder.state.get("pairs", {}))
    morphed = run.morphed
    bar = StepBar(runs=len(morphed), disable=run.args.no_progress, desc=PROG)
    try:
        for index in range(run.pair_count):
            if index in morphed and _pair_finished(run, index, records):
                continue  # finished before the interruption
            if index in morphed:
                bar.next_run(morphed.index(index))
            record = _compute_pair(run, index, bar)
            if record is not None:
                records[str(index)] = record
                run.folder.save(pairs=records)
                run.checkpoints[index].unlink(missing_ok=True)
    finally:
        bar.close()
    return records


def _compute_pair(run: _Clip, index: int, callback, cancel=None) -> dict | None:
    """Write pair ``index``'s output frames: the optimised geodesic's (resumed from the pair's checkpoint), or
    for a pair that is not morphed its first frame held. Returns the engine's record of an optimised pair.

    Pairs computed at the same time never write the same file (`_owned_frames`). A cancelled
    optimisation (``cancel`` set) writes nothing: its record says "cancelled" and its checkpoint is kept."""
    from geometry.api import geodesic as geodesic_path

    plan, total, size = run.given.plan, len(run.given.plan.positions), run.size
    owned = _owned_frames(run, index)
    if index not in run.morphed:
        a = _working_frame(run.given.items[index], size)
        b = _working_frame(run.given.items[index + 1], size)
        _write_frames(run.folder, [(n, b if j == plan.grid else a) for n, j in owned], total)
        return None
    checkpoint = run.checkpoints[index]
    run.folder.mkdir(checkpoint.parent)
    result = geodesic_path(run.given.items[index], run.given.items[index + 1], frames=plan.grid + 1,
                           options=replace(run.options, size=size), callback=callback, cancel=cancel,
                           checkpoint=checkpoint, snapshot_steps=(), init=run.start)
    record = result.record.to_dict()
    if record.get("status") != "cancelled":
        _write_frames(run.folder, [(n, result.images[j:j + 1]) for n, j in owned], total)
    return record


def _owned_frames(run: _Clip, index: int) -> list[tuple[int, int]]:
    """(output index, step) of the frames pair ``index`` writes: from its first frame up to, not including, the
    next pair's first (the last pair also the clip's last frame)."""
    grid = run.given.plan.grid
    return [(n, j) for n, j in run.given.plan.frames_of_pair(index) if j < grid or index == run.pair_count - 1]


def _pair_finished(run: _Clip, index: int, records: dict) -> bool:
    """Pair ``index`` has its record and all its output frames."""
    owned = [n for n, _ in _owned_frames(run, index)]
    return str(index) in records and _frames_exist(run.folder.out, owned, len(run.given.plan.positions))


def _write_frames(folder: RunFolder, frames: list, total: int) -> None:
    """Write (output index, image (1, 3, H, W)) pairs into frames/."""
    from geometry import video

    target = folder.mkdir(folder.out / video.FRAMES_DIR)
    for index, image in frames:
        video.write_png_frames(target, image, start=index, count=total)


def _working_frame(item, size):
    from geometry.inputs import prepare_images

    return prepare_images([item], size)


def _held_record(index: int, cuts: set[int]) -> dict:
    if index in cuts:
        return {"status": "cut", "held": "the in-betweens repeat the pair's first frame"}
    return {"status": "no in-between shown", "held": "only the pair's own frames are in the output"}


def _report_distances(distance: str, distances: list[float], cuts: set[int], threshold: float, input_size) -> None:
    from geometry.clips import CUT_SIDE

    listed = " ".join(f"{d:.4f}{'*' if i in cuts else ''}" for i, d in enumerate(distances))
    side = min(CUT_SIDE, min(input_size))
    print(f"{PROG}: consecutive-frame distances ({distance} at {side} px; * = scene cut, at least {threshold:g}): "
          f"{listed}", file=sys.stderr)
    if cuts:
        print(f"{PROG}: {len(cuts)} scene cut(s), pairs {', '.join(str(i) for i in sorted(cuts))} (from 0): their "
              "in-betweens hold the first frame; raise --cut-threshold to morph them", file=sys.stderr)


def _stage_sizes(preset: str, steps, size) -> list[tuple[int, int]]:
    from geometry.optimize import effective_stages, stage_sizes
    from geometry.presets import get_preset

    recipe = get_preset(preset, "geodesic", size)
    recipe = recipe.with_steps(steps) if steps is not None else recipe
    return stage_sizes(effective_stages(recipe.stages, size), size)


def _hw(size) -> str:
    return f"{size[1]}x{size[0]}"


def _shape(item) -> tuple[int, int]:
    return tuple(item.shape[-2:]) if hasattr(item, "dim") else tuple(item.shape[:2])


def _load_inputs(args: argparse.Namespace) -> _Inputs:
    """Validate the command line and read the inputs before anything is written."""
    import elpips
    from geometry import clips

    if args.video is not None:
        if args.images:
            raise ValueError("give either two images or --video, not both")
        if args.frames is not None:
            raise ValueError("--frames applies to two images; with --video use --insert K or --to-fps FPS")
        if (args.insert is None) == (args.to_fps is None):
            raise ValueError("--video needs one of --insert K (frames between consecutive frames) or --to-fps FPS")
        if args.init is not None:
            raise ValueError("--init applies to two images; a clip's pairs start from their cross-dissolves")
        clip = clips.read_clip(args.video, args.input_fps)
        count = len(clip.frames)
        plan = (clips.insert_plan(count, clip.fps, args.insert) if args.insert is not None
                else clips.rate_plan(count, clip.fps, args.to_fps))
        fps = plan.fps if args.fps is None else args.fps
        audio, note = clip.audio, ""
        if audio is not None and abs(fps - plan.fps) > 1e-6 * plan.fps:
            audio, note = None, f"dropped: --fps {fps:g} changes the timing (the clip's is kept at {plan.fps:g} fps)"
        return _Inputs(list(clip.frames), plan, fps, list(clip.sources), audio, note, is_clip=True)
    for option in ("to_fps", "input_fps", "cut_threshold"):
        if getattr(args, option) is not None:
            raise ValueError(f"--{option.replace('_', '-')} applies to --video; two images take --frames or --insert")
    if len(args.images) != 2:
        raise ValueError(f"give exactly two images (got {len(args.images)}), or --video CLIP --insert K")
    if args.insert is not None and args.frames is not None:
        raise ValueError("give --frames N or --insert K (= --frames K+2), not both")
    frames = args.insert + 2 if args.insert is not None else 10 if args.frames is None else args.frames
    if frames < 3:
        raise ValueError(f"--frames counts both endpoints and must be at least 3, got {frames}")
    fps = DEFAULT_FPS if args.fps is None else args.fps
    a, b = (elpips.load_image(path) for path in args.images)
    return _Inputs([a, b], clips.insert_plan(2, fps / (frames - 1), frames - 2), fps, list(args.images))


def _start_frame_files(folder: Path, frames: int) -> list[Path]:
    """The image files of --init in name order: `frames` of them (endpoints included) or the frames - 2 in-betweens."""
    if not folder.is_dir():
        raise ValueError(f"--init {folder}: not a folder; give the folder that holds the start frames")
    from geometry.clips import IMAGE_SUFFIXES

    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) not in (frames, frames - 2):
        raise ValueError(f"--init {folder} holds {len(files)} image files; this geodesic has {frames} frames: give "
                         f"{frames} (endpoints included) or the {frames - 2} in-betweens, or set --frames to match")
    return files


def _checkpoint_path(out: Path, index: int, pairs: int) -> Path:
    return out / "checkpoint.pt" if pairs == 1 else out / "checkpoints" / f"pair_{index:04d}.pt"


def _frames_exist(out: Path, indices: list[int], total: int) -> bool:
    from geometry import video

    return all((out / video.FRAMES_DIR / video.png_frame_name(i, total)).is_file() for i in indices)


def _read_png(path: Path):
    import imageio.v3 as iio

    return iio.imread(path)[..., :3]


if __name__ == "__main__":
    sys.exit(main())
