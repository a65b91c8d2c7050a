"""``elpips-geodesic``: perceptual in-between frames — a morph of two images, or a clip slowed down.

A discrete geodesic between images a and b is the sequence of frames a = x_0, x_1, ..., x_N = b with
the smallest path energy sum_i d(x_i, x_{i+1})^2 under the distance d (E-LPIPS by default). Under plain
L2 it is a cross-dissolve; under E-LPIPS the frames stay sharp and evenly spaced. Content that moves
more than a pixel or two per frame stays a sharpened double exposure when the path starts from the
cross-dissolve (the default), because the E-LPIPS path energy is lower there (benchmarks/bench_motion.py);
``--init`` starts from frames in which it moves.

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
import sys
from dataclasses import dataclass, replace
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


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    import elpips
    from geometry import clips
    from geometry.inputs import target_size

    given = _load_inputs(args)
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
    folder = RunFolder(out, settings, args.resume, checkpoints, checkpoint_bytes(plan.grid - 1, size))
    try:
        options = replace(options, distance=load_distance(args.distance, args.device))
        distances, cuts = [], set()
        if given.is_clip:
            distances = clips.consecutive_distances(np.stack(given.items), options.distance, args.device)
            cuts = {i for i, d in enumerate(distances) if d >= threshold}
            _report_distances(args.distance, distances, cuts, threshold, _shape(given.items[0]))
        records = _compute_pairs(args, options, given, size, cuts, folder, checkpoints, start)
    except BaseException as error:
        folder.discard_if_empty(error)
        raise

    _write_outputs(args, given, size, settings, records, distances, cuts, threshold)
    folder.save(status="done")
    if pair_count > 1:
        folder.discard_if_empty()  # the emptied checkpoints/ folder
    return 0


def _write_outputs(args, given: _Inputs, size, settings: dict, records: dict, distances: list[float], cuts: set[int],
                   threshold) -> None:
    """The movies, the montage and record.json from the frames in frames/; the closing lines on stderr."""
    import numpy as np

    from geometry import clips, video

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
        "settings": settings, "fps": given.fps, "frames": total, "output_size": list(size),
        "optimised_at": [list(s) for s in stages], "timing": plan.to_dict(), "audio": audio_said,
        **({"pair_distances": distances, "cut_threshold": threshold, "cuts": sorted(cuts)} if given.is_clip else {}),
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


def run_clip_job(source: Path, out: Path, settings: dict, device=None) -> tuple[list[str], dict]:
    """A job file's "clip" job (`elpips-batch`): this command on ``source`` into ``out``, continuing what an earlier
    run of the job left there. Returns the output files (relative to ``out``) and record.json's content."""
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
    if (out / "run.json").is_file():
        argv.append("--resume")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        raise ValueError(f"clip settings the command does not take: {' '.join(argv)}") from None
    _run(args)
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name not in BOOKKEEPING
                   and not p.name.startswith("."))
    return names, read_json(out / RECORD_NAME)


def _compute_pairs(args, options: RunOptions, given: _Inputs, size, cuts: set[int], folder: RunFolder,
                   checkpoints: list[Path], start) -> dict[str, dict]:
    """Optimise every pair that shows an in-between and is not a cut; write every pair's output frames (a cut's
    in-betweens hold its first frame). Pairs finished before an interruption are kept."""
    from geometry.api import geodesic as geodesic_path

    out, plan = folder.out, given.plan
    total = len(plan.positions)
    records: dict[str, dict] = dict(folder.state.get("pairs", {}))
    morphed = [i for i in range(len(given.items) - 1) if plan.steps_shown(i) and i not in cuts]
    bar = StepBar(runs=len(morphed), disable=args.no_progress, desc=PROG)
    try:
        for index in range(len(given.items) - 1):
            shown = plan.frames_of_pair(index)
            if index not in morphed:
                a = _working_frame(given.items[index], size)
                b = _working_frame(given.items[index + 1], size)
                _write_frames(folder, [(n, b if j == plan.grid else a) for n, j in shown], total)
                continue
            if str(index) in records and _frames_exist(out, [n for n, _ in shown], total):
                continue  # finished before the interruption
            bar.next_run(morphed.index(index))
            checkpoint = checkpoints[index]
            folder.mkdir(checkpoint.parent)
            result = geodesic_path(given.items[index], given.items[index + 1], frames=plan.grid + 1,
                                   options=replace(options, size=size), callback=bar, checkpoint=checkpoint,
                                   snapshot_steps=(), init=start)
            _write_frames(folder, [(n, result.images[j:j + 1]) for n, j in shown], total)
            records[str(index)] = result.record.to_dict()
            folder.save(pairs=records)
            checkpoint.unlink(missing_ok=True)
    finally:
        bar.close()
    return records


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
