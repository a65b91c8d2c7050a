"""The public geometry API: perceptual averages, barycenters and geodesics under a differentiable distance.

Every function takes images (tensors/arrays accepted by `elpips.as_image_batch`, or paths), brings them
to one size with the `geometry.engine.inputs` policy (centre-crop to the first image's aspect, resize; `size`
sets the short side or (H, W)), optimises with a preset (`geometry.engine.presets`: "fast" by default,
"reference" = the E-LPIPS authors' recipe) and returns a :class:`Result`: CPU images in [0, 1] and a
JSON-serialisable :class:`RunRecord`.

The run settings, a `geometry.options.RunOptions` passed as `options=`, or its fields as keywords (which
replace the fields of `options` when both are given):
  distance: "elpips_vgg" (default), "lpips_vgg", "vgg", "alex", "l2" (mean squared pixel difference), or
      an object with the sample_draws/embed/embedding_distance trio (e.g. an `elpips.Metric`).
  preset: "fast" | "reference" | a `geometry.engine.presets.Preset` or `Recipe`.
  steps: total steps (overrides the preset's).
  seed: 0 to 2**63 - 1; the initialisation and every random draw come from seeded CPU generators.
  device: None/"auto" (cuda when available), "cpu", "cuda", ...   dtype: None, "float32" or "bfloat16" (CUDA autocast).
  checkpoint_every: steps between checkpoints (see `geometry.engine.optimize`).
  draws_per_step: random transformations per step (overrides the preset's).
  energy: "squared" (sum w d^2, the default, as in the paper; docs/geometry.md) or "linear" (sum w d).
  init: the start method, "noise", "mean", "even" (overrides the preset's; "even": a geodesic starts from the
      cross-dissolve with its frames spaced evenly under the distance, `geometry.paths.spacing`).
  motion: the start of a geodesic or a two-image barycenter, "auto" (default), "warp", "dis", "texture",
      "change" or "none" (`geometry.paths.motion`, docs/motion.md, docs/textures.md): the endpoints warped towards
      each other along a flow (the engine's own, or OpenCV's DIS), turned and scaled towards each other for
      textures, or one texture synthesised between two different ones ("auto" picks), then what `refine` says
      (by default only the dissolve is refined; the texture starts are spaced evenly under the distance); "none"
      starts from the cross-dissolve, which keeps what moves a sharpened double exposure. An `init`,
      `start_images`, a recipe that starts from noise (the "reference" preset) or a barycenter of 3+ images takes
      no motion start.
Per call: callback(Progress) after every step; snapshots at `snapshot_steps` (default: the reference's list);
  cancel: threading.Event — the run stops at the next step, status "cancelled"; checkpoint: the resumable
  run's file; start_images: the free images to refine (for a geodesic its free frames, or all frames with the
  endpoints) as a tensor, array, path or list.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from elpips.errors import InputError
from elpips.sampling import SamplingPlan, sample_blocks, standard_error
from geometry.engine.distances import DistanceFamily, resolve_device
from geometry.engine.energies import check_form
from geometry.engine.inputs import prepare_images, resize
from geometry.engine.optimize import Progress, optimize
from geometry.engine.presets import reference_snapshot_steps
from geometry.engine.problems import PROBLEMS, BarycenterProblem, GeodesicProblem, Problem
from geometry.options import RunOptions
from geometry.paths.motion import BoundPath, flow_store
from geometry.paths.render import render_result

RECORD_VERSION = 1


@dataclass
class RunRecord:
    """What a run did. energies: [(step, one-step stochastic energy of the images at that step)], at each
    stage's image size (compare across presets with `estimate_energy`, not with these)."""

    kind: str
    settings: dict
    steps: int
    energies: list
    seconds: float
    status: str                      # "completed" | "cancelled"
    evaluations: float = 0.0         # network image-evaluations, in full-size equivalents (pixels / output pixels)
    version: int = RECORD_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict) -> "RunRecord":
        data = dict(data)
        data["energies"] = [tuple(e) for e in data.get("energies", [])]
        return cls(**data)


