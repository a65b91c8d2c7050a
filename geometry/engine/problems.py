"""What a run optimises, one object per kind (as plenoptic's synthesis objects): a `BarycenterProblem` (one image
against weighted targets) and a `GeodesicProblem` (the in-between frames of a path between two endpoints).

A problem owns its fixed images and the caller's start images (checked when it is made), says which recipe a run of
it takes at its size (:meth:`Problem.recipe`, the one caller of `geometry.engine.presets.run_recipe` for a run),
takes its `Start` (a motion start, the caller's images or the recipe's own; with its name, images, evaluations and
why it was taken: what the record says of it), composes its free images with the fixed ones for the energy, and says
what it outputs: optimised, unrefined, or cancelled before its start. The optimiser (`geometry.engine.optimize`) and
the runs (`geometry.api`) ask the problem and never branch on its kind; `PROBLEMS` finds the class of a kind name
(a record's ``kind``, the memory check's and the app's).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from elpips.errors import InputError
from geometry.engine import phases, seeds
from geometry.engine.energies import PairEnergy, barycenter_energy, check_form, path_energy
from geometry.engine.inputs import perturbed_copies, prepare_images, resize
from geometry.engine.presets import Preset, Recipe, effective_stages, run_recipe, stage_sizes
from geometry.options import weights_problem
from geometry.paths.motion import MOTION_STARTS, BoundPath, DissolvePath, change_path, flow_store
from geometry.paths.spacing import (
    DRAWS,
    dissolve,
    even_times,
    even_times_evaluations,
    retimed,
    sample_spacing_draws,
)
from geometry.paths.synthesis import STEPS as SYNTHESIS_STEPS

if TYPE_CHECKING:
    from geometry.engine.distances import DistanceFamily
    from geometry.options import RunOptions

#: The reference's projection: free pixels are clipped to [CLIP_LOW, CLIP_HIGH] after every step.
CLIP_LOW, CLIP_HIGH = 1e-5, 1.0 - 1e-5
#: The starts after which refine="auto" skips the refinement: the warp path's, whose middle frames the pixel
#: refinement (and every variant tried) took further from real footage's true frames on PSNR
#: (benchmarks/results/refine-variants.md); the texture change's, whose middle frame the refinement took back
#: towards the superposition (brick->gravel at 64 px: score 0.41 -> 0.50, 120 CPU s more;
#: benchmarks/results/bench_texture_morphs.txt); and the texture start's (a turn or zoom), whose middle frame's
#: texture figures no refinement budget improved while each step costs as much as a tenth of the start
#: (benchmarks/results/bench_texture_budget_64px.txt).
UNREFINED_STARTS = ("warp", "dis", "texture", "change")
#: The texture change's re-timing takes L = distance^(1/RETIME_EXPONENT) along its synthesised frames (distances
#: between frames synthesised apart, not a fine grid, so no exponent is measured; 1 and 1.5 gave times within
#: 0.01 of each other in the prototype: benchmarks/results/texspace_prototype_64px.txt).
RETIME_EXPONENT = 1.0
#: The texture change's re-timing rounds at most, and the max/min of its measured consecutive distances at which
#: it stops: frames synthesised at new times move the distances again, so one round left brick->gravel at 128 px
#: at max/min 1.43 (benchmarks/results/bench_texture_morphs_changes_128px.txt).
CHANGE_ROUNDS, EVEN_ENOUGH = 3, 1.15
#: One frame's synthesis step in network evaluations of the same size, for the spacing phase's share done
#: (app/run_costs.json at 64 px when this was set: 7.7 s per synthesis of 3 frames x 30 steps, 0.0196 s per
#: evaluation of its calibration's draws, 0.608 of full-size ones: `app.forecast.draw_cost`).
SYNTHESIS_STEP_EVALUATIONS = 4.4


def refine_applies(refine: str, taken: str) -> str:
    """What follows a start `taken` ("warp", "dis", "texture", "change", "dissolve", "given", or an init name)
    under the option `refine`: "none" or "pixels"."""
    if refine == "auto":
        return "none" if taken in UNREFINED_STARTS else "pixels"
    return refine


def spacing_draws(sample: Any, seed: int) -> list:
    """The draws a run of `seed` spaces its path on (`GeodesicProblem.even_times`, and the texture change's
    re-timing rounds), by `sample` (the distance's ``sample_draws``): known before the run, so the forecast prices
    the ones it will take (`app.forecast.spacing_draw_cost`)."""
    return sample_spacing_draws(sample, seeds.generator(seeds.spacing_seed(seed)))


@dataclass
class Start:
    """Where a run's optimisation starts, as its record names it.

    name: the start taken: a motion start's ("warp", "dis", "texture", "dissolve"), "given" (the caller's start
    images) or the recipe's init ("noise", "mean", "even"). images: the free images at the output size (None: the
    optimiser makes them from the recipe's init). evaluations: the network evaluations it took (a path's even
    spacing), in full-size equivalents. why: why a motion start took it (None: it was not chosen). details: the
    figures it was chosen on and how its frames were spaced. motion: the motion start asked for ("none": none).
    path, times: a motion start's path and the times of the free images on it. seconds: the time it took.
    refine: what follows it (`refine_applies`: "none" or "pixels").
    """

    name: str
    images: torch.Tensor | None = None
    evaluations: float = 0.0
    why: str | None = None
    details: dict = field(default_factory=dict)
    motion: str = "none"
    path: BoundPath | None = None
    times: torch.Tensor | None = None
    seconds: float = 0.0
    refine: str = "pixels"

    def to_record(self) -> dict:
        """What the record's ``start`` says: the start taken, why, and the figures and spacing."""
        return {"taken": self.name, **({} if self.why is None else {"why": self.why}), **self.details}


