"""Job files for ``elpips-batch``: parsing and up-front validation.

A job file is TOML (``.toml``) or JSON (any other extension). It lists jobs, each with a kind, its
input images, optional weights, settings and an output folder. A top-level ``settings`` table holds
defaults that every job's own ``settings`` override::

    # jobs.toml
    [settings]                       # defaults for every job
    distance = "elpips_vgg"          # elpips_vgg, lpips_vgg, vgg, alex or l2
    size = 64                        # short side in px, or [H, W]
    preset = "fast"                  # or "reference"
    seed = 0

    [[jobs]]
    name = "cat-dog"                 # optional; defaults to the output folder
    kind = "barycenter"              # the average of two images ("average" is another name for it)
    inputs = ["cat.png", "dog.png"]
    output = "out/cat-dog"

    [[jobs]]
    kind = "barycenter"              # any number of images, optional non-negative weights
    inputs = ["a.png", "b.png", "c.png"]
    weights = [1, 2, 1]
    output = "out/abc"
    settings = { steps = 500 }

    [[jobs]]
    kind = "geodesic"                # two images -> frames, MP4, GIF, contact sheet
    inputs = ["a.png", "b.png"]
    output = "out/a-to-b"
    settings = { frames = 10, energy = "squared", fps = 10, gif = "pingpong" }

    [[jobs]]
    kind = "perturbed_barycenter"    # the reference's 'bary10'
    inputs = ["cat.png"]
    output = "out/cat-bary10"
    settings = { mode = "shift", count = 10 }

    [[jobs]]
    kind = "clip"                    # in-between frames for a clip: a video file or a folder of frames
    inputs = ["clip.mp4"]            # (a folder needs input_fps); the options of `elpips-geodesic --video`
    output = "out/clip-2x"
    settings = { insert = 1, formats = ["mp4", "webp"], montage = true }   # or to_fps = 60; fps, cut_threshold

A job whose output folder holds its finished run of other settings (the job was changed after it finished) is
refused rather than replaced: set ``overwrite = true`` in its settings (or the top-level ones) to replace it.

Relative paths (inputs, outputs) are relative to the job file's folder, so a job file and its images
can move together. The same file as JSON: ``{"settings": {...}, "jobs": [{"kind": ..., ...}]}``.

:func:`load_job_file` validates every job before anything runs and collects ALL problems (unknown
kind or setting, missing or unreadable input, wrong number of inputs, invalid weights or size,
duplicate names or output folders) instead of stopping at the first: a bad job is reported while the
good ones still run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from elpips.errors import InputError
from geometry.options import (
    OPTION_NAMES,
    RunOptions,
    choice_problem,
    integer_problem,
    option_problems,
    weights_problem,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package
    import tomli as tomllib


__all__ = [
    "Job",
    "JobProblem",
    "JobFile",
    "JobFileError",
    "KINDS",
    "SETTINGS",
    "load_job_file",
    "parse_jobs",
]

#: How many input images each kind takes: (minimum, maximum or None for any number).
KINDS: dict[str, tuple[int, int | None]] = {
    "barycenter": (1, None),
    "geodesic": (2, 2),
    "perturbed_barycenter": (1, 1),
    "clip": (1, 1),
}

#: The run options (`geometry.options.RunOptions`) except the device (the backend's), and the memory limit.
_COMMON_SETTINGS = (set(OPTION_NAMES) - {"device"}) | {"max_memory", "overwrite"}

#: The settings each kind accepts (anything else in a job is reported as a problem).
SETTINGS: dict[str, frozenset[str]] = {
    "barycenter": frozenset(_COMMON_SETTINGS),
    "geodesic": frozenset(_COMMON_SETTINGS | {"frames", "fps", "gif", "output_size"}),
    "perturbed_barycenter": frozenset(_COMMON_SETTINGS | {"mode", "count"}),
    # the run options a clip takes, and the fields of `geometry.service.geodesic_run.GeodesicRequest` it sets
    # (CLIP_SETTINGS)
    "clip": frozenset({"distance", "size", "steps", "preset", "seed", "energy", "checkpoint_every", "max_memory",
                       "overwrite", "motion", "refine", "insert", "to_fps", "input_fps", "fps", "cut_threshold",
                       "formats", "montage", "gif", "output_size"}),
}

#: Settings that do not change a job's outputs (resume is bit-for-bit whatever the checkpoint interval).
_NOT_IN_SPEC = {"checkpoint_every", "max_memory", "overwrite"}

_JOB_KEYS = {"name", "kind", "inputs", "weights", "settings", "output"}
#: Other names a job file may give a kind: the job is that kind (its spec, manifest and folder say so).
KIND_ALIASES = {"average": "barycenter"}


class JobFileError(InputError):
    """The job file as a whole cannot be used (missing, unparsable, no job list)."""


@dataclass(frozen=True)
class Job:
    """One validated job. Paths are absolute; ``settings`` has the defaults merged in.

    Plain data (picklable), so a backend can ship it to another process or machine.
    """

    name: str
    kind: str
    inputs: tuple[Path, ...]
    output: Path
    weights: tuple[float, ...] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    input_digests: tuple[str, ...] = ()

    @property
    def options(self) -> RunOptions:
        """The job's run options (its settings that `RunOptions` has; validated when the file was read)."""
        return RunOptions.from_dict({k: v for k, v in self.settings.items() if k in OPTION_NAMES})

    def spec(self) -> dict[str, Any]:
        """What the job computes, as JSON data: equal specs give equal outputs.

        Stored next to its outputs and checkpoint, so a changed job (other settings, edited input
        images) is never skipped nor resumed from a stale checkpoint (its finished run is replaced only with
        ``overwrite = true``).
        """
        return {
            "kind": self.kind,
            "inputs": [str(p) for p in self.inputs],
            "input_sha256": list(self.input_digests),
            "weights": list(self.weights) if self.weights is not None else None,
            "settings": {k: v for k, v in sorted(self.settings.items()) if k not in _NOT_IN_SPEC},
        }

    def is_spec(self, stored: Mapping[str, Any] | None) -> bool:
        """Whether ``stored`` (a ``job.json``, or a ``done.json``'s spec) is this job's `spec`: one written under
        another name of its kind (`KIND_ALIASES`: a job file's "average" before it became "barycenter") is, so an
        old job's folder resumes or is skipped as before."""
        if not isinstance(stored, Mapping):
            return False
        kind = stored.get("kind")
        return {**stored, "kind": KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind} == self.spec()


