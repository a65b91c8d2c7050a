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

A clip -> K new frames between every consecutive pair, played at fps x (K + 1) (same duration)::

    elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/

Interrupted (Ctrl-C, a crash)? Run the same command with ``--resume``: it continues from the
checkpoint (video: finished pairs are kept)::

    elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/ --resume

Outputs in ``--out``:

* ``frames/frame_000.png`` ...   every frame, endpoints (or the clip's own frames) included
* ``geodesic.mp4``               H.264, yuv420p, faststart: plays in browsers
* ``geodesic.gif``               forward, or a -> b -> a with ``--gif pingpong``
* ``contact_sheet.png``          all frames in a numbered grid
* ``record.json``                the settings and the engine's run record of every pair
* ``run.json``                   the run's settings and status (what ``--resume`` checks)

This module is the command line only: the engine is `geometry.geodesic` (`geometry.api`), the file writers
are in `geometry.video` (both imported when the command runs, so that Ctrl-C during start-up is handled).

Options: ``--frames`` (default 10), ``--size`` (short side or HxW; inputs of different sizes are
centre-cropped to the first one's aspect, see `geometry.inputs`), ``--steps``, ``--distance``
(elpips_vgg, lpips_vgg, vgg, alex, l2), ``--energy`` (squared | linear), ``--preset`` (fast |
reference), ``--seed``, ``--device``, ``--fps`` (two-image mode), ``--gif``, ``--checkpoint-every``,
``--no-progress``, ``--init FOLDER`` (start from another interpolator's frames and refine them: the
engine keeps content where the start frames put it, see README "Motion"). Bad input prints one line on
stderr and exits with code 2, writing nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from elpips.cli_common import OneLineParser, positive_int
from elpips.io import write_json
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

PROG = "elpips-geodesic"
RECORD_NAME = "record.json"
DEFAULT_FPS = 10.0
START_FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")



def build_parser() -> argparse.ArgumentParser:
    from geometry.energies import ENERGY_FORMS  # imports torch, as add_run_options does: not at import

    parser = OneLineParser(
        prog=PROG,
        description="Perceptual in-between frames: a geodesic between two images, or new frames inserted "
                    "into a clip.",
        epilog="examples:\n  elpips-geodesic a.png b.png --frames 10 --size 128 --out morph/\n"
               "  elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="*", type=Path, help="the two endpoint images (not with --video)")
    parser.add_argument("--video", type=Path, help="a clip to insert frames into (instead of two images)")
    parser.add_argument("--insert", type=positive_int, metavar="K",
                        help="with --video: frames to insert between each consecutive pair")
    parser.add_argument("--frames", type=int, default=10,
                        help="two images: frames in the result, both endpoints included (default 10)")
    parser.add_argument("--fps", type=float, default=None,
                        help="two images: frame rate of the MP4 and GIF (default 10); --video uses the clip's x (K+1)")
    parser.add_argument("--gif", default="forward", choices=("forward", "pingpong"),
                        help="GIF playback: forward, or forward then backward (default forward)")
    parser.add_argument("--energy", default="squared", choices=ENERGY_FORMS,
                        help="path energy: sum of d^2 (default) or sum of d")
    parser.add_argument("--init", type=Path, metavar="FOLDER",
                        help="two images: start from the frames in FOLDER (image files in name order: all --frames "
                             "of them, or the in-betweens) instead of the cross-dissolve, e.g. another "
                             "interpolator's output, which the geodesic then refines")
    add_run_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(PROG, build_parser, argv, _run)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    import elpips
    from geometry import video
    from geometry.api import geodesic as geodesic_path
    from geometry.inputs import target_size

    pairs, per_pair, fps, sources = _load_inputs(args)
    start_files = _start_frame_files(args.init, per_pair) if args.init is not None else []
    start = [elpips.load_image(path) for path in start_files] or None
    options = run_options(args, energy=args.energy)
    settings = {
        "inputs": [str(p.resolve()) for p in sources],
        "input_sha256": [file_sha256(p) for p in sources],
        **({"start_sha256": [file_sha256(p) for p in start_files]} if start_files else {}),
        "mode": "video" if args.video else "images",
        "frames_per_pair": per_pair,
        **options.result_settings(),
    }
    out: Path = args.out
    checkpoints = [_checkpoint_path(out, i, len(pairs)) for i in range(len(pairs))]
    size = target_size(tuple(pairs[0][0].shape[-2:]), args.size)
    check_memory(args, options, "geodesic", per_pair, per_pair - 2, size,
                 "this geodesic" if len(pairs) == 1 else "each pair")
    folder = RunFolder(out, settings, args.resume, checkpoints, checkpoint_bytes(per_pair - 2, size))
    options = replace(options, distance=load_distance(args.distance, args.device))
    total = (per_pair - 1) * len(pairs) + 1
    records: dict[str, dict] = dict(folder.state.get("pairs", {}))
    bar = StepBar(runs=len(pairs), disable=args.no_progress, desc=PROG)
    try:
        for index, (a, b) in enumerate(pairs):
            first = index * (per_pair - 1)
            if str(index) in records and _frames_exist(out, first, per_pair, total):
                continue  # finished before the interruption
            bar.next_run(index)
            checkpoint = checkpoints[index]
            folder.mkdir(checkpoint.parent)
            result = geodesic_path(a, b, frames=per_pair, options=options, callback=bar, checkpoint=checkpoint,
                                   snapshot_steps=(), init=start)
            video.write_png_frames(folder.mkdir(out / video.FRAMES_DIR), result.images, start=first, count=total)
            records[str(index)] = result.record.to_dict()
            folder.save(pairs=records)
            checkpoint.unlink(missing_ok=True)
    except BaseException as error:
        bar.close()
        folder.discard_if_empty(error)
        raise
    bar.close()

    frame_paths = [out / video.FRAMES_DIR / video.png_frame_name(i, total) for i in range(total)]
    video.remove_stale_frames(out / video.FRAMES_DIR, keep=frame_paths)
    frames = np.stack([_read_png(p) for p in frame_paths])
    video.write_movies(out, frames, fps=fps, gif=args.gif)
    write_json(out / RECORD_NAME, {"settings": settings, "fps": fps, "frames": total,
                                   "pairs": [records[str(i)] for i in range(len(pairs))]})
    folder.save(status="done")
    if len(pairs) > 1:
        folder.discard_if_empty()  # the emptied checkpoints/ folder
    print(f"{PROG}: {total} frames at {fps:g} fps in {out}", file=sys.stderr)
    return 0


def _load_inputs(args: argparse.Namespace):
    """Validate the command line and read the inputs before anything is written.

    Returns (pairs of endpoint images, frames per pair incl. endpoints, output fps, source files).
    """
    import elpips
    from geometry import video

    if args.video is not None:
        if args.images:
            raise ValueError("give either two images or --video, not both")
        if args.insert is None:
            raise ValueError("--video needs --insert K (frames to insert between consecutive frames)")
        if args.fps is not None:
            raise ValueError("--fps applies to two images; --video plays at the clip's fps x (K+1)")
        if args.init is not None:
            raise ValueError("--init applies to two images; a clip's pairs start from their cross-dissolves")
        clip = video.read_video(args.video)
        if len(clip.frames) < 2:
            raise ValueError(f"{args.video} has {len(clip.frames)} frame; inserting frames needs at least 2")
        pairs = [(clip.frames[i], clip.frames[i + 1]) for i in range(len(clip.frames) - 1)]
        return pairs, args.insert + 2, clip.fps * (args.insert + 1), [args.video]
    if args.insert is not None:
        raise ValueError("--insert applies to --video; with two images use --frames")
    if len(args.images) != 2:
        raise ValueError(f"give exactly two images (got {len(args.images)}), or --video clip.mp4 --insert K")
    if args.frames < 3:
        raise ValueError(f"--frames counts both endpoints and must be at least 3, got {args.frames}")
    fps = DEFAULT_FPS if args.fps is None else args.fps
    if not fps > 0:
        raise ValueError(f"--fps must be positive, got {fps}")
    a, b = (elpips.load_image(path) for path in args.images)
    return [(a, b)], args.frames, fps, list(args.images)


def _start_frame_files(folder: Path, frames: int) -> list[Path]:
    """The image files of --init in name order: `frames` of them (endpoints included) or the frames - 2 in-betweens."""
    if not folder.is_dir():
        raise ValueError(f"--init {folder}: not a folder; give the folder that holds the start frames")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in START_FRAME_SUFFIXES)
    if len(files) not in (frames, frames - 2):
        raise ValueError(f"--init {folder} holds {len(files)} image files; this geodesic has {frames} frames: give "
                         f"{frames} (endpoints included) or the {frames - 2} in-betweens, or set --frames to match")
    return files


def _checkpoint_path(out: Path, index: int, pairs: int) -> Path:
    return out / "checkpoint.pt" if pairs == 1 else out / "checkpoints" / f"pair_{index:04d}.pt"


def _frames_exist(out: Path, first: int, count: int, total: int) -> bool:
    from geometry import video

    return all((out / video.FRAMES_DIR / video.png_frame_name(i, total)).is_file() for i in range(first, first + count))


def _read_png(path: Path):
    import imageio.v3 as iio

    return iio.imread(path)[..., :3]


if __name__ == "__main__":
    sys.exit(main())
