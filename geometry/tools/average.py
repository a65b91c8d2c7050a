"""``elpips-average``: the perceptual average (barycenter) of images, with the reference's snapshot series.

The barycenter of images y_1..y_N with weights w_i is the image x minimising sum_i w_i d(x, y_i)^2
under the distance d (E-LPIPS by default; docs/geometry.md). Under plain L2 it is the weighted pixel mean.

Examples::

    elpips-average cat.png dog.png --size 128 --out avg/                 # pairwise average
    python -m geometry.tools.average a.png b.png c.png --weights 1 2 1 --out abc/
    elpips-average cat.png --perturbed shift --count 10 --out bary10/   # the reference's 'bary10'
    elpips-average cat.png dog.png --preset reference --steps 5000 --out ref/
    elpips-average cat.png dog.png --out avg/ --resume                  # continue an interrupted run

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
HxW; inputs of different sizes are centre-cropped to the first one's aspect, see `geometry.inputs`),
``--steps``, ``--distance`` (elpips_vgg, lpips_vgg, vgg, alex, l2), ``--preset`` (fast | reference),
``--seed``, ``--device``, ``--checkpoint-every``, ``--no-progress``. Bad input prints one line on
stderr and exits with code 2, writing nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

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

if TYPE_CHECKING:  # torch is imported when the command runs, so that Ctrl-C during start-up is handled
    import torch

PROG = "elpips-average"
RESULT_NAME = "average.png"
RECORD_NAME = "record.json"


def snapshot_name(step: int) -> str:
    """``000100.png`` for step 100, as the reference scripts name their snapshots."""
    return f"{step:06d}.png"


def write_average_outputs(out: str | Path, images: torch.Tensor) -> list[Path]:
    """Write the final average (``images``: (1, 3, H, W) in [0, 1]) as ``average.png``; returns the paths."""
    import elpips

    path = Path(out) / RESULT_NAME
    elpips.save_image(path, images[:1])
    return [path]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="The perceptual average (barycenter) of images under E-LPIPS, LPIPS or L2.",
        epilog="examples:\n  elpips-average cat.png dog.png --size 128 --out avg/\n"
               "  elpips-average a.png b.png c.png --weights 1 2 1 --out abc/\n"
               "  elpips-average cat.png --perturbed shift --count 10 --out bary10/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    from geometry.api import barycenter, perturbed_barycenter

    weights = _check_args(args)
    snapshot_steps = _snapshot_steps(args.snapshots)
    import elpips
    from geometry.inputs import target_size

    sizes = [tuple(elpips.load_image(path).shape[-2:]) for path in args.images]  # one clear line for a missing
    # or unreadable image, before anything is written
    options = run_options(args)
    settings = {
        "inputs": [str(p.resolve()) for p in args.images],
        "input_sha256": [file_sha256(p) for p in args.images],
        "weights": weights, "perturbed": args.perturbed, "count": args.count if args.perturbed else None,
        **options.result_settings(),
    }
    out: Path = args.out
    checkpoint = out / "checkpoint.pt"
    size = target_size(sizes[0], args.size)
    targets = args.count if args.perturbed else len(args.images)
    check_memory(args, options, "barycenter", targets + 1, 1, size, "this average")
    folder = RunFolder(out, settings, args.resume, [checkpoint], checkpoint_bytes(1, size))
    options = replace(options, distance=load_distance(args.distance, args.device))

    bar = StepBar(disable=args.no_progress, desc=PROG)

    def callback(progress) -> None:
        if progress.snapshot is not None:
            elpips.save_image(out / snapshot_name(progress.step), progress.snapshot[:1])
        bar(progress)

    per_call = dict(options=options, callback=callback, checkpoint=checkpoint, snapshot_steps=snapshot_steps)
    try:
        folder.mkdir(out)
        if args.perturbed:
            result = perturbed_barycenter(args.images[0], mode=args.perturbed, count=args.count, **per_call)
        else:
            result = barycenter(list(args.images), weights, **per_call)
    except BaseException as error:
        bar.close()
        folder.discard_if_empty(error)
        raise
    bar.close()
    write_average_outputs(out, result.images)
    write_json(out / RECORD_NAME, result.record.to_dict())
    folder.save(status="done")
    checkpoint.unlink(missing_ok=True)
    print(f"{PROG}: {out / RESULT_NAME} after {result.record.steps} steps", file=sys.stderr)
    return 0


def _check_args(args: argparse.Namespace) -> list[float] | None:
    """Validate the command line before anything is read or written; returns the weights."""
    if args.perturbed:
        if len(args.images) != 1:
            raise ValueError(f"--perturbed averages copies of ONE image, got {len(args.images)}")
        if args.weights:
            raise ValueError("--weights do not apply to --perturbed (its copies weigh the same)")
        return None
    if len(args.images) < 2:
        raise ValueError("give at least two images to average (or one with --perturbed noise|shift)")
    if args.weights is None:
        return None
    from geometry.options import weights_problem

    problem = weights_problem(args.weights, len(args.images))
    if problem is not None:
        raise ValueError(problem)
    return list(args.weights)


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
        raise ValueError(f"--snapshots {text!r}: use 'reference', 'none' or steps like 0,10,100")
    return steps


if __name__ == "__main__":
    sys.exit(main())