class Problem:
    """The free images among fixed ones, the energy over their layout, and the run's start and outputs.

    images = cat([free, fixed])[order]. ``is_path``: the free images are a path's in-between frames (whose outputs
    include the endpoints, whose start images may be all frames, whose init "even" spaces them). ``start``: the
    `Start` taken (None until :meth:`take_start`); ``cancelled``: a cancel stopped the run in its start.
    """

    kind: ClassVar[str]
    is_path: ClassVar[bool]
    #: What a user calls a run of it ("this average", "this geodesic").
    noun: ClassVar[str]

    def __init__(self, fixed: torch.Tensor, free_count: int, order: torch.Tensor, energy: PairEnergy,
                 start_images: Any = None):
        self.fixed, self.free_count, self.order, self.energy = fixed, free_count, order, energy
        self.given = None if start_images is None else self._given(start_images)
        self.start: Start | None = None
        self.cancelled = False

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.fixed.shape[-2:])

    @classmethod
    def recipe_of(cls, preset: Preset, size: tuple[int, int] | None) -> Recipe:
        """The recipe that `preset` gives a problem of this kind at output `size`."""
        raise NotImplementedError

    @classmethod
    def of_result(cls, inputs: torch.Tensor, images: torch.Tensor, weights: Sequence[float] | None,
                  energy: str) -> Problem:
        """The problem whose output `images` are, for the fixed `inputs` (`geometry.api.estimate_energy`)."""
        raise NotImplementedError

    def recipe(self, options: RunOptions) -> Recipe:
        """The recipe this run takes: the options' preset for this kind at this size, steps, draws and init."""
        return run_recipe(options.preset, type(self), self.size, steps=options.steps,
                          draws_per_step=options.draws_per_step, init=options.init)

    def settings(self) -> dict:
        """What the record's settings add for this kind (a barycenter's weights, a path's frames)."""
        raise NotImplementedError

    def compose(self, free: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        return torch.cat([free, fixed])[self.order.to(free.device)]

    def output(self, free: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """What the user gets of the free images: the barycenter alone, or all frames."""
        raise NotImplementedError

    def laid_out(self, images: torch.Tensor) -> torch.Tensor:
        """The images of the energy's layout for output `images` (`geometry.api.estimate_energy`)."""
        raise NotImplementedError

    def mean(self, fixed: torch.Tensor, times: torch.Tensor | None = None) -> torch.Tensor:
        """The exact optimum under squared L2 at the size of `fixed`: the weighted pixel mean, or the cross-dissolve
        (at the inner `times`; default equal times)."""
        raise NotImplementedError

    def initial(self, method: str, fixed: torch.Tensor, generator: torch.Generator,
                times: torch.Tensor | None = None) -> torch.Tensor:
        """Initial free images at the size of `fixed` (CPU).

        "noise": 0.5 + 0.2 N(0, 1), clipped (the reference's); "mean": `mean`; "even": for a path, the
        cross-dissolve at the inner `times` (`geometry.paths.spacing.even_times`), else "mean"; "given": the
        start's images (e.g. another interpolator's frames, to be refined).
        """
        shape = (self.free_count,) + tuple(fixed.shape[1:])
        if method == "given":
            if self.start is None or self.start.images is None:
                raise InputError("init 'given' needs start images")
            start = resize(self.start.images, tuple(fixed.shape[-2:]))
        elif method == "noise":
            start = 0.5 + 0.2 * torch.randn(shape, generator=generator)
        elif method in ("mean", "even"):
            start = self.mean(fixed, times)
        else:
            raise InputError(f"unknown init {method!r}: use 'noise', 'mean', 'even' or start images")
        return start.clamp(CLIP_LOW, CLIP_HIGH)

    def takes_motion(self, options: RunOptions, recipe: Recipe) -> bool:
        """Whether the run takes a motion start: not after start images or an init given, nor from a recipe that
        starts from noise (the authors')."""
        return self.given is None and options.init is None and recipe.init != "noise"

    def take_start(self, options: RunOptions, recipe: Recipe, family: DistanceFamily, device: torch.device,
                   cancel: threading.Event | None, checkpoint: Any) -> Start:
        """Take the run's start (`start`): the motion start's frames (`geometry.paths.motion`), the caller's images
        or the recipe's init; `cancelled` when a cancel stopped the motion start. Reports the refinement that
        follows it (`geometry.engine.phases`)."""
        motion = options.motion if self.takes_motion(options, recipe) else "none"
        if motion == "none":
            name = "given" if self.given is not None else recipe.init
            self.start = Start(name, self.given, refine=self._follows(options, recipe, name))
            return self.start
        began = time.perf_counter()
        self.start = self._motion_start(options, recipe, family, device, cancel, checkpoint)
        self.start.seconds = time.perf_counter() - began
        return self.start

    @staticmethod
    def _follows(options: RunOptions, recipe: Recipe, taken: str) -> str:
        """What follows the start `taken` under the options' refine ("none" or "pixels"), reported as the phase
        "refinement" with the steps it takes."""
        refine = refine_applies(options.refine, taken)
        phases.report("refinement", taken=taken, steps=recipe.steps if refine == "pixels" else 0)
        return refine

    def _motion_start(self, options: RunOptions, recipe: Recipe, family: DistanceFamily, device: torch.device,
                      cancel: threading.Event | None, checkpoint: Any) -> Start:
        a, b = self.fixed[0:1], self.fixed[1:2]
        store = flow_store(checkpoint, a, b, options.motion)
        decision: dict = {}
        try:
            path = MOTION_STARTS[options.motion](a, b, cancel=cancel, store=store, decision=decision)
            if path is None:
                self.cancelled = True
                return Start("none", motion=options.motion)
            refine = self._follows(options, recipe, decision["taken"])
            start = Start(decision.pop("taken"), why=decision.pop("why"), details=decision, motion=options.motion,
                          path=path, refine=refine)
            start.times = self._motion_times(start, refine, options.seed, recipe, family, device, cancel)
            if start.times is None:
                self.cancelled = True
                return start
            start.images = start.path(start.times)
            return start
        except Exception:  # a run that fails leaves no flow file of its own behind (another run's stays)
            if store.owned:
                store.discard()
            raise

    def _motion_times(self, start: Start, refine: str, seed: int, recipe: Recipe, family: DistanceFamily,
                      device: torch.device, cancel: threading.Event | None) -> torch.Tensor | None:
        """The times of the free images on the motion start's path (None: cancelled while they were found)."""
        raise NotImplementedError

    def first_stage_size(self, recipe: Recipe) -> tuple[int, int]:
        """The image size of the recipe's first stage at the run's output size: where a path's spacing is
        measured."""
        return stage_sizes(effective_stages(recipe.stages, self.size), self.size)[0]

    def unrefined(self, options: RunOptions) -> tuple[torch.Tensor, BoundPath | None, torch.Tensor | None]:
        """(all output images, path, times) of a run with refine "none": its start, or without start images the
        dissolve (the pixel mean) at equal times."""
        raise NotImplementedError

    def cancelled_output(self) -> torch.Tensor:
        """The output of a run cancelled before its first step: the dissolve (or the pixel mean)."""
        raise NotImplementedError

    def record_start(self, recipe: Recipe) -> tuple[Recipe, dict]:
        """The recipe the optimiser runs from the start taken (init "given" when it has images) and what the
        record's settings say of the start: its ``start`` and, for start images, their ``start_sha256``."""
        settings = {"start": self.start.to_record()}
        if self.start.images is None:
            return recipe, settings
        self.start.images = self.start.images.float().clamp(CLIP_LOW, CLIP_HIGH).contiguous()
        return recipe.with_init("given"), {
            **settings, "start_sha256": hashlib.sha256(self.start.images.numpy().tobytes()).hexdigest()}

    def _given(self, images: Any) -> torch.Tensor:
        """The caller's start images for the free images: `free_count` images (for a path also all its frames,
        whose endpoints are dropped), brought to the run's size."""
        start = prepare_images(images, self.size)
        if self.is_path and start.shape[0] == self.free_count + 2:
            start = start[1:-1]
        if start.shape[0] != self.free_count:
            whole = f", or for a geodesic all {self.free_count + 2} frames" if self.is_path else ""
            raise InputError(f"start_images has {start.shape[0]} images; this run optimises {self.free_count} "
                             f"(pass those{whole})", field="start_images")
        return start


def normalised_weights(weights: Sequence[float] | torch.Tensor | None, count: int) -> torch.Tensor:
    """`weights` for `count` images, summing to 1 (None: equal); InputError for invalid ones."""
    if weights is None:
        return torch.full((count,), 1.0 / count)
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    problem = weights_problem(w.tolist(), count)
    if problem is not None:
        raise InputError(problem)
    return (w / w.sum()).float()


class BarycenterProblem(Problem):
    """The image x minimising sum_i w_i f(d(x, y_i)) over weighted targets y_i (`targets`, (N, 3, H, W))."""

    kind = "barycenter"
    is_path = False
    noun = "average"

    def __init__(self, targets: torch.Tensor, weights: Sequence[float] | torch.Tensor | None, energy: str,
                 start_images: Any = None):
        self.weights = normalised_weights(weights, targets.shape[0])
        super().__init__(targets, 1, torch.arange(targets.shape[0] + 1),
                         barycenter_energy(self.weights, check_form(energy)), start_images)

    @classmethod
    def perturbed(cls, image: torch.Tensor, mode: str, count: int, seed: int, energy: str, *, sigma: float = 0.07,
                  max_shift: int = 2, start_images: Any = None) -> BarycenterProblem:
        """The reference's 'bary10': equal weights over `count` copies of `image` ((1, 3, H, W), prepared) perturbed
        by `mode` ("noise" or "shift", `geometry.engine.inputs.perturbed_copies`), drawn from the run's perturbation
        stream (`seeds.perturbation_seed` of `seed`): the same copies for the same seed."""
        if count < 1:
            raise InputError(f"count must be >= 1, got {count}", field="count")
        generator = seeds.generator(seeds.perturbation_seed(seed))
        return cls(perturbed_copies(image, mode, count, generator, sigma, max_shift), None, energy, start_images)

    @classmethod
    def recipe_of(cls, preset: Preset, size: tuple[int, int] | None) -> Recipe:
        return preset.average

    @classmethod
    def of_result(cls, inputs, images, weights, energy) -> BarycenterProblem:
        return cls(inputs, weights, energy)

    def settings(self) -> dict:
        return {"weights": self.weights.tolist()}

    def output(self, free: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        return free

    def laid_out(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([images[:1], self.fixed])

    def mean(self, fixed: torch.Tensor, times: torch.Tensor | None = None) -> torch.Tensor:
        return (self.weights.view(-1, 1, 1, 1) * fixed).sum(0, keepdim=True)

    def takes_motion(self, options: RunOptions, recipe: Recipe) -> bool:
        """A barycenter of other than two images takes no motion start."""
        return self.fixed.shape[0] == 2 and super().takes_motion(options, recipe)

    def _motion_times(self, start, refine, seed, recipe, family, device, cancel) -> torch.Tensor:
        """A two-image barycenter's frame at time w_b."""
        return self._second_weight()

    def _second_weight(self) -> torch.Tensor:
        return torch.tensor([float(self.weights[1])], dtype=torch.float64)

    def unrefined(self, options: RunOptions) -> tuple[torch.Tensor, BoundPath | None, torch.Tensor | None]:
        if self.start.images is not None:
            return self.start.images, self.start.path, self.start.times
        if self.fixed.shape[0] != 2:  # no path between the targets: their pixel mean
            return self.mean(self.fixed), None, None
        path, times = BoundPath(DissolvePath(), self.fixed[0:1], self.fixed[1:2]), self._second_weight()
        return path(times), path, times

    def cancelled_output(self) -> torch.Tensor:
        return self.mean(self.fixed)


class GeodesicProblem(Problem):
    """A discrete geodesic between `ends` ((2, 3, H, W)) with `frames` frames, both endpoints included: the
    in-between frames minimising sum_i f(d(x_i, x_{i+1}))."""

    kind = "geodesic"
    is_path = True
    noun = "geodesic"

    def __init__(self, ends: torch.Tensor, frames: int, energy: str, start_images: Any = None):
        free = int(frames) - 2
        order = torch.cat([torch.tensor([free]), torch.arange(free), torch.tensor([free + 1])])
        super().__init__(ends, free, order, path_energy(int(frames), check_form(energy)), start_images)

    @classmethod
    def recipe_of(cls, preset: Preset, size: tuple[int, int] | None) -> Recipe:
        return preset.path(size)

    @classmethod
    def of_result(cls, inputs, images, weights, energy) -> GeodesicProblem:
        return cls(inputs, images.shape[0], energy)

    def settings(self) -> dict:
        return {"frames": self.free_count + 2}

    def output(self, free: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        return self.compose(free, fixed)

    def laid_out(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def mean(self, fixed: torch.Tensor, times: torch.Tensor | None = None) -> torch.Tensor:
        if times is None:
            times = torch.arange(1, self.free_count + 1, dtype=torch.float64) / (self.free_count + 1)
        return dissolve(fixed[0:1], fixed[1:2], times)

    def even_times(self, family: DistanceFamily, size: tuple[int, int], seed: int, device: torch.device,
                   cancel: threading.Event | None, path: BoundPath | None = None) -> torch.Tensor | None:
        """The inner times at which the frames of `path` (default: the dissolve) are equally far apart under the
        distance at `size` (`geometry.paths.spacing.even_times`); None when cancelled."""
        return even_times(self.fixed[0:1], self.fixed[1:2], self.free_count, family.at_size(size),
                          seeds.generator(seeds.spacing_seed(seed)), size=size, device=device, path=path,
                          cancel=cancel)

    def spacing_evaluations(self, size: tuple[int, int]) -> float:
        """Network evaluations of `even_times` measured at `size`, in full-size equivalents."""
        return even_times_evaluations(self.free_count) * size[0] * size[1] / (self.size[0] * self.size[1])

    def _motion_times(self, start, refine, seed, recipe, family, device, cancel) -> torch.Tensor | None:
        """Times spaced evenly under the distance along the path, or equal times where the start's frames are
        kept as they are (a warp path not refined moves at constant speed, as footage does)."""
        if refine == "none" and start.name not in ("texture", "change"):
            start.details["spacing"] = "equal times"
            return self._equal_times()
        start.details["spacing"] = "even"
        first_size = self.first_stage_size(recipe)
        if start.name == "change":
            return self._change_times(start, seed, first_size, family, device, cancel)
        times = self.even_times(family, first_size, seed, device, cancel, path=start.path)
        if times is not None:
            start.evaluations = self.spacing_evaluations(first_size)
        return times

    def _change_times(self, start: Start, seed: int, first_size: tuple[int, int], family: DistanceFamily,
                      device: torch.device, cancel: threading.Event | None) -> torch.Tensor | None:
        """The texture change's times, with its path (``start.path``) synthesised at them: times spaced evenly
        along the start's path (its frames synthesised at fixed knots), every in-between frame synthesised AT its
        time, then rounds at the run's size: the syntheses' consecutive distances re-time them
        (`geometry.paths.spacing.retimed`) and the frames are synthesised afresh at the new times, until the
        distances' max/min is at most EVEN_ENOUGH or CHANGE_ROUNDS rounds are done (a frame synthesised at a new
        time is not the blend the re-timing assumed, so one round can leave a long segment). So each frame is one
        synthesis, not a blend of two, and the segments are even under the run's distance (issue 27;
        benchmarks/results/bench_texture_morphs_changes_*px.txt); the record's start says how many rounds measured
        them (``retiming_rounds``) and the last max/min measured (``retiming_max_over_min``: above EVEN_ENOUGH, the
        frames were synthesised once more after it). All of it is the phase "spacing"
        (`phases.part_of`), each round its share whether or not it runs. None when cancelled."""
        a, b = self.fixed[0:1], self.fixed[1:2]
        pixels = self.size[0] * self.size[1]
        spacing = even_times_evaluations(self.free_count) * first_size[0] * first_size[1] / pixels
        synthesis = SYNTHESIS_STEP_EVALUATIONS * self.free_count * SYNTHESIS_STEPS
        round_evaluations = DRAWS * (self.free_count + 2)
        parts = torch.tensor([spacing, synthesis, *[round_evaluations, synthesis] * CHANGE_ROUNDS], dtype=torch.float64)
        ends = [0.0, *(parts.cumsum(0) / parts.sum()).tolist()]
        with phases.part_of("spacing", ends[0], ends[1]):
            times = self.even_times(family, first_size, seed, device, cancel, path=start.path)
        if times is None:
            return None
        with phases.part_of("spacing", ends[1], ends[2]):
            path = change_path(a, b, times, cancel=cancel)
        if path is None:
            return None
        metric = family.at_size(self.size)
        draws = spacing_draws(metric.sample_draws, seed)
        measured = 0
        for round_ in range(CHANGE_ROUNDS):
            knots = torch.cat([torch.zeros(1, dtype=torch.float64), times, torch.ones(1, dtype=torch.float64)])
            with phases.part_of("spacing", ends[2 + 2 * round_], ends[3 + 2 * round_]):
                retiming = retimed(metric, torch.cat([a, path(times), b]).to(device), knots, draws, RETIME_EXPONENT,
                                   cancel)
            if retiming is None:
                return None
            measured += 1
            start.details.update(retiming_rounds=measured, retiming_max_over_min=round(retiming.spread, 4))
            if retiming.spread <= EVEN_ENOUGH:
                break
            times = retiming.times[1:-1]
            with phases.part_of("spacing", ends[3 + 2 * round_], ends[4 + 2 * round_]):
                path = change_path(a, b, times, cancel=cancel)
            if path is None:
                return None
        start.path = path
        start.evaluations = self.spacing_evaluations(first_size) + measured * round_evaluations
        return times

    def _equal_times(self) -> torch.Tensor:
        return torch.linspace(0, 1, self.free_count + 2, dtype=torch.float64)[1:-1]

    def unrefined(self, options: RunOptions) -> tuple[torch.Tensor, BoundPath | None, torch.Tensor | None]:
        path, times, free = self.start.path, self.start.times, self.start.images
        if free is None:
            path, times = BoundPath(DissolvePath(), self.fixed[0:1], self.fixed[1:2]), self._equal_times()
            free = path(times)
        return torch.cat([self.fixed[0:1], free, self.fixed[1:2]]), path, times

    def cancelled_output(self) -> torch.Tensor:
        times = torch.linspace(0, 1, self.free_count + 2, dtype=torch.float64)
        return dissolve(self.fixed[0:1], self.fixed[1:2], times)


#: The problem class of each kind name (a record's ``kind``).
PROBLEMS: dict[str, type[Problem]] = {problem.kind: problem for problem in (BarycenterProblem, GeodesicProblem)}