@dataclass
class Result:
    images: torch.Tensor             # (M,3,H,W) float [0,1] CPU: the barycenter (M=1) or all frames
    record: RunRecord
    inputs: torch.Tensor = field(repr=False, default=None)  # the prepared fixed images: targets or endpoints
    path: BoundPath | None = field(repr=False, default=None)  # the start's path (None: no motion start)
    times: torch.Tensor | None = field(repr=False, default=None)  # the start's times of the free images
    refined: bool = False            # whether the images were refined beyond the start

    def render(self, endpoints: torch.Tensor) -> torch.Tensor:
        """The images at the size of `endpoints` ((2, 3, H, W): the inputs at that size, e.g. their own,
        `geometry.engine.inputs.prepare_images`): the start's path rendered there (a warp path's flow and
        visibility resampled, the full-size endpoints warped) plus what the refinement changed, resampled; a
        geodesic's first and last frames are the endpoints themselves (`geometry.paths.render.render_result`)."""
        return render_result(self.images, self.inputs, endpoints, PROBLEMS[self.record.kind].is_path,
                             None if self.path is None else self.path.shape, self.times, self.refined)


@dataclass
class EnergyEstimate:
    value: float
    stderr: float
    samples: int
    distances: list                  # per-pair mean distances (barycenter: to each target; geodesic: consecutive)
    distances_stderr: list
    linearised: list = field(repr=False, default_factory=list)  # per-draw terms g_s (see PairEnergy.estimate)

    def minus(self, other: "EnergyEstimate") -> tuple[float, float]:
        """self.value - other.value and its standard error, for two estimates made with the same draws (the
        same `seed` and `samples`): the shared draws' noise cancels, so this is far tighter than either stderr."""
        if len(self.linearised) != len(other.linearised) or len(self.linearised) < 2:
            raise InputError("a paired difference needs two estimates with the same number of draws (>= 2)")
        diff = torch.tensor(self.linearised, dtype=torch.float64) - torch.tensor(other.linearised, dtype=torch.float64)
        return self.value - other.value, (diff.std(unbiased=True) / len(diff) ** 0.5).item()


@dataclass
class Callbacks:
    """What a caller hands a run beside its problem and options: ``progress`` (called with a `Progress` after
    every step), ``cancel`` (set it to stop at the next step), ``checkpoint`` (the file to resume from and save to)
    and ``snapshot_steps`` (the steps whose images `Progress` carries; None: the reference's)."""

    progress: Callable[[Progress], Any] | None = None
    cancel: threading.Event | None = None
    checkpoint: str | os.PathLike | None = None
    snapshot_steps: Sequence[int] | None = None


