"""The expected time of a clip's geodesics, before they start: what the tool prints, and the mode that would fit.

A clip costs a fixed part (the interpreter, torch and the network loaded, the movie) and its pairs. A pair costs
its checks (the scene-cut check of its two frames, E-LPIPS at 64 px, and `motion="auto"`'s flow verdict at the
working size), its motion start (the engine's coarse-to-fine flow at the working size: about its pixels, the
pyramid included), the render of its in-between frames at the output size (about their pixels), reading its frames
and writing its PNG frames (about the output pixels it writes), and with the pixel refinement the network's
evaluations (the preset's stages: steps x draws x frames x pixels of each stage). A pair the flow does not align
costs `auto`'s texture checks besides (both endpoints' stationarity, the turn-and-zoom detection: about the working
pixels): the forecast is the time where the flow aligns every pair (real footage), and the most it can be, where
it aligns none. The flow, render and refinement constants were measured by
benchmarks/bench_clip_cost.py, the fixed part, the checks and the reading and writing by
benchmarks/bench_clip_speed.py, on 2 CPU cores (benchmarks/results/bench_clip_cost.txt, bench_clip_speed.txt):
CPU seconds, so a quiet machine of that speed; pairs run side by side (``workers``) share the time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: CPU seconds of the engine's flow: a pair, and per working pixel (all pyramid levels); per output pixel of one
#: rendered in-between frame; per output pixel of each frame a pair reads or writes; a clip's scene-cut check per
#: pair (in the first process, before the pairs: not shared by workers); auto's flow verdict per working pixel; a
#: clip's fixed part; of the pixel refinement per evaluated pixel (one E-LPIPS image evaluation with its backward
#: pass, `refine_pixel_evaluations`), and its even spacing and set-up per working pixel; auto's texture checks per
#: working pixel of a pair the flow does not align.
FLOW_SECONDS = 0.23
FLOW_SECONDS_PER_PIXEL = 2.8e-6
RENDER_SECONDS_PER_PIXEL = 1.7e-7
FRAME_IO_SECONDS_PER_PIXEL = 1.2e-7
CUT_CHECK_SECONDS = 0.09
VERDICT_SECONDS_PER_PIXEL = 1.4e-7
CLIP_SECONDS = 7.7
REFINE_SECONDS_PER_PIXEL = 7.7e-5
SPACING_SECONDS_PER_PIXEL = 5.5e-3
TEXTURE_CHECKS_SECONDS_PER_PIXEL = 4.4e-5
#: Two images expected to take longer than this are told the frames that take about this long.
LONG_RUN_SECONDS = 3600.0


@dataclass(frozen=True)
class ClipCost:
    """The expected seconds of one pair and of the whole clip (its fixed part, the scene-cut check of its `pairs`
    pairs before they start where `cut_checked`, and the pairs, `workers` at a time), where the flow aligns every
    pair; `most_seconds` where it aligns none (each pair also `texture_seconds`, auto's texture checks)."""

    refine: str
    pair_seconds: float
    pairs: int
    workers: int
    cut_checked: bool = True
    texture_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self._seconds(self.pair_seconds)

    @property
    def most_seconds(self) -> float:
        return self._seconds(self.pair_seconds + self.texture_seconds)

    def _seconds(self, pair: float) -> float:
        checks = CUT_CHECK_SECONDS * self.pairs if self.cut_checked else 0.0
        return CLIP_SECONDS + checks + pair * math.ceil(self.pairs / max(1, self.workers))


def pair_seconds(refine: str, working: tuple[int, int], output: tuple[int, int], frames: int, preset: Any = "fast",
                 steps: int | None = None) -> float:
    """Expected CPU seconds of one pair of `frames` frames (endpoints included) found at `working` (H, W), rendered
    at `output`, followed by `refine` ("none" or "pixels"): auto's flow verdict, its flow, render, and the frames
    it reads (2) and writes (all but its last)."""
    seconds = VERDICT_SECONDS_PER_PIXEL * working[0] * working[1] + flow_seconds(working) + output[0] * output[1] * (
        RENDER_SECONDS_PER_PIXEL * (frames - 2) + FRAME_IO_SECONDS_PER_PIXEL * (frames + 1))
    if refine == "pixels":
        seconds += REFINE_SECONDS_PER_PIXEL * refine_pixel_evaluations(working, frames, preset, steps)
        seconds += SPACING_SECONDS_PER_PIXEL * working[0] * working[1]
    return seconds


def texture_check_seconds(working: tuple[int, int]) -> float:
    """Expected CPU seconds of auto's texture checks of a pair the flow does not align, at the working size (H, W)."""
    return TEXTURE_CHECKS_SECONDS_PER_PIXEL * working[0] * working[1]


def flow_seconds(working: tuple[int, int]) -> float:
    """Expected CPU seconds of the engine's flow at the working size (H, W)."""
    return FLOW_SECONDS + FLOW_SECONDS_PER_PIXEL * working[0] * working[1]


def refine_pixel_evaluations(working: tuple[int, int], frames: int, preset: Any = "fast",
                             steps: int | None = None) -> float:
    """Pixels the pixel refinement evaluates: over the preset's stages, steps x draws x frames x the stage's pixels."""
    from geometry.engine.presets import effective_stages, run_recipe, stage_sizes
    from geometry.engine.problems import GeodesicProblem

    recipe = run_recipe(preset, GeodesicProblem, working, steps=steps)
    stages = effective_stages(recipe.stages, working)
    return float(sum(stage.steps * stage.draws * frames * h * w
                     for stage, (h, w) in zip(stages, stage_sizes(stages, working))))


def clip_cost(refine: str, working: tuple[int, int], output: tuple[int, int], frames: int, pairs: int,
              workers: int = 1, preset: Any = "fast", steps: int | None = None, clip: bool = True,
              motion: str = "auto") -> ClipCost:
    """The expected cost of a clip of `pairs` pairs (see `pair_seconds`), `workers` at a time, with its scene-cut
    check (`clip`; two images have none) and with `motion` "auto" the texture checks of the pairs the flow does not
    align (`ClipCost.most_seconds`); `preset`: a name or a `geometry.engine.presets.Preset` or `Recipe`."""
    textures = texture_check_seconds(working) if motion == "auto" else 0.0
    return ClipCost(refine, pair_seconds(refine, working, output, frames, preset, steps), pairs, workers, clip,
                    textures)


def describe(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def forecast_line(chosen: ClipCost, other: ClipCost) -> str:
    """What the tool prints before a clip starts: the expected time of the mode chosen and of the other one."""
    checks = f", after {describe(CUT_CHECK_SECONDS * chosen.pairs)} of scene-cut checks" if chosen.cut_checked else ""
    most = (f"; up to {describe(chosen.most_seconds)} where the flow does not align the pairs (auto's texture "
            f"checks, {describe(chosen.texture_seconds)} a pair)" if chosen.texture_seconds else "")
    return (f"expected about {describe(chosen.seconds)} for {chosen.pairs} pairs with refine {chosen.refine} "
            f"({describe(chosen.pair_seconds)} a pair, {chosen.workers} at a time{checks}){most}; with --refine "
            f"{other.refine} about {describe(other.seconds)}")


def long_run_line(refine: str, working: tuple[int, int], output: tuple[int, int], frames: int, preset: Any = "fast",
                  steps: int | None = None, frames_option: str = "--frames {}") -> str | None:
    """What the tool prints before a geodesic of two images expected to take longer than `LONG_RUN_SECONDS`: its
    expected time, the most frames (`frames_option`) expected to take no longer than that, and with the pixel
    refinement the time without it; None for a shorter run."""
    def seconds(count: int, mode: str = refine) -> float:
        return clip_cost(mode, working, output, count, 1, 1, preset, steps, clip=False).seconds

    if seconds(frames) <= LONG_RUN_SECONDS:
        return None
    low, high = 2, frames  # seconds(low) <= the bound unless low == 2 (no geodesic); seconds(high) > the bound
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if seconds(middle) <= LONG_RUN_SECONDS else (low, middle)
    ways = [f"use {frames_option.format(low)} (about {describe(seconds(low))})"] if low >= 3 else []
    ways += [f"--refine none (about {describe(seconds(frames, 'none'))})"] if refine == "pixels" else []
    return (f"expected about {describe(seconds(frames))} for {frames} frames with refine {refine}"
            + (f": for less, {' or '.join(ways)}" if ways else ""))
