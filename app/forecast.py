"""Run-time forecasts of the Average and Geodesic tabs, from a stored cost model of the engine: an answer in
well under a second, before a run and without running anything.

A run goes through phases (`geometry.engine.phases`): the loading of the distance's network (the first run of a
distance after the server started: `RunShape.network_loaded`), the motion start's flow search, auto's texture checks
(where the flow does not align the pair), the texture change's synthesis, the even spacing of a path's frames (for
the texture change also its frames synthesised at their times, re-timed in rounds until they are even enough), the
refinement's optimisation steps, the render of the frames with the movies. Which of them run depends on the start:
after a warp start a path is kept as it is (`geometry.engine.problems.refine_applies`), so the refinement takes no
step, and so after the texture starts (a turn or zoom, spaced evenly; a texture change). "auto" searches the flow
first and takes the warp start where the flow aligns the pair; elsewhere its texture checks decide between the
texture start, the warp start, the texture change and the dissolve (`geometry.paths.motion.auto_start`). A
forecast therefore lists its `Branch`es: one, or for "auto" one per start in the order auto decides.

The cost of each phase comes from ``run_costs.json`` beside this module, measured by benchmarks/bench_run_costs.py
in CPU seconds of one thread (what a phase costs on a quiet core) at a few sizes, as (units, seconds) points,
interpolated between them (the flow, the texture checks and the synthesis: working pixels; a step:
draws x images x pixels of its stage; the spacing: seconds per forward evaluation of a full-size draw by its
pixels, scaled by what the draws the run will take cost, `spacing_draw_cost`; the render: pixels of all frames),
and the loading of each network in a fresh process. Every finished run refreshes it (`CostBook.refresh`): the
ratio of the wall-clock time each phase took to the model's enters a moving average per device and phase, kept in
the app's output folder (``LEARNED_NAME``), so that the next estimate is this machine's, with its threads and its
load. The flow search, the texture checks, the synthesis and the render run on the CPU whatever the device; the
loading, the spacing and the steps on another device have no scale until a run has finished there
(`CostBook.seconds` is None: the app then says so, with the CPU's time beside it).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Mapping

from elpips.io import atomic_write
from elpips.memory import network_input
from elpips.transforms import sample_draws
from geometry.engine.distances import DistanceFamily
from geometry.engine.presets import Stage, effective_stages, run_recipe, stage_sizes
from geometry.engine.problems import CHANGE_ROUNDS, PROBLEMS, spacing_draws
from geometry.paths.motion import CHANGE_MIN_SIDE
from geometry.paths.spacing import DRAWS, even_times_evaluations
from geometry.paths.synthesis import KNOTS

log = logging.getLogger(__name__)

COSTS_FILE = Path(__file__).with_name("run_costs.json")
#: What finished runs measured, in the app's output folder: device -> phase -> measured over model seconds.
LEARNED_NAME = "app_run_costs.json"
#: Weight of a finished run's ratio in the moving average.
RUN_WEIGHT = 0.5
#: Re-timing rounds the texture change's spacing is expected to measure (`Leg.seconds`; at most CHANGE_ROUNDS:
#: `Leg.most`): of the change runs at 64 px (the app's size on a CPU) one stopped after 1, two after 2, two took 3;
#: at 32 px all took 3 (benchmarks/results/bench_app_forecast.txt).
EXPECTED_CHANGE_ROUNDS = 2
#: The phases that run on the CPU whatever the device (`geometry.paths.flows`, `geometry.service.video`).
CPU_PHASES = ("flow search", "texture checks", "synthesis", "render")


@dataclass(frozen=True)
class Plan:
    """The stages a run will execute at its output size."""

    stages: tuple[Stage, ...]
    sizes: tuple[tuple[int, int], ...]
    size: tuple[int, int]

    @property
    def total_steps(self) -> int:
        return sum(stage.steps for stage in self.stages)


def plan_run(preset, kind: str, steps: int | None, size: tuple[int, int]) -> Plan:
    """The stages of `preset` for a run of `kind` (rescaled to `steps` in total if given) for outputs of `size`."""
    recipe = run_recipe(preset, PROBLEMS[kind], tuple(size), steps=steps or None)
    stages = effective_stages(recipe.stages, size)
    return Plan(tuple(stages), tuple(stage_sizes(stages, size)), tuple(size))


def snapshot_steps(total_steps: int, count: int = 30) -> list[int]:
    """About `count` evenly spaced steps (and step 0) at which the engine sends the current images."""
    every = max(1, total_steps // count)
    return sorted(set(range(0, total_steps + 1, every)) | {total_steps})


def draw_cost(config: Any, size: tuple[int, int], draws: list) -> float:
    """The mean cost of single `draws` of a metric of `config` on images of `size`, relative to full-size ones: a
    draw evaluates the network on the images downscaled by its scale level s (`elpips.memory.network_input`), about
    1/s^2 of the pixels, and single draws are not stratified, so what the DRAWS of a spacing cost varies from one
    seed to another (benchmarks/results/bench_app_forecast.txt). 1 for a distance without random transformations
    (`config` None, or its transforms)."""
    if config is None or config.transforms is None:
        return 1.0
    pixels = [math.prod(network_input(config, *size, int(draw.scale[0]))) for draw in draws]
    return sum(pixels) / (len(draws) * math.prod(network_input(config, *size)))


def spacing_draw_cost(distance: str, size: tuple[int, int], seed: int) -> float:
    """`draw_cost` of the draws a run of `seed` spaces its path on at `size` (`geometry.engine.problems.spacing_draws`,
    with the config the run's metric has there), sampled without loading the network."""
    config = DistanceFamily(distance, "cpu").config_at_size(size)
    if config is None or config.transforms is None:
        return 1.0
    return draw_cost(config, size, spacing_draws(partial(sample_draws, config.transforms), seed))


@dataclass(frozen=True)
class RunShape:
    """What a run's cost depends on: its kind ("barycenter" or "geodesic"), distance, the stages of its `plan`
    (whose size is the working size), `images` (a path's frames, or an average's inputs), motion start, and
    whether this process has the distance's network loaded already (`geometry.engine.distances.is_loaded`), and its
    `seed` (which draws its spacing takes: `spacing_draw_cost`)."""

    kind: str
    distance: str
    plan: Plan
    images: int
    motion: str
    network_loaded: bool = True
    seed: int = 0

    @property
    def is_path(self) -> bool:
        """Whether the run's problem is a path (`geometry.engine.problems.Problem.is_path`)."""
        return PROBLEMS[self.kind].is_path

    @property
    def images_per_draw(self) -> int:
        """Images the network evaluates per draw of a step: every frame of a path; the average and its inputs."""
        return self.images if self.is_path else self.images + 1

    @property
    def motion_applies(self) -> bool:
        return self.motion != "none" and (self.is_path or self.images == 2)


@dataclass(frozen=True)
class Leg:
    """One phase of a run: its model seconds (before the device's learned scale) and, for the refinement, its
    steps, and the steps and model seconds per step of each stage; `most`: the model seconds where the phase
    repeats a part until it is good enough (the texture change's re-timing rounds), with every repetition (None:
    `seconds`)."""

    phase: str
    seconds: float
    steps: int = 0
    stage_steps: tuple[int, ...] = ()
    step_seconds: tuple[float, ...] = ()
    most: float | None = None


@dataclass(frozen=True)
class Branch:
    """The phases a run goes through after one kind of start; `when` says which (empty: the only branch), `start`
    the start a run's record names for it (empty: any)."""

    when: str
    legs: tuple[Leg, ...]
    start: str = ""

    @property
    def steps(self) -> int:
        return sum(leg.steps for leg in self.legs)


class CostBook:
    """The stored cost model (`COSTS_FILE`) and what finished runs measured on this machine (`LEARNED_NAME` in
    `folder`; None: nothing kept)."""

    def __init__(self, model: Mapping, folder: Path | None = None):
        self.model = model
        self.path = None if folder is None else Path(folder) / LEARNED_NAME
        self._lock = threading.Lock()
        self.learned: dict[str, dict[str, float]] = {}
        if self.path is not None and self.path.exists():
            try:
                self.learned = json.loads(self.path.read_text())["scales"]
            except (OSError, ValueError, KeyError) as error:  # a damaged file costs its refinements, not the app
                log.warning("%s is unreadable (%s): estimates start from the stored model", self.path, error)

    @classmethod
    def load(cls, folder: Path | None = None) -> "CostBook":
        return cls(json.loads(COSTS_FILE.read_text()), folder)

    def knows(self, distance: str) -> bool:
        return distance in self.model["step"]

    # ---------------------------------------------------------------- the model's seconds

    def _fit(self, part: Mapping, units: float) -> float:
        """Seconds at `units` from the measured (units, seconds) `points`: piecewise linear between them, the end
        segments continued beyond (never below the nearest point's seconds: small sizes are mostly overhead)."""
        points = sorted(part["points"])
        if len(points) == 1 or units <= points[0][0]:
            return points[0][1]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if units <= x1:
                return y0 + (y1 - y0) * (units - x0) / (x1 - x0)
        (x0, y0), (x1, y1) = points[-2], points[-1]
        return y1 + max(0.0, (y1 - y0) / (x1 - x0)) * (units - x1)

    def branches(self, shape: RunShape) -> list[Branch]:
        """The phases of a run of `shape` after each start it may take; for "auto" in the order it decides
        (`geometry.paths.motion.auto_start`), which puts the likeliest first (the warp start, which the bundled
        examples and real footage take): the flow search on every pair; where the flow aligns the pair the warp
        start; elsewhere, for pairs of CHANGE_MIN_SIDE px or more, the texture checks (for two stationary textures
        also the turn-and-zoom detection), then the texture start, the warp start, the texture change or the
        dissolve."""
        height, width = shape.plan.size
        pixels = height * width
        loading = () if shape.network_loaded or shape.distance not in self.model.get("loading", {}) else (
            Leg("loading", self.model["loading"][shape.distance]),)
        flow = Leg("flow search", self._fit(self.model["flow"], pixels))
        stationarity = self._fit(self.model["stationarity"], pixels)
        detection = self._fit(self.model["detection"], pixels)
        checks = Leg("texture checks", stationarity + detection)  # two stationary textures: both
        unlike = Leg("texture checks", stationarity)  # the detection runs only for two stationary textures
        synthesis = Leg("synthesis", self._fit(self.model["synthesis"], pixels))
        spacing = (self._spacing(shape),) if shape.is_path else ()
        refined = (*spacing, self._refinement(shape))
        render = (Leg("render", self._fit(self.model["render"], shape.images * pixels)),) if shape.is_path else ()
        if not shape.motion_applies:
            return [Branch("", (*loading, *refined, *render))]
        warp = (*loading, flow, *render)
        if shape.motion in ("warp", "dis"):
            return [Branch("", warp)]
        # the texture starts are kept as they are (`geometry.engine.problems.UNREFINED_STARTS`), a path's spaced evenly
        if shape.motion == "texture":
            return [Branch("", (*loading, Leg("texture checks", detection), *spacing, *render))]
        changed = (synthesis, self._change_spacing(shape)) if shape.is_path else (synthesis,)
        if shape.motion == "change":
            return [Branch("", (*loading, *changed, *render))]
        if min(height, width) < CHANGE_MIN_SIDE:  # too small for the texture checks: the flow alone decides
            return [Branch("if the engine's flow explains the pair (the warp start, kept as it is)", warp, "warp"),
                    Branch("if not (the dissolve, refined)", (*loading, flow, *refined, *render), "dissolve")]
        return [
            Branch("if the engine's flow aligns the pair (the warp start, kept as it is; no texture check)", warp,
                   "warp"),
            Branch("if not, and the two are one texture turned or zoomed (the texture start, kept as it is)",
                   (*loading, flow, checks, *spacing, *render), "texture"),
            Branch("if not, and the flow explains the pair (the warp start, kept as it is)",
                   (*loading, flow, unlike, *render), "warp"),
            Branch("if not, and the two are stationary textures (the texture change: synthesised, kept as it is)",
                   (*loading, flow, checks, *changed, *render), "change"),
            Branch("if not (the dissolve, refined)", (*loading, flow, unlike, *refined, *render), "dissolve")]

    def _spacing(self, shape: RunShape) -> Leg:
        """The even spacing at the first stage's size: its evaluations at the cost of the draws the run takes."""
        size = shape.plan.sizes[0] if shape.plan.sizes else shape.plan.size
        evaluations = even_times_evaluations(shape.images - 2)
        return Leg("spacing", evaluations * self._evaluation(shape, size))

    def _evaluation(self, shape: RunShape, size: tuple[int, int]) -> float:
        """Seconds of one of the spacing's evaluations at `size` under the run's draws: the model's are of full-size
        draws (benchmarks/bench_run_costs.py), the run's cost `spacing_draw_cost` of them."""
        full = self._fit(self.model["spacing"][shape.distance], size[0] * size[1])
        return full * spacing_draw_cost(shape.distance, tuple(size), shape.seed)

    def _change_spacing(self, shape: RunShape) -> Leg:
        """The texture change's spacing (`geometry.engine.problems.GeodesicProblem`): the even spacing, its
        in-between frames synthesised at their times (each synthesis as the start's of len(KNOTS) frames, scaled to
        the frames), then re-timing rounds at the output size (DRAWS evaluations of every frame) until the frames
        are even enough, each round that finds them uneven followed by the frames synthesised afresh: `seconds`
        with EXPECTED_CHANGE_ROUNDS rounds, `most` with all CHANGE_ROUNDS uneven (one synthesis more than rounds)."""
        height, width = shape.plan.size
        synthesis = self._fit(self.model["synthesis"], height * width) * (shape.images - 2) / len(KNOTS)
        retiming = DRAWS * shape.images * self._evaluation(shape, shape.plan.size)
        even = self._spacing(shape).seconds

        def with_rounds(rounds: int) -> float:
            """`rounds` measured: the last found the frames even (rounds syntheses), or all were uneven (one more)."""
            syntheses = rounds if rounds < CHANGE_ROUNDS else CHANGE_ROUNDS + 1
            return even + syntheses * synthesis + rounds * retiming

        return Leg("spacing", with_rounds(EXPECTED_CHANGE_ROUNDS), most=with_rounds(CHANGE_ROUNDS))

    def _refinement(self, shape: RunShape) -> Leg:
        part = self.model["step"][shape.distance]
        per_step = tuple(self._fit(part, stage.draws * shape.images_per_draw * height * width)
                         for stage, (height, width) in zip(shape.plan.stages, shape.plan.sizes))
        seconds = sum(stage.steps * each for stage, each in zip(shape.plan.stages, per_step))
        return Leg("refinement", seconds, shape.plan.total_steps, tuple(stage.steps for stage in shape.plan.stages),
                   per_step)

    # ---------------------------------------------------------------- this machine's scale

    def scale(self, device: str, phase: str) -> float | None:
        """Measured over model seconds of `phase` on `device` ("cpu", "cuda", ...): what finished runs measured,
        1 for the CPU before any, None where nothing tells it (the network's phases on another device)."""
        device = "cpu" if phase in CPU_PHASES else device
        with self._lock:
            learned = self.learned.get(device, {}).get(phase)
        return learned if learned is not None else (1.0 if device == "cpu" else None)

    def seconds(self, branch: Branch, device: str, most: bool = False) -> float | None:
        """The expected seconds of `branch` on `device` (`most`: with every repetition, `Leg.most`); None when a
        phase's scale there is not known yet."""
        total = 0.0
        for leg in branch.legs:
            scale = self.scale(device, leg.phase)
            if scale is None:
                return None
            total += (leg.most if most and leg.most is not None else leg.seconds) * scale
        return total

    def refresh(self, device: str, measured: Mapping[str, tuple[float, float]]) -> None:
        """Take a finished run's phases, {phase: (seconds taken, model seconds)}, into account, and keep them."""
        with self._lock:
            for phase, (taken, model) in measured.items():
                if model <= 0 or taken <= 0:
                    continue
                where = self.learned.setdefault("cpu" if phase in CPU_PHASES else device, {})
                ratio = min(100.0, max(0.01, taken / model))
                old = where.get(phase)
                where[phase] = ratio if old is None else (1 - RUN_WEIGHT) * old + RUN_WEIGHT * ratio
            learned = json.dumps({"scales": self.learned}, indent=1)
        if self.path is not None:
            try:
                with atomic_write(self.path) as tmp:
                    Path(tmp).write_text(learned + "\n")
            except OSError as error:  # the estimate keeps what it learned in memory
                log.warning("could not keep the measured run costs in %s: %s", self.path, error)