def solve(problem: Problem, options: RunOptions, callbacks: Callbacks | None = None) -> Result:
    """Run `problem` (a `geometry.engine.problems.BarycenterProblem` or `GeodesicProblem`, its images prepared)
    with `options`: its start (`Problem.take_start`), then the refinement its start calls for, if any.

    What `barycenter` and `geodesic` do once they have prepared their images; the run service calls it with images
    it has prepared itself.

    Args:
        problem: what to optimise, with its fixed images at the run's size and any start images.
        options: the run's `RunOptions` (its ``size`` is the problem's business: the images are prepared already).
        callbacks: progress, cancel, checkpoint and snapshot steps (`Callbacks`; None: none of them).

    Returns:
        A `Result`: the output images (the barycenter, or every frame of the path) and the `RunRecord`, whose
        settings name the start taken and why.

    Example:
        >>> from geometry import BarycenterProblem, RunOptions, solve
        >>> from geometry.engine.inputs import prepare_images
        >>> problem = BarycenterProblem(prepare_images(["a.png", "b.png"], 32), None, "squared")
        >>> solve(problem, RunOptions(distance="l2", steps=10)).images.shape
        torch.Size([1, 3, 32, 32])
    """
    calls = callbacks or Callbacks()
    device = resolve_device(options.device, options.distance if not isinstance(options.distance, str) else None)
    family = DistanceFamily(options.distance, device)
    if options.refine != "none":  # before the start's flow search and any network: a run that cannot refine
        family.check_size(problem.size)
    recipe = problem.recipe(options)
    start = problem.take_start(options, recipe, family, device, calls.cancel, calls.checkpoint)
    settings = {"kind": problem.kind, **problem.settings(), "motion": start.motion}
    if problem.cancelled:  # in its motion start: no step taken
        record = RunRecord(problem.kind, settings, 0, [], start.seconds, "cancelled", 0.0)
        return Result(problem.cancelled_output().clamp(0, 1), record, problem.fixed)
    refine = start.refine
    recipe, start_settings = problem.record_start(recipe)
    settings = {"kind": problem.kind, "distance": family.name, "preset": recipe.name, "recipe": recipe.to_dict(),
                "seed": options.seed, "energy": problem.energy.form, "size": list(problem.size),
                **problem.settings(), "motion": start.motion, "start": start_settings["start"], "refine": refine,
                **({"start_sha256": start_settings["start_sha256"]} if "start_sha256" in start_settings else {})}
    flows = flow_store(calls.checkpoint, problem.fixed[0:1], problem.fixed[1:2], start.motion)
    if refine == "none":
        flows.discard()
        images, path, times = problem.unrefined(options)
        record = RunRecord(problem.kind, {**settings, "device": "cpu", "dtype": options.dtype}, 0, [],
                           start.seconds, "completed", start.evaluations)
        return Result(images.clamp(0, 1), record, problem.fixed, path, times)
    snapshot_steps = calls.snapshot_steps
    if snapshot_steps is None:
        snapshot_steps = reference_snapshot_steps(recipe.steps)
    try:
        images, state, status = optimize(
            problem, family, recipe, seed=options.seed, device=device, settings=settings, callback=calls.progress,
            cancel=calls.cancel, checkpoint=calls.checkpoint, checkpoint_every=options.checkpoint_every,
            snapshot_steps=snapshot_steps, dtype=options.dtype)
    except Exception:  # a run that fails leaves no flow file of its own behind
        flows.discard()
        raise
    record = RunRecord(problem.kind, {**settings, "device": str(device), "dtype": options.dtype}, state.step,
                       [tuple(e) for e in state.energies], state.seconds + start.seconds, status,
                       state.evaluations + start.evaluations)
    if start.motion != "none" and status == "completed":
        flows.discard()
    return Result(images.clamp(0, 1), record, problem.fixed, start.path, start.times, refined=True)


def _run_options(options: RunOptions | None, settings: dict) -> RunOptions:
    """The run's options: `options` with the keyword `settings` applied."""
    init = settings.get("init")
    if init is not None and not isinstance(init, str):
        raise InputError("init names a start method (noise, mean or even): pass start images as start_images=",
                         field="init")
    return RunOptions.build(options, **settings)


def barycenter(images: Any, weights: Sequence[float] | torch.Tensor | None = None, *,
               options: RunOptions | None = None, callback: Callable[[Progress], Any] | None = None,
               cancel: threading.Event | None = None, checkpoint: str | os.PathLike | None = None,
               snapshot_steps: Sequence[int] | None = None, start_images: Any = None, **settings: Any) -> Result:
    """The image x minimising sum_i w_i f(d(x, y_i)) over the pixels of x (docs/geometry.md).

    Weights are normalised to sum to 1 (uniform when None); any count of images, any non-negative weights.
    With energy="squared" (default) f(d) = d^2 as in the reference; "linear" uses f(d) = d (with
    distance="l2" the linear energy's optimum is exactly the weighted pixel mean).
    Inputs are centre-cropped to the first image's aspect ratio and resized (`geometry.engine.inputs`).

    Args:
        images: the targets y_i: paths, arrays or an (N, 3, H, W) tensor in [0, 1].
        weights: one non-negative weight per image (None: equal).
        options: the run's `RunOptions`; keyword `settings` (``distance="l2"``, ``size=64``, ``steps=100``, ...)
            override its fields.
        callback: called with a `Progress` after every step; cancel: set it to stop at the next step.
        checkpoint: a file to resume from and save to; snapshot_steps: the steps whose images `Progress` carries.
        start_images: the start image (None: the start that `init`, the motion or the preset gives).

    Returns:
        A `Result`: ``images`` (1, 3, H, W), ``record`` (a `RunRecord`: energies, steps, the start taken and why).
        InputError (a ValueError) names a bad input or option.

    Example:
        >>> from geometry import barycenter
        >>> result = barycenter(["a.png", "b.png", "c.png"], (1, 2, 1), distance="l2", size=32, steps=20)
        >>> result.images.shape
        torch.Size([1, 3, 32, 32])
    """
    options = _run_options(options, settings)
    problem = BarycenterProblem(prepare_images(images, options.size), weights, options.energy, start_images)
    return solve(problem, options, Callbacks(callback, cancel, checkpoint, snapshot_steps))


