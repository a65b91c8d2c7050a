"""What the geometry command-line tools share beyond `elpips.cli_common` (the parser, option types, exit codes
and error lines of every tool): the run options, the error policy, progress bars, run folders.

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
import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

from elpips.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
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
from elpips.io import read_json, write_json

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


def check_memory(args: argparse.Namespace, options: RunOptions, kind: str, images: int, free: int,
                 size: tuple[int, int], describe: str) -> None:
    """Refuse, before any network is loaded, a run estimated to need more memory than --max-memory or what
    the device has (`geometry.memory`)."""
    from geometry.distances import resolve_device
    from geometry.memory import check_run

    check_run(kind, options.distance, images, free, size, resolve_device(options.device), preset=options.preset,
              steps=options.steps, limit=args.max_memory, describe=describe)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every optimisation tool takes (the fields of the `RunOptions` it runs with, `run_options`)."""
    from geometry.distances import DISTANCE_NAMES
    from geometry.presets import PRESETS

    group = parser.add_argument_group("optimisation")
    add_distance_option(group, DISTANCE_NAMES, "distance to optimise under (l2 = pixel mean/cross-dissolve)")
    group.add_argument("--size", type=parse_size, default=None,
                       help="working size: short side (64) or HxW (48x64); default: the first input's size")
    group.add_argument("--steps", type=positive_int, default=None, help="optimisation steps (default: the preset's)")
    group.add_argument("--preset", default="fast", choices=tuple(PRESETS),
                       help="optimisation recipe: fast (default) or reference (the E-LPIPS authors', 100000 steps)")
    from geometry.motion import MOTION_NAMES

    group.add_argument("--motion", default="warp", choices=MOTION_NAMES,
                       help="start of a geodesic or two-image average: warp (default: the endpoints warped by the "
                            "engine's own flow), dis (OpenCV's DIS flow) or none (the cross-dissolve)")
    add_seed_option(group)
    add_device_option(group)
    add_max_memory_option(group, "a run estimated to need more")
    group.add_argument("--checkpoint-every", type=positive_int, default=50, metavar="STEPS",
                       help="write a resumable checkpoint every STEPS steps (default 50) and on Ctrl-C")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --out from its checkpoint (same inputs and options)")
    add_no_progress_option(parser)


def run_options(args: argparse.Namespace, **settings: Any) -> RunOptions:
    """The `RunOptions` of `add_run_options`' arguments, with a tool's own `settings` (e.g. energy)."""
    from geometry.options import RunOptions

    return RunOptions(distance=args.distance, preset=args.preset, steps=args.steps, seed=args.seed, size=args.size,
                      device=args.device, checkpoint_every=args.checkpoint_every, motion=args.motion, **settings)


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
        if out is not None and resumable(out):
            print(f"{prog}: interrupted; run the same command with --resume to continue from the checkpoint",
                  file=sys.stderr)
        else:
            print(f"{prog}: interrupted before the optimisation started; nothing to resume", file=sys.stderr)
        exit_interrupted()
    except ValueError as error:  # the engine's and elpips' user-facing errors are ValueErrors
        print_error(prog, one_line(error))
        return EXIT_USAGE
    except OSError as error:
        print_error(prog, _os_error_message(error, getattr(args, 'out', None)))
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
    from geometry.optimize import CheckpointWriteError

    what = f"{error.filename}: {os_error_reason(error)}" if error.filename else one_line(error)
    if isinstance(error, CheckpointWriteError):
        kept = ("no checkpoint had been written yet" if error.saved_step is None
                else f"the last checkpoint (step {error.saved_step}) is kept")
        what = f"cannot write the checkpoint {error.filename} ({os_error_reason(error)}); {kept}"
    elif error.filename and out is not None and Path(error.filename).resolve().is_relative_to(Path(out).resolve()):
        what = f"cannot write {error.filename} ({os_error_reason(error)}); what was written before is kept in {out}"
    if out is not None and resumable(out):
        what += ("; free some space (or raise the file size limit, fix the permissions) and run the same "
                 "command with --resume")
    return what


def resumable(out: Path) -> bool:
    """Whether ``out`` holds a run that ``--resume`` continues (a checkpoint, or an unfinished run.json)."""
    out = Path(out)
    stored = read_json(out / "run.json")
    return ((out / "checkpoint.pt").is_file() or any((out / "checkpoints").glob("*.pt"))
            or (stored or {}).get("status") == "running")


