"""What the geometry command-line tools share beyond `elpips.cli_common` (the parser, option types, exit codes
and error lines of every tool): the run options, the error policy, the progress bar. The runs themselves are
`geometry.service.runs`' (the same for the tools, the job files and the app).

The tools (``elpips-geodesic``, ``elpips-average``, ``elpips-batch``) promise the same behaviour:
bad input is one clear line on stderr and exit code 2 (no traceback, nothing half-written), found
before any network is loaded where it can be (an unwritable ``--out``, an unknown ``--device``, a run
too large for the memory); Ctrl-C leaves a checkpoint and exits 130 (during start-up: nothing to
resume, no traceback); a failed write (full disk, file size limit) names the file and errno, keeps
the last checkpoint and the frames written so far, and says how to resume; a progress bar with ETA
on stderr.

This module imports neither torch nor the engine at import time, so that Ctrl-C during start-up
(torch takes seconds to import) reaches `run_tool`'s handler.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn, Sequence

from elpips.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OneLineParser,
    add_device_option,
    add_distance_option,
    add_max_memory_option,
    add_no_progress_option,
    add_seed_option,
    import_native_modules,
    one_line,
    positive_int,
    print_error,
)
from elpips.errors import InputError
from elpips.extras import MissingExtra
from geometry.service.run_folder import FolderLayout

if TYPE_CHECKING:
    from geometry.options import RunOptions


def parse_size(text: str) -> int | tuple[int, int]:
    """``64`` (short side) or ``48x64`` (height x width)."""
    try:
        if "x" in text.lower():
            height, width = (int(part) for part in text.lower().split("x"))
            if height >= 1 and width >= 1:
                return height, width
        else:
            size = int(text)
            if size >= 1:
                return size
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"invalid size {text!r}: use a short side like 64 or HxW like 48x64")


def tool_parser(prog: str, description: str, examples: Sequence[str], note: str = "") -> argparse.ArgumentParser:
    """A tool's parser (`elpips.cli_common.OneLineParser`: one-line usage errors) whose help ends with its
    example command lines and ``note``."""
    epilog = ("examples:" if len(examples) > 1 else "example:") + "".join(f"\n  {line}" for line in examples)
    parser = OneLineParser(prog=prog, description=description, epilog=epilog + (f"\n\n{note}" if note else ""),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="with an error about the input, also print where it was raised (the traceback)")
    return parser


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every optimisation tool takes (the fields of the `RunOptions` it runs with, `run_options`)."""
    from geometry.engine.distances import DISTANCE_NAMES
    from geometry.engine.presets import PRESETS

    group = parser.add_argument_group("optimisation")
    add_distance_option(group, DISTANCE_NAMES, "distance to optimise under (l2 = pixel mean/cross-dissolve)")
    group.add_argument("--size", type=parse_size, default=None,
                       help="working size: short side (64) or HxW (48x64); default: the first input's size")
    group.add_argument("--steps", type=positive_int, default=None, help="optimisation steps (default: the preset's)")
    group.add_argument("--preset", default="fast", choices=tuple(PRESETS),
                       help="optimisation recipe: fast (default) or reference (the E-LPIPS authors', 100000 steps)")
    from geometry.paths.motion import MOTION_NAMES

    group.add_argument("--motion", default="auto", choices=MOTION_NAMES,
                       help="start of a geodesic or two-image average: auto (default: texture where the two differ by "
                            "a turn or a scaling of their texture, else warp), warp (the endpoints warped by the "
                            "engine's own flow), dis (OpenCV's DIS flow), texture, or none (the cross-dissolve)")
    from geometry.options import REFINE_NAMES

    group.add_argument("--refine", default="auto", choices=REFINE_NAMES,
                       help="what follows the start: auto (default: nothing after a warp start, whose frames every "
                            "refinement tried took further from real footage's true frames; the E-LPIPS pixel "
                            "refinement after the others), none (the start alone, no network: the fast mode for whole "
                            "clips) or pixels (the E-LPIPS refinement of the pixels)")
    from geometry.engine.seeds import MAX_SEED

    add_seed_option(group, maximum=MAX_SEED)
    add_device_option(group)
    add_max_memory_option(group, "a run estimated to need more")
    group.add_argument("--checkpoint-every", type=positive_int, default=50, metavar="STEPS",
                       help="write a resumable checkpoint every STEPS steps (default 50) and on Ctrl-C")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --out from its checkpoint (same inputs and options)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the finished run in --out (without it, a finished run there is refused)")
    add_no_progress_option(parser)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The `RunOptions` of the parsed arguments: every option named like one of its fields (`add_run_options`'
    and a tool's own, e.g. ``--energy``), so that a new field needs only its option."""
    from geometry.options import OPTION_NAMES, RunOptions

    return RunOptions(**{name: getattr(args, name) for name in OPTION_NAMES if hasattr(args, name)})


def run_tool(prog: str, build_parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str] | None,
             body: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` and run the tool's body with the shared error policy; returns the exit code
    (usage errors and --help return their code instead of raising SystemExit). A Ctrl-C is reported and
    ends the process (:func:`exit_interrupted`)."""
    args = None
    try:
        import_native_modules()  # first: building the parser imports torch (for the tables of names)
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit:
            return int(exit.code or 0)
        return body(args)
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        if out is not None and FolderLayout(out).resumable():
            print(f"{prog}: interrupted; run the same command with --resume to continue from the checkpoint",
                  file=sys.stderr)
        else:
            print(f"{prog}: interrupted before the optimisation started; nothing to resume", file=sys.stderr)
        exit_interrupted()
    except InputError as error:  # the user's; any other exception is a bug and keeps its traceback
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print_error(prog, one_line(error.worded("tool")))
        return EXIT_USAGE
    except OSError as error:
        print_error(prog, _os_error_message(error, getattr(args, 'out', None)))
        return EXIT_FAILED
    except MissingExtra as error:  # an optional dependency the command needs: the line names the extra
        print_error(prog, str(error))
        return EXIT_FAILED
    except Exception as error:
        from elpips.weights import WeightsError

        if isinstance(error, WeightsError):  # missing network weights: the message lists the ways to provide them
            print_error(prog, str(error))
            return EXIT_FAILED
        raise


def exit_interrupted() -> NoReturn:
    """End the process with EXIT_INTERRUPTED at once, once a Ctrl-C has been reported (checkpoints and frames
    are written by then). Not through interpreter shutdown: a Ctrl-C that lands inside torch's import leaves
    native threads half started, and finalising them aborts the process or ends it by the signal instead."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _os_error_message(error: OSError, out: Path | None) -> str:
    """One line: what could not be read or written (path, reason, errno), what is kept, how to go on."""
    from elpips.io import os_error_reason
    from geometry.engine.optimize import CheckpointWriteError

    what = f"{error.filename}: {os_error_reason(error)}" if error.filename else one_line(error)
    if isinstance(error, CheckpointWriteError):
        kept = ("no checkpoint had been written yet" if error.saved_step is None
                else f"the last checkpoint (step {error.saved_step}) is kept")
        what = f"cannot write the checkpoint {error.filename} ({os_error_reason(error)}); {kept}"
    elif error.filename and out is not None and Path(error.filename).resolve().is_relative_to(Path(out).resolve()):
        what = f"cannot write {error.filename} ({os_error_reason(error)}); what was written before is kept in {out}"
    if out is not None and FolderLayout(out).resumable():
        what += ("; free some space (or raise the file size limit, fix the permissions) and run the same "
                 "command with --resume")
    return what


class StepBar:
    """A tqdm bar over optimisation steps, fed by the engine's Progress callback.

    Several runs in sequence (one per frame pair) share one bar: call :meth:`next_run` before each.
    The bar appears with the first step, so an error before it leaves stderr to the error message.
    """

    def __init__(self, runs: int = 1, disable: bool = False, desc: str | None = None):
        self.runs = runs
        self.disable = disable
        self.desc = desc
        self.completed_runs = 0
        self.bar = None

    def next_run(self, index: int) -> None:
        self.completed_runs = index

    def __call__(self, progress) -> None:
        position = self.completed_runs * progress.total_steps + progress.step
        if self.bar is None:  # a resumed run starts part-way: that is not speed, so it is the bar's initial
            from tqdm import tqdm

            start = max(position - 1, 0)
            self.bar = tqdm(total=progress.total_steps * self.runs, initial=start, unit="step", desc=self.desc,
                            disable=self.disable, dynamic_ncols=True, file=sys.stderr)
        if position > self.bar.n:
            self.bar.update(position - self.bar.n)
        if progress.energy == progress.energy:  # not NaN
            postfix = {"energy": f"{progress.energy:.4g}"}
            if self.runs > 1:
                postfix["pair"] = f"{self.completed_runs + 1}/{self.runs}"
            self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