def pairwise_average(a: Any, b: Any, **kwargs: Any) -> Result:
    """The perceptual average of two images: `barycenter([a, b], (0.5, 0.5), **kwargs)`; with the default
    motion start its start is the warp path's middle frame (content half-way along its motion).

    Args:
        a, b: the two images (paths, arrays or (1, 3, H, W) tensors in [0, 1]).
        kwargs: those of `barycenter`.

    Returns:
        A `Result` whose ``images`` is the (1, 3, H, W) average.

    Example:
        >>> from geometry import pairwise_average
        >>> pairwise_average("cat.png", "dog.png", size=64).images.shape
        torch.Size([1, 3, 64, 64])
    """
    for name, image in (("a", a), ("b", b)):
        if getattr(image, "ndim", 3) == 4 and image.shape[0] != 1:
            raise InputError(f"pairwise_average takes two single images, and {name} is a batch of {image.shape[0]}: "
                             f"pass one image ({name}[k:k + 1]), or a list of images to barycenter")
    return barycenter([a, b], (0.5, 0.5), **kwargs)


def perturbed_barycenter(image: Any, mode: str = "noise", count: int = 10, *, sigma: float = 0.07,
                         max_shift: int = 2, options: RunOptions | None = None,
                         callback: Callable[[Progress], Any] | None = None, cancel: threading.Event | None = None,
                         checkpoint: str | os.PathLike | None = None, snapshot_steps: Sequence[int] | None = None,
                         start_images: Any = None, **settings: Any) -> Result:
    """The barycenter (equal weights) of `count` perturbed copies of `image` — the reference's bary10.

    The copies are drawn from a generator seeded with the run's `seed` (`BarycenterProblem.perturbed`) and
    returned in `result.inputs`; their pixel mean is the L2 baseline.

    Args:
        image: the one image; mode: "noise" (Gaussian, `sigma`) or "shift" (up to `max_shift` px);
        count: how many copies.
        options, callback, cancel, checkpoint, snapshot_steps, start_images, settings: as for `barycenter`.

    Returns:
        A `Result` with the (1, 3, H, W) barycenter in ``images`` and the copies in ``inputs``.

    Example:
        >>> from geometry import perturbed_barycenter
        >>> perturbed_barycenter("cat.png", "shift", count=4, size=32, steps=10).inputs.shape
        torch.Size([4, 3, 32, 32])
    """
    options = _run_options(options, settings)
    problem = BarycenterProblem.perturbed(prepare_images([image], options.size), mode, count, options.seed,
                                          options.energy, sigma=sigma, max_shift=max_shift, start_images=start_images)
    return solve(problem, options, Callbacks(callback, cancel, checkpoint, snapshot_steps))


def geodesic(a: Any, b: Any, frames: int = 10, *, options: RunOptions | None = None,
             callback: Callable[[Progress], Any] | None = None, cancel: threading.Event | None = None,
             checkpoint: str | os.PathLike | None = None, snapshot_steps: Sequence[int] | None = None,
             start_images: Any = None, **settings: Any) -> Result:
    """A discrete geodesic: frames x_0 = a, x_1..x_{N-1}, x_N = b (`frames` = N + 1 counts both endpoints)
    minimising the path energy sum_i f(d(x_i, x_{i+1})) with the endpoints fixed.

    energy="squared": f(d) = d^2 (the classic discrete path energy; at its minimum the consecutive distances
    are equal); "linear": f(d) = d. Result.images holds all frames including the endpoints.
    The default motion start ("auto") makes content that moves between a and b move along the path and a texture
    that turns or changes scale pass through the in-between ones; from the cross-dissolve (motion="none") the
    optimiser keeps a sharpened double exposure or a plaid (docs/motion.md, docs/textures.md).

    Args:
        a, b: the endpoints (paths, arrays or (1, 3, H, W) tensors in [0, 1]).
        frames: the path's frames, both endpoints included (>= 3).
        options, callback, cancel, checkpoint, snapshot_steps, settings: as for `barycenter`.
        start_images: start frames (the in-between ones, or all of them; None: the start that `init`, the motion
            or the preset gives).

    Returns:
        A `Result`: ``images`` (frames, 3, H, W) from a to b; ``record`` names the start taken and why.

    Example:
        >>> from geometry import geodesic
        >>> geodesic("a.png", "b.png", frames=5, size=48, steps=30).images.shape
        torch.Size([5, 3, 48, 48])
    """
    if int(frames) < 3:
        raise InputError(f"frames counts both endpoints and must be >= 3 to have a frame to optimise, got {frames}")
    options = _run_options(options, settings)
    ends = prepare_images([a, b], options.size)
    if ends.shape[0] != 2:
        raise InputError(f"geodesic needs exactly two endpoint images, got {ends.shape[0]}")
    problem = GeodesicProblem(ends, int(frames), options.energy, start_images)
    return solve(problem, options, Callbacks(callback, cancel, checkpoint, snapshot_steps))


