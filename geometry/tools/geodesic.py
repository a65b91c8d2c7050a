"""``elpips-geodesic``: perceptual in-between frames — a morph of two images, or a clip slowed down.

A discrete geodesic between images a and b is the sequence of frames a = x_0, x_1, ..., x_N = b with
the smallest path energy sum_i d(x_i, x_{i+1})^2 under the distance d (E-LPIPS by default). Under plain
L2 it is a cross-dissolve; under E-LPIPS the frames stay sharp and evenly spaced. Started from the
cross-dissolve (``--motion none``), content that moves more than a pixel or two per frame stays a sharpened
double exposure, because the E-LPIPS path energy is lower there; the default (``--motion auto``) starts from
the endpoints warped towards each other by a flow the engine finds itself (``warp``), or, where the two differ
by a turn or a scaling of their texture, from the texture path (``texture``), each kept as it is by default
(``--refine auto``; ``--refine pixels`` refines them and keeps the motion: docs/motion.md, docs/textures.md,
benchmarks/bench_motion.py). ``--start-frames`` starts from given frames instead.

Two images -> N frames (both endpoints included)::

    elpips-geodesic a.png b.png --frames 10 --size 128 --out morph/
    python -m geometry.tools.geodesic a.png b.png --frames 12 --gif pingpong --fps 12 --out morph/
    elpips-geodesic a.png b.png --distance l2 --out fade/         # the cross-dissolve, for comparison

A clip (a video file, or a folder of numbered frames with ``--input-fps``) -> K new frames between every
consecutive pair, played at fps x (K + 1) (same duration), or the frames a target rate needs::

    elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/
    elpips-geodesic --video frames/ --input-fps 24 --to-fps 60 --formats mp4,webp --montage --out smooth/

A pair of unrelated frames (a scene cut: at least ``--cut-threshold`` apart under the run's distance at 64
px, E-LPIPS without its random transformations) is not morphed: its in-betweens hold its first frame. The
clip's audio track is copied into the MP4 when the timing is kept (no ``--fps`` that changes it). The timing plan
and the cut detection are in `geometry.service.clips`.

A finished run in ``--out`` is never replaced silently: the command refuses it unless given ``--overwrite``.

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

This module is the command line only: the run is `geometry.service.runs.run_geodesic` (the same as a job file's and the
app's; the engine is `geometry.geodesic`, the file writers `geometry.service.video`), imported when the command runs,
so that Ctrl-C during start-up is handled.

Options: ``--frames`` (default 10), ``--size`` (short side or HxW; inputs of different sizes are
centre-cropped to the first one's aspect, see `geometry.engine.inputs`), ``--steps``, ``--distance``
(elpips_vgg, lpips_vgg, vgg, alex, l2), ``--energy`` (squared | linear), ``--preset`` (fast |
reference), ``--seed``, ``--device``, ``--fps``, ``--gif``, ``--formats``, ``--checkpoint-every``,
``--no-progress``, ``--start-frames FOLDER`` (``--init``, its former name: start from another interpolator's
frames and refine them: the engine keeps content where the start frames put it, see docs/motion.md). Bad input
prints one line on stderr and exits with code 2, writing nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from elpips.cli_common import positive_float, positive_int
from geometry.tools.support import StepBar, add_run_options, parse_size, run_options, run_tool, tool_parser

if TYPE_CHECKING:
    from geometry.service.geodesic_run import GeodesicRequest
    from geometry.service.runs import RunArtefacts

PROG = "elpips-geodesic"


def build_parser() -> argparse.ArgumentParser:
    from geometry.engine.energies import ENERGY_FORMS  # imports torch, as add_run_options does: not at import
    from geometry.service.run_folder import MONTAGE_NAME
    from geometry.service.video import DEFAULT_MOVIE_FORMATS, MOVIE_FORMATS

    parser = tool_parser(PROG, "Perceptual in-between frames: a geodesic between two images, or new frames "
                               "inserted into a clip (a video file or a folder of frames).", [
        "elpips-geodesic a.png b.png --frames 10 --size 128 --out morph/",
        "elpips-geodesic --video clip.mp4 --insert 3 --size 96 --out smooth/",
        "elpips-geodesic --video frames/ --input-fps 24 --to-fps 60 --formats mp4,webp --out smooth/"])
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
                             "0.06, see geometry/service/clips.py; inf: never)")
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
    parser.add_argument("--start-frames", "--init", type=Path, metavar="FOLDER", dest="start_frames",
                        help="two images: start from the frames in FOLDER (image files in name order: all --frames "
                             "of them, or the in-betweens) instead of the cross-dissolve, e.g. another "
                             "interpolator's output, which the geodesic then refines (--init: its former name)")
    parser.add_argument("--output-size", type=parse_size, default=None, metavar="SIZE",
                        help="size of the frames written: short side or HxW (default: the input's own size); the "
                             "motion is found at --size and rendered at this size, the full-size inputs warped")
    parser.add_argument("--workers", type=positive_int, default=1, metavar="N",
                        help="with --video: run N of the clip's pairs at a time, each in its own process with its "
                             "share of the cores (default 1); the files are the same byte for byte")
    add_run_options(parser)
    return parser


def _formats(text: str) -> tuple[str, ...]:
    from geometry.service.video import MOVIE_FORMATS

    chosen = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [f for f in chosen if f not in MOVIE_FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown format(s) {', '.join(unknown) or repr(text)}: choose from "
                                         f"{','.join(MOVIE_FORMATS)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(PROG, build_parser, argv, _run)


def request_of(args: argparse.Namespace) -> GeodesicRequest:
    """The run the command line asks for (`geometry.service.geodesic_run.GeodesicRequest`)."""
    from geometry.service.geodesic_run import GeodesicRequest

    return GeodesicRequest(images=tuple(args.images), video=args.video, input_fps=args.input_fps, insert=args.insert,
                           to_fps=args.to_fps, frames=args.frames, fps=args.fps, cut_threshold=args.cut_threshold,
                           formats=tuple(args.formats), montage=args.montage, gif=args.gif,
                           start_frames=args.start_frames, output_size=args.output_size)


def _run(args: argparse.Namespace) -> int:
    from geometry.service.runs import run_geodesic

    options = run_options(args)
    bar = StepBar(disable=args.no_progress, desc=PROG)

    def say(line: str) -> None:
        print(f"{PROG}: {line}", file=sys.stderr)

    def on_pair(position: int, count: int) -> None:
        bar.runs = count
        bar.next_run(position)

    try:
        artefacts = run_geodesic(request_of(args), options, args.out, resume=args.resume, callback=bar,
                                 max_memory=args.max_memory, report=say, on_pair=on_pair, workers=args.workers,
                                 overwrite=args.overwrite)
    finally:
        bar.close()
    _say_done(artefacts, say)
    return 0


def _say_done(artefacts: RunArtefacts, say) -> None:
    record = artefacts.record_json
    stages = [tuple(s) for s in record["optimised_at"]]
    size, working = tuple(record["output_size"]), _hw(tuple(record["working_size"]))
    if any((pair.get("settings") or {}).get("refine") == "pixels" for pair in record["pairs"]):
        refined = f", refined at {' then '.join(_hw(s) for s in stages[1:])}" if len(stages) > 1 else ""
        how = f"motion found at {working}, optimised at {_hw(stages[0])}{refined}"
    else:
        how = f"motion found at {working}, not refined"
    say(f"{record['frames']} frames at {record['fps']:g} fps, {_hw(size)} px ({how}) in {artefacts.out}")


def _hw(size) -> str:
    return f"{size[1]}x{size[0]}"


if __name__ == "__main__":
    sys.exit(main())
