"""The public geometry API: perceptual averages, barycenters and geodesics under a differentiable distance.

Every function takes images (tensors/arrays accepted by `elpips.as_image_batch`, or paths), brings them
to one size with the `geometry.inputs` policy (centre-crop to the first image's aspect, resize; `size`
sets the short side or (H, W)), optimises with a preset (`geometry.presets`: "fast" by default,
"reference" = the E-LPIPS authors' recipe) and returns a :class:`Result`: CPU images in [0, 1] and a
JSON-serialisable :class:`RunRecord`.

Common keyword arguments:
  distance: "elpips_vgg" (default), "lpips_vgg", "vgg", "alex", "l2" (mean squared pixel difference), or
      an object with the sample_draws/embed/embedding_distance trio (e.g. an `elpips.Metric`).
  preset: "fast" | "reference" | a `geometry.presets.Preset`.   steps: total steps (overrides the preset's).
  seed: int; the initialisation and every random draw come from seeded CPU generators.
  device: None/"auto" (cuda when available), "cpu", "cuda", ...   dtype: None or "bfloat16" (CUDA autocast).
  callback(Progress) after every step; snapshots at `snapshot_steps` (default: the reference's list).
  cancel: threading.Event — the run stops at the next step, status "cancelled".
  checkpoint / checkpoint_every: resumable runs (see `geometry.optimize`).
  draws_per_step: random transformations per step (overrides the preset's).
  energy: "squared" (sum w d^2, the default, as in ELPIPS.md §6) or "linear" (sum w d).
  init: "noise", "mean", "even" (overrides the preset's initialisation; "even": a geodesic starts from the
      cross-dissolve with its frames spaced evenly under the distance, `geometry.spacing`), or start images:
      the free images to refine (for a geodesic its free frames, or all frames with the endpoints) as a
      tensor, array, path or list.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .distances import DistanceFamily, resolve_device
from .energies import barycenter_energy, check_form, path_energy
from .inputs import prepare_images, resize
from .optimize import CLIP_HIGH, CLIP_LOW, Problem, Progress, optimize
from .presets import Preset, get_preset, reference_snapshot_steps

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
            raise ValueError("a paired difference needs two estimates with the same number of draws (>= 2)")
        diff = torch.tensor(self.linearised, dtype=torch.float64) - torch.tensor(other.linearised, dtype=torch.float64)
        return self.value - other.value, (diff.std(unbiased=True) / len(diff) ** 0.5).item()


def _problem_settings(kind: str, fixed: torch.Tensor, family: DistanceFamily, recipe: Preset, seed: int,
                      energy: str, extra: dict) -> dict:
    return {"kind": kind, "distance": family.name, "preset": recipe.name, "recipe": recipe.to_dict(),
            "seed": int(seed), "energy": energy, "size": list(fixed.shape[-2:]), **extra}


def _run(kind: str, fixed: torch.Tensor, free_count: int, order: torch.Tensor, pair_energy, weights,
         extra: dict, *, distance, preset, steps, seed, device, callback, cancel, checkpoint,
         checkpoint_every, snapshot_steps, draws_per_step, dtype, init) -> Result:
    device = resolve_device(device, distance if not isinstance(distance, str) else None)
    family = DistanceFamily(distance, device)
    recipe = get_preset(preset, kind, tuple(fixed.shape[-2:]))
    if steps is not None:
        recipe = recipe.with_steps(int(steps))
    if draws_per_step is not None:
        if int(draws_per_step) < 1:
            raise ValueError(f"draws_per_step must be >= 1, got {draws_per_step}")
        recipe = recipe.with_draws(int(draws_per_step))
    start = None
    if isinstance(init, str):
        recipe = recipe.with_init(init)
    elif init is not None:
        start = _start_images(init, free_count, tuple(fixed.shape[-2:]), path=kind == "geodesic")
        recipe = recipe.with_init("given")
        extra = {**extra, "start_sha256": hashlib.sha256(start.numpy().tobytes()).hexdigest()}
    if snapshot_steps is None:
        snapshot_steps = reference_snapshot_steps(recipe.steps)
    settings = _problem_settings(kind, fixed, family, recipe, seed, pair_energy.form, extra)
    problem = Problem(kind, fixed, free_count, order, pair_energy, weights, start)
    images, state, status = optimize(
        problem, family, recipe, seed=seed, device=device, settings=settings, callback=callback, cancel=cancel,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, snapshot_steps=snapshot_steps, dtype=dtype)
    record = RunRecord(kind, {**settings, "device": str(device), "dtype": dtype}, state.step,
                       [tuple(e) for e in state.energies], state.seconds, status, state.evaluations)
    return Result(images.clamp(0, 1), record, fixed)


def _start_images(init: Any, free_count: int, size: tuple[int, int], path: bool) -> torch.Tensor:
    """The caller's start images for the free images: `free_count` images, or for a path all its frames
    (endpoints included, which are dropped); brought to the run's size."""
    start = prepare_images(init, size)
    if path and start.shape[0] == free_count + 2:
        start = start[1:-1]
    if start.shape[0] != free_count:
        raise ValueError(f"init has {start.shape[0]} images; this run optimises {free_count} "
                         f"(pass those, or for a geodesic all {free_count + 2} frames)")
    return start.clamp(CLIP_LOW, CLIP_HIGH).contiguous()