def estimate_energy(result: Result | None = None, *, images: torch.Tensor | None = None, distance: str | Any = None,
                    samples: int = 256, seed: int = 12345, batch: int = 16, device: str | torch.device | None = None,
                    kind: str | None = None, inputs: torch.Tensor | None = None, weights: Sequence[float] | None = None,
                    energy: str | None = None) -> EnergyEstimate:
    """The energy of a result (or of `images` with explicit kind/inputs/weights) estimated with `samples` fixed
    draws (a generator seeded with `seed`, so two results compared with the same seed see the same draws),
    with its standard error (delta method over the draws; see `PairEnergy.estimate`).

    The energy is evaluated at the inputs' size with the distance of the run unless `distance` is given.

    Args:
        result: a run's `Result` (or None, with `images`, `kind`, `inputs` and for a barycenter `weights`).
        distance: the distance to evaluate under (None: the run's); samples, batch: the draws and their blocks;
        seed: the draws' generator seed; device: where to evaluate; energy: "squared" or "linear" (None: the run's).

    Returns:
        An `EnergyEstimate`: the value, its standard error, and each pair's mean distance.

    Example:
        >>> from geometry import barycenter, estimate_energy
        >>> result = barycenter(["a.png", "b.png"], distance="l2", size=32, steps=10)
        >>> estimate_energy(result, samples=8).samples
        8
    """
    if result is not None:
        settings = result.record.settings
        images = result.images if images is None else images
        kind = kind or result.record.kind
        inputs = result.inputs if inputs is None else inputs
        weights = settings.get("weights") if weights is None else weights
        energy = energy or settings.get("energy", "squared")
        if distance is None:
            distance = settings["distance"]
            if distance == "<custom>":
                raise InputError("this run used a custom distance object: pass it as distance=")
    if images is None or inputs is None or kind not in PROBLEMS:
        raise InputError("pass a Result, or images with kind ('barycenter'|'geodesic') and inputs")
    energy = check_form(energy or "squared")
    distance = "elpips_vgg" if distance is None else distance
    device = resolve_device(device, distance if not isinstance(distance, str) else None)
    family = DistanceFamily(distance, device)
    size = tuple(inputs.shape[-2:])
    images = resize(images.float(), size)
    problem = PROBLEMS[kind].of_result(inputs, images, weights, energy)
    metric = family.at_size(size)
    pair_energy = problem.energy.to(device)
    all_images = problem.laid_out(images).to(device)
    generator = torch.Generator().manual_seed(int(seed))
    plan = SamplingPlan(max_samples=int(samples), block=int(batch), stratified=False)  # any distance: independent
    with torch.no_grad():
        per_draw = torch.cat(list(sample_blocks(
            lambda count, _: pair_energy.pair_distances(metric, all_images, metric.sample_draws(count, generator))
            .double().cpu(), plan)))
    value, linearised = pair_energy.estimate(per_draw)
    n = per_draw.shape[0]
    if n > 1:
        stderr = standard_error(linearised, plan.error_block).item()
        spread = standard_error(per_draw, plan.error_block)
    else:
        stderr, spread = float("nan"), torch.full((per_draw.shape[1],), float("nan"))
    return EnergyEstimate(value, stderr, n, per_draw.mean(0).tolist(), spread.tolist(), linearised.tolist())
