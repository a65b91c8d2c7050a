"""``elpips-average``: the perceptual average (barycenter) of images, with the reference's snapshot series.

The barycenter of images y_1..y_N with weights w_i is the image x minimising sum_i w_i d(x, y_i)^2
under the distance d (E-LPIPS by default; docs/geometry.md). Under plain L2 it is the weighted pixel mean.

Examples::

    elpips-average cat.png dog.png --size 128 --out avg/                 # pairwise average
    python -m geometry.tools.average a.png b.png c.png --weights 1 2 1 --out abc/
    elpips-average cat.png --perturbed shift --count 10 --out bary10/   # the reference's 'bary10'
    elpips-average cat.png dog.png --preset reference --steps 5000 --out ref/
    elpips-average cat.png dog.png --out avg/ --resume                  # continue an interrupted run
    elpips-average cat.png dog.png --out avg/ --overwrite               # replace the finished run there

Outputs in ``--out``:

* ``000000.png``, ``000001.png``, ... ``000100.png`` ...  snapshots named by step, at the reference's
  snapshot steps (0, 1, 2, 3, 5, 7, 10, 15, ..., 1500, then every 500; ``--snapshots none`` for
  none, or a comma-separated list of steps)
* ``average.png``   the final image
* ``record.json``   the engine's run record (settings, energies per step, seconds, status)
* ``run.json``      the run's settings and status (what ``--resume`` checks)

``--perturbed noise|shift --count N`` takes ONE image and averages N perturbed copies of it
(Gaussian noise, sigma 0.07; or random shifts of -2..2 px): the reference's 'bary10' experiment,
whose pixel mean (``--distance l2``) is the blurry baseline. Other options: ``--size`` (short side or
HxW; inputs of different sizes are centre-cropped to the first one's aspect, see `geometry.engine.inputs`),
``--steps``, ``--distance`` (elpips_vgg, lpips_vgg, vgg, alex, l2), ``--preset`` (fast | reference),
``--seed``, ``--device``, ``--checkpoint-every``, ``--no-progress``. Bad input prints one line on
stderr and exits with code 2, writing nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from elpips.cli_common import positive_int
from elpips.errors import InputError
from geometry.tools.support import StepBar, add_run_options, run_options, run_tool, tool_parser

PROG = "elpips-average"


def build_parser() -> argparse.ArgumentParser:
    parser = tool_parser(PROG, "The perceptual average (barycenter) of images under E-LPIPS, LPIPS or L2.", [
        "elpips-average cat.png dog.png --size 128 --out avg/",
        "elpips-average a.png b.png c.png --weights 1 2 1 --out abc/",
        "elpips-average cat.png --perturbed shift --count 10 --out bary10/"])
    parser.add_argument("images", nargs="+", type=Path, help="images to average (one with --perturbed)")
    parser.add_argument("--weights", type=float, nargs="+", help="one non-negative weight per image (default: equal)")
    parser.add_argument("--perturbed", choices=("noise", "shift"),
                        help="average --count perturbed copies of ONE image (the reference's bary10)")
    parser.add_argument("--count", type=positive_int, default=10, help="copies for --perturbed (default 10)")
    parser.add_argument("--snapshots", default="reference",
                        help="steps to save snapshots at: 'reference' (default), 'none', or a list like 0,10,100")
    add_run_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(PROG, build_parser, argv, _run)


def _run(args: argparse.Namespace) -> int:
    from geometry.service.run_folder import FolderLayout
    from geometry.service.runs import AverageRequest, run_average

    snapshots = _snapshot_steps(args.snapshots)
    request = AverageRequest(tuple(args.images), None if args.weights is None else tuple(args.weights),
                             args.perturbed, args.count, None if snapshots is None else tuple(snapshots))
    bar = StepBar(disable=args.no_progress, desc=PROG)
    try:
        artefacts = run_average(request, run_options(args), args.out, resume=args.resume, callback=bar,
                                max_memory=args.max_memory, overwrite=args.overwrite)
    finally:
        bar.close()
    print(f"{PROG}: {FolderLayout(artefacts.out).average} after {artefacts.steps} steps", file=sys.stderr)
    return 0


def _snapshot_steps(text: str) -> list[int] | tuple | None:
    """None: the engine's default, the reference's snapshot steps."""
    if text == "reference":
        return None
    if text == "none":
        return ()
    try:
        steps = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        steps = [-1]
    if not steps or steps[0] < 0:
        raise InputError(f"--snapshots {text!r}: use 'reference', 'none' or steps like 0,10,100")
    return steps


if __name__ == "__main__":
    sys.exit(main())
