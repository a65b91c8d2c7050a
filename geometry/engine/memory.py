"""The memory an optimisation run needs, estimated before it starts (see `elpips.memory` for the model).

A step embeds every image (free and fixed) under every draw of the step and keeps all of it for the
backward pass, so the largest stage's step is the peak: images x draws evaluations, each at the largest
scale level (a run of many steps draws it sooner or later), plus the images, their gradient and Adam's
two moments. `check_run` refuses a run above the limit and names the largest ``--size`` that fits.
"""

from __future__ import annotations

from collections.abc import Sequence

from elpips.memory import available_bytes, check, largest_fitting, step_bytes
from geometry.engine.presets import effective_stages, run_recipe, stage_sizes
from geometry.engine.problems import PROBLEMS

_FLOAT_BYTES = 4


def run_memory(kind: str, distance: str, images: int, free: int, size: tuple[int, int], preset: str = "fast",
               steps: int | None = None, draws_per_step: int | None = None) -> int:
    """Peak bytes of a run: `kind` "barycenter"/"geodesic", `distance` by name, `images` per step (free and
    fixed: a geodesic's frames, or a barycenter's targets + 1), `free` optimised images, output `size` (H, W)."""
    from elpips.configs import get_config

    recipe = run_recipe(preset, PROBLEMS[kind], tuple(size), steps=steps, draws_per_step=draws_per_step)
    stages = effective_stages(recipe.stages, tuple(size))
    config = None if distance == "l2" else get_config(distance)
    peak = 0
    for stage, (height, width) in zip(stages, stage_sizes(stages, tuple(size))):
        if config is None:  # the pixels, their differences and squares: a few copies of the images
            step = 4 * images * 3 * height * width * _FLOAT_BYTES
        else:
            evaluations = images * (stage.draws if config.transforms is not None else 1)
            step = step_bytes(config, evaluations, height, width)
        peak = max(peak, step)
    state = (images + 4 * free) * 3 * size[0] * size[1] * _FLOAT_BYTES  # images, gradient, Adam moments, copy
    return peak + state


def check_run(kind: str, distance: str, images: int, free: int, size: tuple[int, int], device, *,
              preset: str = "fast", steps: int | None = None, draws_per_step: int | None = None,
              limit: int | None = None, describe: str = "this run", flag: str | None = "--max-memory",
              size_option: str = "--size {}", count_option: str | None = None, count_offset: int = 0) -> None:
    """Raise MemoryLimitError (an InputError) when the run would need more than `limit` bytes (default: what
    `device` has available), suggesting the largest short side that fits, formatted into `size_option`, and for a
    geodesic given `count_option` (e.g. "--frames {}") the most frames that fit at this size (the option's value
    is the frame count less `count_offset`: 2 for "--insert {}"); `flag` is the option that raises the limit (see
    `elpips.memory.check`)."""
    def needed(hw: Sequence[int], count: int = images) -> int:
        return run_memory(kind, distance, count, free + count - images, (int(hw[0]), int(hw[1])), preset, steps,
                          draws_per_step)

    height, width = size
    total, room = needed(size), available_bytes(device) if limit is None else limit
    smaller = ""
    if total > room:
        short = min(height, width)
        fits = largest_fitting(lambda side: needed(_scaled(size, side / short)) <= room, short - 1)
        ways = [f"{size_option.format(fits)} or less"] if fits else []
        if PROBLEMS[kind].is_path and count_option is not None and images > 3:  # a path's frames can be fewer
            count = largest_fitting(lambda n: needed(size, n) <= room, images - 1, smallest=3)  # 1 in-between
            ways += [f"{count_option.format(count - count_offset)} or fewer"] if count else []
        smaller = f"use {', or '.join(ways)}" if ways else "not even 16 px fits"
    check(total, device, limit, f"{describe} ({images} images of {width}x{height} px, {distance} on {device})",
          smaller, flag)


def _scaled(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))