def _normalised_weights(weights: Sequence[float] | torch.Tensor | None, count: int) -> torch.Tensor:
    if weights is None:
        return torch.full((count,), 1.0 / count)
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    if w.numel() != count:
        raise ValueError(f"got {w.numel()} weights for {count} images: pass one weight per image")
    if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
    return (w / w.sum()).float()


def barycenter(images: Any, weights: Sequence[float] | torch.Tensor | None = None, *,
               distance: str | Any = "elpips_vgg", preset: str | Preset = "fast", steps: int | None = None,
               seed: int = 0, device: str | torch.device | None = None, size: int | Sequence[int] | None = None,
               callback: Callable[[Progress], Any] | None = None, cancel: threading.Event | None = None,
               checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
               snapshot_steps: Sequence[int] | None = None, draws_per_step: int | None = None,
               dtype: str | None = None, energy: str = "squared", init: Any = None) -> Result:
    """The image x minimising sum_i w_i f(d(x, y_i)) over the pixels of x (ELPIPS.md §6).

    Weights are normalised to sum to 1 (uniform when None); any count of images, any non-negative weights.
    With energy="squared" (default) f(d) = d^2 as in the reference; "linear" uses f(d) = d (with
    distance="l2" the linear energy's optimum is exactly the weighted pixel mean).
    Inputs are centre-cropped to the first image's aspect ratio and resized (`geometry.inputs`).
    """
    targets = prepare_images(images, size)
    w = _normalised_weights(weights, targets.shape[0])
    return _run("barycenter", targets, 1, torch.arange(targets.shape[0] + 1), barycenter_energy(w, check_form(energy)),
                w, {"weights": w.tolist()}, distance=distance, preset=preset, steps=steps, seed=seed, device=device,
                callback=callback, cancel=cancel, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                snapshot_steps=snapshot_steps, draws_per_step=draws_per_step, dtype=dtype, init=init)


def pairwise_average(a: Any, b: Any, **options) -> Result:
    """The perceptual average of two images: `barycenter([a, b], (0.5, 0.5), **options)`."""
    return barycenter([a, b], (0.5, 0.5), **options)


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
            raise ValueError(f"image of {height}x{width} px is too small for shifts of {max_shift} px")
        padded = torch.nn.functional.pad(image, (max_shift,) * 4, mode="reflect")
        offsets = torch.randint(-max_shift, max_shift + 1, (count, 2), generator=generator)
        return torch.cat([padded[..., max_shift - dy:max_shift - dy + height, max_shift - dx:max_shift - dx + width]
                          for dy, dx in offsets.tolist()])
    raise ValueError(f"mode must be 'noise' or 'shift', got {mode!r}")


