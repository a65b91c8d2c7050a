"""The memory check every front end makes before a run starts (no network is loaded for it): a run estimated to
need more than the device has, or than the limit given, is refused with a line that names the setting to change,
worded for the front end that asked (`MemoryWording`: a flag for the tools, a key for the job files, a
resolution for the app)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from geometry.engine.distance_names import distance_name

if TYPE_CHECKING:
    from geometry.options import RunOptions


@dataclass(frozen=True)
class MemoryWording:
    """How a front end names, in a memory refusal, the setting that raises the limit (``flag``; None: there is
    none), the size that would fit (``size_option``, formatted with the largest fitting short side) and the
    frames that would (``frames_option`` for two images, ``insert_option`` for a clip's pairs)."""

    flag: str | None = "--max-memory"
    size_option: str = "--size {}"
    frames_option: str = "--frames {}"
    insert_option: str = "--insert {}"


COMMAND_LINE = MemoryWording()
JOB_FILE = MemoryWording("max_memory", "size = {}", "frames = {}", "insert = {}")
APP = MemoryWording(None, "a resolution of {} px", "{} frames", "{} in-betweens")


def check_memory(kind: str, options: RunOptions, images: int, free: int, size: tuple[int, int], *,
                 limit: int | None = None, describe: str = "this run", wording: MemoryWording = COMMAND_LINE,
                 clip: bool = False) -> None:
    """Raise `geometry.engine.memory.MemoryLimitError` (an InputError) when a run of ``kind`` ("barycenter" or
    "geodesic"; ``images`` per step, ``free`` of them optimised, at output ``size``) is estimated to need more
    than ``limit`` bytes or what the options' device has; a geodesic's refusal names the frames that fit (a
    ``clip``'s: the in-betweens per pair). A run with ``refine="none"`` optimises nothing and is not refused.
    Needs no network: it is called before one is loaded."""
    from geometry.engine.distances import resolve_device
    from geometry.engine.memory import check_run

    if options.refine == "none":  # no step runs: the start's frames are the result (`check_render` covers them)
        return
    count_option, offset = (wording.insert_option, 2) if clip else (wording.frames_option, 0)
    check_run(kind, distance_name(options.distance), images, free, size, resolve_device(options.device),
              preset=options.preset, steps=options.steps, draws_per_step=options.draws_per_step, limit=limit,
              describe=describe, flag=wording.flag, size_option=wording.size_option, count_option=count_option,
              count_offset=offset)


def check_render(frames: int, size: tuple[int, int], *, limit: int | None = None,
                 wording: MemoryWording = COMMAND_LINE) -> None:
    """Raise `geometry.engine.memory.MemoryLimitError` when rendering a pair's ``frames`` frames at the output
    ``size`` (on the CPU, `geometry.paths.render.render_bytes`) needs more than ``limit`` bytes or the CPU has."""
    from elpips.memory import check
    from geometry.paths.render import render_bytes

    height, width = size
    check(render_bytes(frames, size), "cpu", limit, f"rendering {frames} frames of {width}x{height} px",
          "use a smaller --output-size" if wording is COMMAND_LINE else "use a smaller output size", wording.flag)