@dataclass(frozen=True)
class JobProblem:
    """A job that cannot run, with every reason found."""

    name: str
    kind: str | None
    output: Path | None
    errors: tuple[str, ...]

    @property
    def message(self) -> str:
        return "; ".join(self.errors)


@dataclass(frozen=True)
class JobFile:
    """A parsed job file: the jobs that can run and the problems of those that cannot, in file order."""

    path: Path
    jobs: tuple[Job, ...]
    problems: tuple[JobProblem, ...]
    names: tuple[str, ...] = ()  # every job's name (valid or not), in file order


def load_job_file(path: str | os.PathLike) -> JobFile:
    """Read and validate a job file (TOML by ``.toml`` extension, JSON otherwise)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise JobFileError(f"job file not found: {path}")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise JobFileError(f"cannot parse job file {path}: {error}") from None
    return parse_jobs(data, base_dir=path.parent, path=path)


def parse_jobs(data: Any, base_dir: str | os.PathLike, path: str | os.PathLike = "<jobs>") -> JobFile:
    """Validate job-file data (already parsed TOML/JSON); relative paths resolve against ``base_dir``."""
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise JobFileError(f"{path}: expected a 'jobs' list ([[jobs]] tables in TOML, \"jobs\": [...] in JSON)")
    unknown_top = set(data) - {"jobs", "settings"}
    if unknown_top:
        raise JobFileError(f"{path}: unknown top-level keys {sorted(unknown_top)}; "
                           "only 'settings' and 'jobs' are allowed")
    defaults = data.get("settings", {})
    if not isinstance(defaults, dict):
        raise JobFileError(f"{path}: top-level 'settings' must be a table of defaults")
    base_dir = Path(base_dir).resolve()

    jobs: list[Job] = []
    problems: list[JobProblem] = []
    names: set[str] = set()
    outputs: set[Path] = set()
    order: list[str] = []
    for index, entry in enumerate(data["jobs"]):
        job, errors = _parse_job(entry, index, defaults, base_dir)
        name = job["name"]
        if name in names:
            errors.append(f"duplicate job name {name!r}: give each job a unique name")
            name = job["name"] = f"{name} (job {index + 1})"
        if job["output"] is not None:
            if job["output"] in outputs:
                errors.append(f"output folder {job['output']} is used by another job: give each job its own")
            outputs.add(job["output"])
        names.add(name)
        order.append(name)
        if errors:
            problems.append(JobProblem(name=name, kind=job["kind"], output=job["output"], errors=tuple(errors)))
        else:
            jobs.append(Job(**job))
    return JobFile(path=Path(path), jobs=tuple(jobs), problems=tuple(problems), names=tuple(order))


def _parse_job(entry: Any, index: int, defaults: Mapping[str, Any], base_dir: Path) -> tuple[dict, list[str]]:
    fallback_name = f"job {index + 1}"
    job: dict[str, Any] = {"name": fallback_name, "kind": None, "output": None}
    if not isinstance(entry, dict):
        return job, [f"job {index + 1} is not a table/object"]
    errors: list[str] = []

    unknown = set(entry) - _JOB_KEYS
    if unknown:
        errors.append(f"unknown keys {sorted(unknown)} (job keys: {', '.join(sorted(_JOB_KEYS))}; "
                      "put options under 'settings')")

    output = entry.get("output")
    if isinstance(output, str) and output:
        job["output"] = (base_dir / output).resolve()
        from elpips.io import writable_folder_problem

        problem = writable_folder_problem(job["output"])
        if problem is not None:
            errors.append(f"output folder: {problem}; choose another 'output' or fix its permissions")
    else:
        errors.append("'output' (a folder path) is required")

    name = entry.get("name")
    if name is None:
        name = output if isinstance(output, str) and output else fallback_name
    elif not isinstance(name, str) or not name:
        errors.append("'name' must be a non-empty string")
        name = fallback_name
    job["name"] = name

    kind = entry.get("kind")
    kind = KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in KINDS:
        errors.append(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
        kind = None
    job["kind"] = kind

    inputs, digests = _check_inputs(entry.get("inputs"), kind, base_dir, errors)
    job["inputs"], job["input_digests"] = inputs, digests
    job["weights"] = _check_weights(entry.get("weights"), kind, len(inputs), errors)

    own = entry.get("settings", {})
    if not isinstance(own, dict):
        errors.append("'settings' must be a table/object")
        own = {}
    settings = {**defaults, **own}
    if kind is not None:
        _check_settings(settings, kind, errors)
    job["settings"] = settings
    return job, errors


def _check_inputs(inputs: Any, kind: str | None, base_dir: Path,
                  errors: list[str]) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    if not isinstance(inputs, list) or not all(isinstance(p, str) and p for p in inputs):
        errors.append("'inputs' must be a list of image paths")
        return (), ()
    paths = tuple((base_dir / p).resolve() for p in inputs)
    if kind is not None:
        low, high = KINDS[kind]
        if len(paths) < low or (high is not None and len(paths) > high):
            wanted = f"exactly {low}" if low == high else f"at least {low}"
            errors.append(f"kind {kind!r} takes {wanted} input image(s), got {len(paths)}")
    digests = []
    if kind == "clip":
        return paths, _clip_digests(paths, errors)
    import elpips

    for p in paths:
        try:
            elpips.load_image(p)
        except InputError as error:  # elpips.ImageError: missing or unreadable, one line
            errors.append(str(error))
            continue
        digests.append(hashlib.sha256(p.read_bytes()).hexdigest())
    return paths, tuple(digests)


def _clip_digests(paths: tuple[Path, ...], errors: list[str]) -> tuple[str, ...]:
    from geometry.service.clips import source_digest

    digests = []
    for p in paths:
        try:
            digests.append(source_digest(p))
        except (OSError, InputError) as error:
            errors.append(f"clip {p}: {error}")
    return tuple(digests)


def _check_weights(weights: Any, kind: str | None, count: int, errors: list[str]) -> tuple[float, ...] | None:
    if weights is None:
        return None
    if kind is not None and kind != "barycenter":
        errors.append(f"'weights' apply to kind 'barycenter' only, not {kind!r}")
        return None
    if not isinstance(weights, list) or not all(_is_number(w) for w in weights):
        errors.append("'weights' must be a list of numbers")
        return None
    values = tuple(float(w) for w in weights)
    problem = weights_problem(values, count)
    if problem is not None:
        errors.append(problem)
    return values


def _check_settings(settings: Mapping[str, Any], kind: str, errors: list[str]) -> None:
    unknown = set(settings) - SETTINGS[kind]
    if unknown:
        allowed = ", ".join(sorted(SETTINGS[kind]))
        errors.append(f"unknown settings {sorted(unknown)} for kind {kind!r} (allowed: {allowed})")

    def choice(key: str, allowed) -> None:
        errors.extend(filter(None, [choice_problem(settings, key, allowed)]))

    def integer(key: str, minimum: int) -> None:
        errors.extend(filter(None, [integer_problem(settings, key, minimum)]))

    errors.extend(option_problems({k: v for k, v in settings.items() if k in OPTION_NAMES}))
    if "overwrite" in settings and not isinstance(settings["overwrite"], bool):
        errors.append(f"overwrite = {settings['overwrite']!r}: must be true or false")
    if "max_memory" in settings:
        from elpips.memory import parse_bytes

        try:
            parse_bytes(str(settings["max_memory"]))
        except InputError as error:
            errors.append(f"max_memory = {settings['max_memory']!r}: {error}")
    if kind == "geodesic":
        integer("frames", 3)
        choice("gif", ("forward", "pingpong"))
        fps = settings.get("fps")
        if "fps" in settings and not (_is_number(fps) and fps > 0):
            errors.append(f"fps = {fps!r}: must be a positive number")
    if kind == "perturbed_barycenter":
        choice("mode", ("noise", "shift"))
        integer("count", 1)
    if kind == "clip":
        _check_clip_settings(settings, errors)
    if kind in ("geodesic", "clip") and "output_size" in settings:
        errors.extend(problem.replace("size", "output_size", 1)  # the same values as size
                      for problem in option_problems({"size": settings["output_size"]}))


def _check_clip_settings(settings: Mapping[str, Any], errors: list[str]) -> None:
    from geometry.service.video import MOVIE_FORMATS

    if ("insert" in settings) == ("to_fps" in settings):
        errors.append("a clip job needs insert (frames between consecutive frames) or to_fps, one of them")
    value = settings.get("insert")
    if "insert" in settings and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        errors.append(f"insert = {value!r}: must be an integer >= 1")
    for key in ("to_fps", "input_fps", "fps"):
        if key in settings and not (_is_number(settings[key]) and 0 < settings[key] < math.inf):
            errors.append(f"{key} = {settings[key]!r}: must be a positive number")
    if "cut_threshold" in settings and not (_is_number(settings["cut_threshold"]) and settings["cut_threshold"] >= 0):
        errors.append(f"cut_threshold = {settings['cut_threshold']!r}: must be a number >= 0 (inf: never a cut)")
    formats = settings.get("formats")
    if "formats" in settings and not (isinstance(formats, list) and formats
                                      and all(f in MOVIE_FORMATS for f in formats)):
        errors.append(f"formats = {formats!r}: must be a list from {', '.join(MOVIE_FORMATS)}")
    if "montage" in settings and not isinstance(settings["montage"], bool):
        errors.append(f"montage = {settings['montage']!r}: must be true or false")
    if "gif" in settings and settings["gif"] not in ("forward", "pingpong"):
        errors.append(f"gif = {settings['gif']!r}: use one of forward, pingpong")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
