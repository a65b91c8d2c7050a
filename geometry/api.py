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
      textures, or one texture synthesised between two different ones ("auto" picks), spaced evenly under the
      distance, then refined; "none" starts from the cross-dissolve, which keeps what moves a sharpened double
      exposure. An `init`, `start_images`, a recipe that starts from noise (the "reference" preset) or a
      barycenter of 3+ images takes no motion start.
Per call: callback(Progress) after every step; snapshots at `snapshot_steps` (default: the reference's list);
  cancel: threading.Event — the run stops at the next step, status "cancelled"; checkpoint: the resumable
  run's file; start_images: the free images to refine (for a geodesic its free frames, or all frames with the
  endpoints) as a tensor, array, path or list.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from elpips.errors import InputError
from elpips.sampling import SamplingPlan, sample_blocks, standard_error
from geometry.engine import phases, seeds
from geometry.engine.distances import DistanceFamily, resolve_device
from geometry.engine.energies import barycenter_energy, check_form, path_energy
from geometry.engine.inputs import prepare_images, resize
from geometry.engine.optimize import CLIP_HIGH, CLIP_LOW, Problem, Progress, effective_stages, optimize, stage_sizes
from geometry.engine.presets import Recipe, reference_snapshot_steps, run_recipe
from geometry.options import OPTION_NAMES, RunOptions, weights_problem
from geometry.paths.motion import MOTION_STARTS, BoundPath, DissolvePath, flow_store
from geometry.paths.render import render_result
from geometry.paths.spacing import dissolve, even_times, even_times_evaluations

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
        return render_result(self.images, self.inputs, endpoints, self.record.kind == "geodesic",
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


def _problem_settings(kind: str, fixed: torch.Tensor, family: DistanceFamily, recipe: Recipe, seed: int,
                      energy: str, extra: dict) -> dict:
    return {"kind": kind, "distance": family.name, "preset": recipe.name, "recipe": recipe.to_dict(),
            "seed": seed, "energy": energy, "size": list(fixed.shape[-2:]), **extra}


def _run(kind: str, fixed: torch.Tensor, free_count: int, order: torch.Tensor, pair_energy, weights,
         extra: dict, options: RunOptions, start: Any, callback, cancel, checkpoint, snapshot_steps) -> Result:
    device = resolve_device(options.device, options.distance if not isinstance(options.distance, str) else None)
    family = DistanceFamily(options.distance, device)
    if options.refine != "none":  # before the start's flow search and any network: a run that cannot refine
        family.check_size(tuple(fixed.shape[-2:]))
    recipe = run_recipe(options.preset, kind, tuple(fixed.shape[-2:]), steps=options.steps,
                        draws_per_step=options.draws_per_step, init=options.init)
    motion = _motion_applies(kind, fixed, options, recipe, start)
    motion_seconds, path, times, decision = 0.0, None, None, {}
    extra = {**extra, "motion": motion}
    if motion != "none":
        began = time.perf_counter()
        started = _motion_start(kind, fixed, free_count, weights, options, family, recipe, device, cancel,
                                checkpoint, decision)
        motion_seconds = time.perf_counter() - began
        if started is None:
            return _cancelled_before_start(kind, fixed, free_count, weights, extra, motion_seconds)
        start, path, times = started
    refine = refine_applies(options.refine, decision.get("taken", "none" if start is None else "given"))
    if motion == "none":  # a motion start reported it when it was taken
        phases.report("refinement", taken="given" if start is not None else recipe.init,
                      steps=recipe.steps if refine == "pixels" else 0)
    extra = {**extra, "start": decision or {"taken": "given" if start is not None else recipe.init},
             "refine": refine}
    if start is not None:
        start = _start_images(start, free_count, tuple(fixed.shape[-2:]), path=kind == "geodesic")
        recipe = recipe.with_init("given")
        extra = {**extra, "start_sha256": hashlib.sha256(start.numpy().tobytes()).hexdigest()}
    if refine == "none":
        flow_store(checkpoint, fixed[0:1], fixed[1:2], motion).discard()
        return _unrefined(kind, fixed, free_count, weights, family, recipe, options, start, extra, path, times,
                          motion_seconds)
    if snapshot_steps is None:
        snapshot_steps = reference_snapshot_steps(recipe.steps)
    settings = _problem_settings(kind, fixed, family, recipe, options.seed, pair_energy.form, extra)
    problem = Problem(kind, fixed, free_count, order, pair_energy, weights, start)
    try:
        images, state, status = optimize(
            problem, family, recipe, seed=options.seed, device=device, settings=settings, callback=callback,
            cancel=cancel, checkpoint=checkpoint, checkpoint_every=options.checkpoint_every,
            snapshot_steps=snapshot_steps, dtype=options.dtype)
    except Exception:  # a run that fails leaves no flow file of its own behind
        flow_store(checkpoint, fixed[0:1], fixed[1:2], motion).discard()
        raise
    record = RunRecord(kind, {**settings, "device": str(device), "dtype": options.dtype}, state.step,
                       [tuple(e) for e in state.energies], state.seconds + motion_seconds, status,
                       state.evaluations + (_motion_evaluations(kind, free_count, recipe, fixed) if motion != "none"
                                            else 0.0))
    if motion != "none" and status == "completed":
        flow_store(checkpoint, fixed[0:1], fixed[1:2], motion).discard()
    return Result(images.clamp(0, 1), record, fixed, path, times, refined=True)


#: The starts after which refine="auto" skips the refinement: the warp path's, whose middle frames the pixel
#: refinement (and every variant tried) took further from real footage's true frames on PSNR
#: (benchmarks/results/refine-variants.md); and the texture change's, whose middle frame the refinement took back
#: towards the superposition (brick->gravel at 64 px: score 0.41 -> 0.50, 120 CPU s more;
#: benchmarks/results/bench_texture_morphs.txt).
UNREFINED_STARTS = ("warp", "dis", "change")


def refine_applies(refine: str, taken: str) -> str:
    """What follows a start `taken` ("warp", "dis", "texture", "change", "dissolve", "given", or an init name) under the
    option `refine`: "none" or "pixels"."""
    if refine == "auto":
        return "none" if taken in UNREFINED_STARTS else "pixels"
    return refine


def _unrefined(kind: str, fixed: torch.Tensor, free_count: int, weights: torch.Tensor | None,
               family: DistanceFamily, recipe: Recipe, options: RunOptions, start: torch.Tensor | None, extra: dict,
               path: Any, times: torch.Tensor | None, seconds: float) -> Result:
    """The result of a run with refine "none": its start (without one, the dissolve at equal times)."""
    if start is None:
        a, b = fixed[0:1], fixed[1:2]
        times = (torch.tensor([float(weights[1])], dtype=torch.float64) if kind == "barycenter"
                 else torch.linspace(0, 1, free_count + 2, dtype=torch.float64)[1:-1])
        path = BoundPath(DissolvePath(), a, b)
        start = path(times)
    images = start if kind == "barycenter" else torch.cat([fixed[0:1], start, fixed[1:2]])
    settings = _problem_settings(kind, fixed, family, recipe, options.seed, options.energy, extra)
    evenly = extra["start"].get("spacing") == "even"
    evaluations = _motion_evaluations(kind, free_count, recipe, fixed) if evenly else 0.0
    record = RunRecord(kind, {**settings, "device": "cpu", "dtype": options.dtype}, 0, [], seconds, "completed",
                       evaluations)
    return Result(images.clamp(0, 1), record, fixed, path, times)


def _motion_applies(kind: str, fixed: torch.Tensor, options: RunOptions, recipe: Recipe, start: Any) -> str:
    """The run's motion start name, or "none" where it has none: start images or an init name given, a
    barycenter of other than two images, a recipe that starts from noise (the authors')."""
    if start is not None or options.init is not None or recipe.init == "noise":
        return "none"
    if kind == "barycenter" and fixed.shape[0] != 2:
        return "none"
    return options.motion


def _motion_start(kind: str, fixed: torch.Tensor, free_count: int, weights: torch.Tensor | None,
                  options: RunOptions, family: DistanceFamily, recipe: Recipe, device: torch.device,
                  cancel: threading.Event | None, checkpoint: Any, decision: dict
                  ) -> tuple[torch.Tensor, BoundPath, torch.Tensor] | None:
    """(the free images, the path, their times) of the motion start (`geometry.paths.motion`): a geodesic's frames at
    times spaced evenly under the distance along the path, or at equal times where the start's frames are kept
    as they are (a warp path not refined moves at constant speed, as footage does); a two-image barycenter's
    frame at time w_b. None when cancelled. What the start took and why goes into `decision`."""
    a, b = fixed[0:1], fixed[1:2]
    store = flow_store(checkpoint, a, b, options.motion)
    try:
        path = MOTION_STARTS[options.motion](a, b, cancel=cancel, store=store, decision=decision)
        if path is None:
            return None
        refine = refine_applies(options.refine, decision["taken"])
        phases.report("refinement", taken=decision["taken"], steps=recipe.steps if refine == "pixels" else 0)
        if kind == "barycenter":
            times = torch.tensor([float(weights[1])], dtype=torch.float64)
            return path(times), path, times
        if refine == "none" and decision["taken"] not in ("texture", "change"):
            decision["spacing"] = "equal times"
            times = torch.linspace(0, 1, free_count + 2, dtype=torch.float64)[1:-1]
        else:
            decision["spacing"] = "even"
            first_size = _first_stage_size(recipe, fixed)
            generator = seeds.generator(seeds.spacing_seed(options.seed))
            times = even_times(a, b, free_count, family.at_size(first_size), generator, size=first_size,
                               device=device, path=path, cancel=cancel)
            if times is None:
                return None
        return path(times), path, times
    except Exception:  # a run that fails leaves no flow file of its own behind (another run's stays)
        if store.owned:
            store.discard()
        raise


def _motion_evaluations(kind: str, free_count: int, recipe: Recipe, fixed: torch.Tensor) -> float:
    """Network evaluations of the motion start (its even spacing), in full-size equivalents."""
    if kind == "barycenter":
        return 0.0
    size, first_size = tuple(fixed.shape[-2:]), _first_stage_size(recipe, fixed)
    return even_times_evaluations(free_count) * first_size[0] * first_size[1] / (size[0] * size[1])


def _first_stage_size(recipe: Recipe, fixed: torch.Tensor) -> tuple[int, int]:
    """The image size of the recipe's first stage at the run's output size: where a path's spacing is measured."""
    size = tuple(fixed.shape[-2:])
    return stage_sizes(effective_stages(recipe.stages, size), size)[0]


def _cancelled_before_start(kind: str, fixed: torch.Tensor, free_count: int, weights: torch.Tensor | None,
                            extra: dict, seconds: float) -> Result:
    """A run cancelled in its motion start: no step taken; the images are the dissolve (or pixel mean)."""
    if kind == "barycenter":
        images = (weights.view(-1, 1, 1, 1) * fixed).sum(0, keepdim=True)
    else:
        times = torch.linspace(0, 1, free_count + 2, dtype=torch.float64)
        images = dissolve(fixed[0:1], fixed[1:2], times)
    record = RunRecord(kind, {"kind": kind, **extra}, 0, [], seconds, "cancelled", 0.0)
    return Result(images.clamp(0, 1), record, fixed)


def _run_options(options: RunOptions | None, settings: dict) -> RunOptions:
    """The run's options: `options` with the keyword `settings` applied."""
    init = settings.get("init")
    if init is not None and not isinstance(init, str):
        raise InputError("init names a start method (noise, mean or even): pass start images as start_images=",
                         field="init")
    return RunOptions.build(options, **settings)


def _start_images(given: Any, free_count: int, size: tuple[int, int], path: bool) -> torch.Tensor:
    """The caller's start images for the free images: `free_count` images, or for a path all its frames
    (endpoints included, which are dropped); brought to the run's size."""
    start = prepare_images(given, size)
    if path and start.shape[0] == free_count + 2:
        start = start[1:-1]
    if start.shape[0] != free_count:
        raise InputError(f"start_images has {start.shape[0]} images; this run optimises {free_count} "
                         f"(pass those, or for a geodesic all {free_count + 2} frames)")
    return start.clamp(CLIP_LOW, CLIP_HIGH).contiguous()


def _normalised_weights(weights: Sequence[float] | torch.Tensor | None, count: int) -> torch.Tensor:
    if weights is None:
        return torch.full((count,), 1.0 / count)
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    problem = weights_problem(w.tolist(), count)
    if problem is not None:
        raise InputError(problem)
    return (w / w.sum()).float()


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
    options, start = _run_options(options, settings), start_images
    targets = prepare_images(images, options.size)
    w = _normalised_weights(weights, targets.shape[0])
    return _run("barycenter", targets, 1, torch.arange(targets.shape[0] + 1),
                barycenter_energy(w, check_form(options.energy)), w, {"weights": w.tolist()}, options, start,
                callback, cancel, checkpoint, snapshot_steps)


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


def perturbed_copies(image: torch.Tensor, mode: str, count: int, generator: torch.Generator,
                     sigma: float = 0.07, max_shift: int = 2) -> torch.Tensor:
    """The reference's 'bary10' inputs: `count` copies of image (1,3,H,W) with Gaussian noise (sigma, clipped
    to [0, 1]) or shifted by a random integer offset in [-max_shift, max_shift]^2 with reflect padding."""
    if mode == "noise":
        noise = torch.randn((count,) + tuple(image.shape[1:]), generator=generator)
        return (image + sigma * noise).clamp(0, 1)
    if mode == "shift":
        height, width = image.shape[-2:]
        if min(height, width) <= max_shift:
            raise InputError(f"image of {height}x{width} px is too small for shifts of {max_shift} px")
        padded = torch.nn.functional.pad(image, (max_shift,) * 4, mode="reflect")
        offsets = torch.randint(-max_shift, max_shift + 1, (count, 2), generator=generator)
        return torch.cat([padded[..., max_shift - dy:max_shift - dy + height, max_shift - dx:max_shift - dx + width]
                          for dy, dx in offsets.tolist()])
    raise InputError(f"mode must be 'noise' or 'shift', got {mode!r}")


def perturbed_barycenter(image: Any, mode: str = "noise", count: int = 10, *, sigma: float = 0.07,
                         max_shift: int = 2, options: RunOptions | None = None, **kwargs: Any) -> Result:
    """The barycenter (equal weights) of `count` perturbed copies of `image` — the reference's bary10.

    The copies are drawn from a generator seeded with the run's `seed` and returned in `result.inputs`;
    their pixel mean is the L2 baseline. Other keywords: those of `barycenter`.

    Args:
        image: the one image; mode: "noise" (Gaussian, `sigma`) or "shift" (up to `max_shift` px);
        count: how many copies.

    Returns:
        A `Result` with the (1, 3, H, W) barycenter in ``images`` and the copies in ``inputs``.

    Example:
        >>> from geometry import perturbed_barycenter
        >>> perturbed_barycenter("cat.png", "shift", count=4, size=32, steps=10).inputs.shape
        torch.Size([4, 3, 32, 32])
    """
    if count < 1:
        raise InputError(f"count must be >= 1, got {count}")
    settings = {key: kwargs.pop(key) for key in list(kwargs) if key in OPTION_NAMES}
    options = RunOptions.build(options, **settings)
    source = prepare_images([image], options.size)
    generator = seeds.generator(seeds.perturbation_seed(options.seed))
    copies = perturbed_copies(source, mode, count, generator, sigma, max_shift)
    return barycenter(copies, None, options=replace(options, size=None), **kwargs)


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
    options, start = _run_options(options, settings), start_images
    ends = prepare_images([a, b], options.size)
    if ends.shape[0] != 2:
        raise InputError(f"geodesic needs exactly two endpoint images, got {ends.shape[0]}")
    free = int(frames) - 2
    order = torch.cat([torch.tensor([free]), torch.arange(free), torch.tensor([free + 1])])
    return _run("geodesic", ends, free, order, path_energy(int(frames), check_form(options.energy)), None,
                {"frames": int(frames)}, options, start, callback, cancel, checkpoint, snapshot_steps)


def estimate_energy(result: Result | None = None, *, images: torch.Tensor | None = None, distance: str | Any = None,
                    samples: int = 256, seed: int = 12345, batch: int = 16, device: str | torch.device | None = None,
                    kind: str | None = None, inputs: torch.Tensor | None = None, weights: Sequence[float] | None = None,
                    energy: str | None = None) -> EnergyEstimate:
    """The energy of a result (or of `images` with explicit kind/inputs/weights) estimated with `samples` fixed
    draws (a generator seeded with `seed`, so two results compared with the same seed see the same draws),
    with its standard error (delta method over the draws; see `PairEnergy.estimate`).

    The energy is evaluated at the inputs' size with the distance of the run unless `distance` is given.
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
    if images is None or inputs is None or kind not in ("barycenter", "geodesic"):
        raise InputError("pass a Result, or images with kind ('barycenter'|'geodesic') and inputs")
    energy = check_form(energy or "squared")
    distance = "elpips_vgg" if distance is None else distance
    device = resolve_device(device, distance if not isinstance(distance, str) else None)
    family = DistanceFamily(distance, device)
    size = tuple(inputs.shape[-2:])
    images = resize(images.float(), size)
    if kind == "barycenter":
        w = _normalised_weights(weights, inputs.shape[0])
        all_images, pair_energy = torch.cat([images[:1], inputs]), barycenter_energy(w, energy)
    else:
        all_images, pair_energy = images, path_energy(images.shape[0], energy)
    metric = family.at_size(size)
    pair_energy = pair_energy.to(device)
    all_images = all_images.to(device)
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
