"""What every command-line tool shares: the parser, option types, exit codes, error lines and JSON output.

The ``elpips`` command (`elpips.cli`) and the geometry tools (`geometry.tools`: ``elpips-geodesic``,
``elpips-average``, ``elpips-batch``) take their common options from here, so that one option has one
name, one type and one error message everywhere:

* a usage error is one line, ``PROG: error: ... (see PROG --help)``, exit code 2 (`EXIT_USAGE`);
* an error the user can fix is ``PROG: error: <one line>`` on stderr (`print_error`), exit 2; a failed
  write or missing weights exit 1 (`EXIT_FAILED`); Ctrl-C exits 130 (`EXIT_INTERRUPTED`);
* ``--distance`` names the distance or metric (``--metric`` is accepted as an alias, its older name);
  ``--seed``, ``--device``, ``--max-memory``, ``--no-progress`` are the same options in every tool;
* JSON goes out as ``json.dumps(..., indent=2)`` (`print_json` on stdout; files through `elpips.io.write_json`).

Light on purpose: importing it imports neither torch nor NumPy (the tools must start, and take Ctrl-C,
before those load; `import_native_modules` then loads them with Ctrl-C held back).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, Sequence

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

#: Seeds the elpips command accepts: it seeds a torch.Generator (0 to 2**64 - 1) with the seed itself. The geometry
#: tools take `geometry.engine.seeds.MAX_SEED`, the range whose derived seeds (2 * seed + 0..3, modulo 2**64) are
#: tested there.
MAX_SEED = 2**63 - 1


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (``prog: error: ... (see prog --help)``), exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse's name
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------------------------ option types


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _positive(text, int, "integer")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _positive(text, float, "number")


def _positive(text: str, convert: type, what: str):
    try:
        value = convert(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive {what}")
    return value


def parse_seed(text: str, maximum: int = MAX_SEED) -> int:
    """A seed: an integer from 0 to ``maximum``."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= maximum:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: use an integer from 0 to {maximum}")
    return value


def parse_memory(text: str) -> int:
    """``12GB``, ``500MB``, ``2GiB`` -> bytes."""
    from .memory import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, checked against this machine (torch is imported only for cuda)."""
    device = text.strip().lower()
    if device in ("auto", "cpu"):
        return device
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use auto, cpu, cuda or cuda:N")
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise argparse.ArgumentTypeError(f"{text}: no CUDA device is available here; use --device cpu (or auto)")
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise argparse.ArgumentTypeError(f"{text}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return device


# ------------------------------------------------------------------------------------------ shared options


def add_distance_option(parser, choices: Sequence[str], help: str, default: str = "elpips_vgg") -> None:
    """``--distance NAME`` (alias ``--metric``, its older name), stored as ``args.distance``."""
    parser.add_argument("--distance", "--metric", dest="distance", default=default, choices=tuple(choices),
                        metavar="NAME", help=f"{help}: {', '.join(choices)} (default {default}; "
                                             "--metric is an alias)")


def add_seed_option(parser, what: str = "random seed", maximum: int = MAX_SEED) -> None:
    def seed(text: str) -> int:
        return parse_seed(text, maximum)

    parser.add_argument("--seed", type=seed, default=0,
                        help=f"{what}, 0 to {maximum} (default 0); same seed, same result")


def add_device_option(parser) -> None:
    parser.add_argument("--device", type=parse_device, default="auto",
                        help="auto, cpu, cuda or cuda:N (default auto: cuda when available)")


def add_max_memory_option(parser, refused: str) -> None:
    parser.add_argument("--max-memory", type=parse_memory, default=None, metavar="SIZE",
                        help=f"memory the run may use, like 12GB (default: what the device has available); "
                             f"{refused} is refused before it starts")


def add_no_progress_option(parser, shown: str = "on stderr") -> None:
    parser.add_argument("--no-progress", action="store_true", help=f"no progress bar ({shown})")


# ------------------------------------------------------------------------------------------ output


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type's name when it has none)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def print_error(prog: str, message: str) -> None:
    """``PROG: error: MESSAGE`` on stderr."""
    print(f"{prog}: error: {message}", file=sys.stderr)


def print_json(data: Any) -> None:
    """``--json`` output: indented JSON on stdout (paths and other objects as strings)."""
    print(json.dumps(data, indent=2, default=str))


def import_native_modules() -> None:
    """Import torch, NumPy and imageio with Ctrl-C held back until they are in, then act on it.

    A KeyboardInterrupt raised inside a C extension's import surfaces as an ImportError, which torch takes for
    "NumPy is not installed" and swallows: the Ctrl-C was lost, or left a half-imported NumPy behind that
    failed later with a misleading error. The imports take a second or two; a Ctrl-C during them is raised
    as soon as they finish. Main thread only (signal handlers); elsewhere a plain import.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    pending = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        import imageio.v3  # noqa: F401
        import numpy  # noqa: F401
        import torch  # noqa: F401
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt
