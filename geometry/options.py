"""`RunOptions`: the settings of a geometry run, defined, validated and serialised in one place.

The engine (`geometry.api`: ``barycenter(..., options=RunOptions(...))`` or the same names as keywords),
the job files (`geometry.service.jobs`: a job's ``settings``), the command-line tools (`geometry.tools.support.
run_options`) and the UI (`app.runs`) all describe a run with these fields, check them with
:func:`option_problems` and write them with :meth:`RunOptions.to_dict`.

What a run computes beyond these is per kind (a barycenter's weights, a geodesic's frames) or per call
(progress callback, cancel event, checkpoint path, snapshot steps, start images) and is passed beside them.

This module imports torch only when it validates names against the engine's tables.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from elpips.errors import InputError
from geometry.engine.distance_names import distance_name, is_distance_object
from geometry.engine.seeds import MAX_SEED

#: The initialisations a run can be asked for by name (start images are passed as ``start_images=`` to the engine).
INIT_NAMES = ("noise", "mean", "even")
#: The precisions of the network's forward pass (``bfloat16``: CUDA autocast).
DTYPES = ("float32", "bfloat16")
#: What follows a geodesic's or two-image average's start: "auto" (none after a warp, texture or texture-change
#: start, the pixel refinement after the dissolve), "none" (the start itself: no network, frames at their own
#: times) or "pixels" (the preset's E-LPIPS refinement of the free pixels). Measured on real footage:
#: benchmarks/results/refine-variants.md; on textures: benchmarks/results/bench_texture_budget_64px.txt.
REFINE_NAMES = ("auto", "none", "pixels")


@dataclass(frozen=True)
class RunOptions:
    """The settings shared by every kind of run (see `geometry.api` for what each does).

    distance: a name ("elpips_vgg", "lpips_vgg", "vgg", "alex", "l2") or a distance object (`elpips.Metric`).
    preset: "fast" | "reference" | a `geometry.engine.presets.Preset` | a `Recipe` (run as it is).
    steps: total steps (None: the preset's).
    seed: 0 to 2**63 - 1.   size: the short side, or (H, W); None: the first input's size.
    device: None/"auto", "cpu", "cuda", "cuda:N" or a torch.device.   dtype: None, "float32" or "bfloat16".
    energy: "squared" or "linear".   init: None (the preset's), "noise", "mean" or "even".
    motion: the start of a geodesic or two-image average (`geometry.paths.motion`): "auto" (default: "texture" where
    the endpoints' spectra differ by a turn or a scaling, else "warp" where the flow explains the pair, else
    "change" for two stationary textures, else the dissolve), "warp" (the warp path with the engine's own flow),
    "dis" (with OpenCV's DIS flow), "texture" (the texture path), "change" (one texture synthesised between two,
    `geometry.paths.synthesis`) or "none" (the cross-dissolve).
    refine: what follows the start (`REFINE_NAMES`): "auto" (default: nothing after a warp start, whose frames
    the pixel refinement took further from real footage's true frames, benchmarks/results/refine-variants.md,
    nor after a texture change, which it took back towards the superposition, nor after a texture turn or zoom,
    whose texture no refinement budget improved, docs/textures.md; the pixel refinement after the dissolve),
    "none" (the start's frames at their own times, no network: the warp-only mode for whole clips) or "pixels"
    (the preset's E-LPIPS refinement of the pixels).
    draws_per_step: random transformations per step (None: the preset's).
    checkpoint_every: steps between checkpoints (None: the engine's default).

    Invalid values raise ValueError naming each problem and what to use instead.
    """

    distance: Any = "elpips_vgg"
    preset: Any = "fast"
    steps: int | None = None
    seed: int = 0
    size: int | tuple[int, int] | None = None
    device: Any = None
    dtype: str | None = None
    energy: str = "squared"
    init: str | None = None
    draws_per_step: int | None = None
    checkpoint_every: int | None = None
    motion: str = "auto"
    refine: str = "auto"

    def __post_init__(self):
        problems = option_problems(self.__dict__)
        if problems:
            raise InputError("; ".join(problems))
        for name in ("steps", "seed", "draws_per_step", "checkpoint_every"):  # NumPy integers become ints
            if getattr(self, name) is not None:
                object.__setattr__(self, name, int(getattr(self, name)))
        if self.size is not None and not isinstance(self.size, numbers.Integral):
            object.__setattr__(self, "size", tuple(int(side) for side in self.size))
        elif self.size is not None:
            object.__setattr__(self, "size", int(self.size))

    @classmethod
    def build(cls, options: RunOptions | None = None, **settings: Any) -> RunOptions:
        """`options` (default: all defaults) with `settings` replacing fields by name (unknown name: TypeError)."""
        unknown = sorted(set(settings) - set(OPTION_NAMES))
        if unknown:
            raise TypeError(f"unknown run option(s) {', '.join(unknown)}: use {', '.join(OPTION_NAMES)}")
        return dataclasses.replace(options or cls(), **settings)

    def to_dict(self) -> dict[str, Any]:
        """JSON data: names for the distance, preset and device; `from_dict` reads it back."""
        data = {name: getattr(self, name) for name in OPTION_NAMES}
        data["distance"] = distance_name(self.distance)
        data["preset"] = self.preset if isinstance(self.preset, str) else self.preset.name
        data["device"] = None if self.device is None else str(self.device)
        data["size"] = list(self.size) if isinstance(self.size, tuple) else self.size
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        """The options in `data` (the keys of `to_dict`; missing ones take their defaults)."""
        unknown = sorted(set(data) - set(OPTION_NAMES))
        if unknown:
            raise InputError(f"unknown run option(s) {', '.join(unknown)}: use {', '.join(OPTION_NAMES)}")
        return cls(**data)

    def result_settings(self) -> dict[str, Any]:
        """`to_dict` without what does not change the result: the checkpoint interval (a resumed run is bit-for-bit
        the same whatever it is) and the device (a run may resume on another). What resume checks compare."""
        data = self.to_dict()
        del data["device"], data["checkpoint_every"]
        return data


#: The fields of RunOptions, in order.
OPTION_NAMES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(RunOptions))


def option_problems(settings: Mapping[str, Any]) -> list[str]:
    """One message per invalid run option in `settings` (only the keys present are checked; others are ignored).

    The messages read ``key = value: what to use``, for a job file as for the API.
    """
    from geometry.engine.distances import DISTANCE_NAMES  # these tables import torch: not at start-up
    from geometry.engine.energies import ENERGY_FORMS
    from geometry.engine.presets import PRESETS, Preset, Recipe
    from geometry.paths.motion import MOTION_NAMES

    problems: list[str] = []

    def choice(key: str, allowed: Sequence) -> None:
        problems.extend(filter(None, [choice_problem(settings, key, allowed)]))

    def integer(key: str, minimum: int) -> None:  # None: the default
        problems.extend(filter(None, [integer_problem(settings, key, minimum, optional=True)]))

    if not is_distance_object(settings.get("distance")):
        choice("distance", DISTANCE_NAMES)
    if not isinstance(settings.get("preset"), (Preset, Recipe)):
        choice("preset", tuple(PRESETS))
    if settings.get("dtype") is not None:
        choice("dtype", DTYPES)
    choice("energy", ENERGY_FORMS)
    choice("motion", MOTION_NAMES)
    choice("refine", REFINE_NAMES)
    if settings.get("init") is not None:
        choice("init", INIT_NAMES)
    integer("steps", 1)
    problems.extend(filter(None, [integer_problem(settings, "seed", 0, MAX_SEED)]))  # what --seed accepts
    integer("draws_per_step", 1)
    integer("checkpoint_every", 1)
    size = settings.get("size")
    if size is not None and not (is_integer(size) and size >= 1 or (
            isinstance(size, (list, tuple)) and len(size) == 2 and all(is_integer(s) and s >= 1 for s in size))):
        problems.append(f"size = {size!r}: must be a positive int (short side) or [H, W]")
    return problems


def choice_problem(settings: Mapping[str, Any], key: str, allowed: Sequence) -> str | None:
    """``key = value: use one of ...`` when `settings` has `key` with a value not in `allowed`."""
    if key in settings and settings[key] not in allowed:
        return f"{key} = {settings[key]!r}: use one of {', '.join(map(str, allowed))}"
    return None


def integer_problem(settings: Mapping[str, Any], key: str, minimum: int, maximum: int | None = None,
                    optional: bool = False) -> str | None:
    """``key = value: must be an integer ...`` when `settings` has `key` with a value that is not an integer in
    [minimum, maximum] (or None, when `optional`)."""
    value = settings.get(key)
    if key not in settings or (optional and value is None):
        return None
    if is_integer(value) and value >= minimum and (maximum is None or value <= maximum):
        return None
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    return f"{key} = {value!r}: must be an integer {bounds}"


def is_integer(value: Any) -> bool:
    """An int (or NumPy integer), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def weights_problem(weights: Sequence[float], count: int) -> str | None:
    """What is wrong with `weights` for `count` images (one each, finite, non-negative, not all zero), or None."""
    values = list(weights)
    if len(values) != count:
        return f"{len(values)} weights for {count} images: give one weight per image"
    if not all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in values):
        return f"weights {values} must be numbers"
    if any(not (0 <= w < float("inf")) for w in values) or not any(w > 0 for w in values):
        return f"weights {values} must be finite, non-negative and not all zero"
    return None