def perturbed_barycenter(image: Any, mode: str = "noise", count: int = 10, *, sigma: float = 0.07,
                         max_shift: int = 2, **options) -> Result:
    """The barycenter (equal weights) of `count` perturbed copies of `image` — the reference's bary10.

    The copies are drawn from a generator seeded with `seed` (an option, default 0) and returned in
    `result.inputs`; their pixel mean is the L2 baseline.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    source = prepare_images([image], options.get("size"))
    generator = torch.Generator().manual_seed(int(options.get("seed", 0)) + 7919)
    copies = perturbed_copies(source, mode, count, generator, sigma, max_shift)
    options = {k: v for k, v in options.items() if k != "size"}
    return barycenter(copies, None, **options)


def geodesic(a: Any, b: Any, frames: int = 10, *, distance: str | Any = "elpips_vgg",
             preset: str | Preset = "fast", steps: int | None = None, seed: int = 0,
             device: str | torch.device | None = None, size: int | Sequence[int] | None = None,
             callback: Callable[[Progress], Any] | None = None, cancel: threading.Event | None = None,
             checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
             snapshot_steps: Sequence[int] | None = None, draws_per_step: int | None = None,
             dtype: str | None = None, energy: str = "squared", init: Any = None) -> Result:
    """A discrete geodesic: frames x_0 = a, x_1..x_{N-1}, x_N = b (`frames` = N + 1 counts both endpoints)
    minimising the path energy sum_i f(d(x_i, x_{i+1})) with the endpoints fixed.

    energy="squared": f(d) = d^2 (the classic discrete path energy; at its minimum the consecutive distances
    are equal); "linear": f(d) = d. Result.images holds all frames including the endpoints.
    """
    if int(frames) < 3:
        raise ValueError(f"frames counts both endpoints and must be >= 3 to have a frame to optimise, got {frames}")
    ends = prepare_images([a, b], size)
    if ends.shape[0] != 2:
        raise ValueError(f"geodesic needs exactly two endpoint images, got {ends.shape[0]}")
    free = int(frames) - 2
    order = torch.cat([torch.tensor([free]), torch.arange(free), torch.tensor([free + 1])])
    return _run("geodesic", ends, free, order, path_energy(int(frames), check_form(energy)), None,
                {"frames": int(frames)}, distance=distance, preset=preset, steps=steps, seed=seed, device=device,
                callback=callback, cancel=cancel, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                snapshot_steps=snapshot_steps, draws_per_step=draws_per_step, dtype=dtype, init=init)


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
                raise ValueError("this run used a custom distance object: pass it as distance=")
    if images is None or inputs is None or kind not in ("barycenter", "geodesic"):
        raise ValueError("pass a Result, or images with kind ('barycenter'|'geodesic') and inputs")
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
    chunks = []
    with torch.no_grad():
        remaining = int(samples)
        while remaining > 0:
            count = min(batch, remaining)
            draws = metric.sample_draws(count, generator)
            chunks.append(pair_energy.pair_distances(metric, all_images, draws).double().cpu())
            remaining -= count
    per_draw = torch.cat(chunks)
    value, linearised = pair_energy.estimate(per_draw)
    n = per_draw.shape[0]
    if n > 1:
        stderr = (linearised.std(unbiased=True) / n ** 0.5).item()
        spread = per_draw.std(0, unbiased=True) / n ** 0.5
    else:
        stderr, spread = float("nan"), torch.full((per_draw.shape[1],), float("nan"))
    return EnergyEstimate(value, stderr, n, per_draw.mean(0).tolist(), spread.tolist(), linearised.tolist())