def load_distance(name: str, device: str | None) -> Any:
    """The distance to hand the engine: ``"l2"`` by name, a network loaded once otherwise."""
    if name == "l2":
        return name
    import elpips
    from geometry.distances import resolve_device

    return elpips.load_metric(name, device=resolve_device(device))


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RunFolder:
    """An output folder with a ``run.json`` that makes ``--resume`` safe.

    ``run.json`` holds the tool's settings and status ("running" or "done"). A new run refuses a folder
    whose run is unfinished (``--resume`` continues it); ``--resume`` refuses settings that differ from
    the stored ones. The folder must be writable, and the file size limit and free space must allow a
    checkpoint of ``checkpoint_bytes``, before anything runs. If the run fails on bad input or is
    interrupted before it produced anything, the folders it created are removed (never after a failed
    write: the folder then holds what was kept).
    """

    def __init__(self, out: Path, settings: dict, resume: bool, checkpoints: Sequence[Path],
                 checkpoint_bytes: int = 0):
        self.out = Path(out)
        self.path = self.out / "run.json"
        self.settings = settings
        self.created: list[Path] = []
        check_output_folder(self.out, checkpoint_bytes)
        stored = read_json(self.path)
        unfinished = any(Path(c).exists() for c in checkpoints) or (stored or {}).get("status") == "running"
        if resume and stored is not None and stored.get("settings") != settings:
            changed = sorted(k for k in set(settings) | set(stored.get("settings", {}))
                             if settings.get(k) != stored.get("settings", {}).get(k))
            raise ValueError(f"{self.out} holds a run with other settings ({', '.join(changed)} differ): "
                             "use the same inputs and options to resume, or another --out")
        if not resume and unfinished:
            raise ValueError(f"{self.out} holds an unfinished run: pass --resume to continue it, "
                             "or choose another --out")
        self.state = stored if resume and stored else {"settings": settings, "status": "running"}

    def mkdir(self, folder: Path) -> Path:
        """Create ``folder`` (and parents), remembering what was new for :meth:`discard_if_empty`."""
        missing = []
        for parent in [folder, *folder.parents]:
            if parent.exists():
                break
            missing.append(parent)
        folder.mkdir(parents=True, exist_ok=True)
        self.created.extend(missing)
        return folder

    def save(self, **fields: Any) -> None:
        self.state.update(fields)
        self.mkdir(self.out)
        write_json(self.path, self.state)

    def discard_if_empty(self, error: BaseException | None = None) -> None:
        """After a failure: remove the folders this run created if nothing was written into them (not
        after a failed write, `error` an OSError: the user looks for the folder the message names)."""
        if isinstance(error, OSError):
            return
        for folder in sorted(self.created, key=lambda f: len(f.parts), reverse=True):  # deepest first
            try:
                folder.rmdir()
            except OSError:
                pass


def check_output_folder(out: Path, checkpoint_bytes: int = 0) -> None:
    """Raise ValueError unless files can be written in ``out`` and a checkpoint of ``checkpoint_bytes``
    fits the file size limit (``ulimit -f``) and the free space (twice: the new one is written beside the old)."""
    import resource
    import shutil

    from elpips.io import writable_folder_problem
    from elpips.memory import format_bytes

    problem = writable_folder_problem(out)
    if problem is not None:
        raise ValueError(f"--out {out}: {problem}; choose another --out or fix its permissions")
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and limit < checkpoint_bytes:
        raise ValueError(f"the file size limit (ulimit -f) is {limit} bytes, but this run's checkpoint needs about "
                         f"{format_bytes(checkpoint_bytes)}: raise the limit, or use a smaller --size")
    existing = next(p for p in [Path(out), *Path(out).parents] if p.exists())
    free = shutil.disk_usage(existing).free
    if free < 2 * checkpoint_bytes:
        raise ValueError(f"{existing} has {format_bytes(free)} free, but this run's checkpoints need about "
                         f"{format_bytes(2 * checkpoint_bytes)}: free some space or choose another --out")


def checkpoint_bytes(free_images: int, size: tuple[int, int]) -> int:
    """About the size of a checkpoint of ``free_images`` images of ``size``: pixels and two Adam moments."""
    return 3 * free_images * 3 * size[0] * size[1] * 4 + 64 * 1024


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
