"""The optimisation loop: Adam on the pixels of the free images, stage by stage, with progress callbacks,
snapshots, cancellation and checkpoints that resume bit-for-bit.

One update t (1-based) of a stage:
  1. lr from the stage's schedule; `draws` transformations from the run's draw generator (a seeded CPU
     torch.Generator);
  2. all images (free and fixed, at the stage size) embedded once under those draws; the energy of
     `geometry.engine.energies` from the per-pair distances averaged over the draws;
  3. Adam step, then the free pixels clipped to [1e-5, 1 - 1e-5] (the reference's projection).
The energy recorded for update t is the stochastic energy of the images before it.

Checkpoints (a torch file, written atomically) hold the free images, the Adam state, the draw generator's
state, the stage position, the energies and the time spent: everything the trajectory depends on, so a
resumed run continues exactly where the saved one was (bit-for-bit on the same device and software).
A checkpoint that cannot be read, or belongs to another run (different inputs or settings), raises
InputError. On SIGINT/SIGTERM (main thread only) the loop finishes the current step, writes the
checkpoint, and re-delivers the signal to the previous handler. A checkpoint that cannot be written
(full disk, file size limit, permissions) raises CheckpointWriteError (an OSError naming the path and
errno, and the step of the last checkpoint written, which stays as it was); only the final checkpoint
of a completed run may fail silently, as the result it would protect is returned.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from elpips.errors import InputError
from geometry.engine import seeds
from geometry.engine.distances import DistanceFamily
from geometry.engine.eta import TimeLeft
from geometry.engine.inputs import resize
from geometry.engine.presets import Recipe, Stage, effective_stages, stage_sizes
from geometry.engine.problems import CLIP_HIGH, CLIP_LOW, Problem
from geometry.engine.schedules import learning_rate

CHECKPOINT_FORMAT = "elpips-geometry-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Progress:
    """What the callback receives after every update.

    energy: the one-step stochastic energy of the images before this update (at the stage's size; NaN in
    the step-0 call that only delivers the initial snapshot). snapshot: the current images at the output
    size, (M,3,H,W) in [0,1] on CPU — barycenter M=1, geodesic all frames — when `step` is a snapshot step.
    """

    step: int
    total_steps: int
    energy: float
    elapsed_s: float
    eta_s: float | None
    snapshot: torch.Tensor | None = None
    stage: int = 0
    size: tuple[int, int] | None = None


@dataclass
class OptimizerState:
    stage: int = 0
    stage_step: int = 0
    step: int = 0
    free: torch.Tensor | None = None
    optimizer: dict | None = None
    draw_rng: torch.Tensor | None = None
    energies: list = field(default_factory=list)
    seconds: float = 0.0
    evaluations: float = 0.0


def fingerprint(fixed: torch.Tensor, settings: dict) -> str:
    digest = hashlib.sha256()
    digest.update(fixed.contiguous().numpy().tobytes())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the file at its path is left as it was.

    ``saved_step``: the step of the last checkpoint this run wrote or resumed from (None: none yet).
    """

    saved_step: int | None = None


def save_checkpoint(path: str | os.PathLike, state: OptimizerState, key: str) -> None:
    from elpips.io import atomic_write

    payload = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "fingerprint": key,
        "stage": state.stage, "stage_step": state.stage_step, "step": state.step,
        "free": state.free.detach().cpu(), "optimizer": state.optimizer, "draw_rng": state.draw_rng,
        "energies": [list(e) for e in state.energies], "seconds": state.seconds, "evaluations": state.evaluations,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)  # in memory: torch's writer reports a full disk without path or errno
    try:
        with atomic_write(path) as tmp:
            tmp.write_bytes(buffer.getbuffer())
    except OSError as error:
        raise CheckpointWriteError(error.errno, error.strerror or str(error), os.fspath(path)) from error


def load_checkpoint(path: str | os.PathLike, key: str) -> OptimizerState:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise InputError(f"checkpoint {os.fspath(path)!r} is unreadable or corrupt ({type(error).__name__}); "
                         "delete it to start the run afresh") from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{os.fspath(path)!r} is not a geometry checkpoint; delete or move it to start afresh")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"checkpoint {os.fspath(path)!r} has version {payload.get('version')}, this code reads "
                         f"version {CHECKPOINT_VERSION}; delete it to start afresh")
    if payload.get("fingerprint") != key:
        raise InputError(f"checkpoint {os.fspath(path)!r} belongs to a different run (other inputs or settings): "
                         "resume with the same inputs and settings, or delete it to start afresh")
    try:
        return OptimizerState(
            stage=int(payload["stage"]), stage_step=int(payload["stage_step"]), step=int(payload["step"]),
            free=payload["free"].float(), optimizer=payload["optimizer"], draw_rng=payload["draw_rng"],
            energies=[(int(s), float(e)) for s, e in payload["energies"]],
            seconds=float(payload["seconds"]), evaluations=float(payload["evaluations"]))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(f"checkpoint {os.fspath(path)!r} is incomplete or corrupt ({error}); "
                         "delete it to start the run afresh") from error


class _SignalCatcher:
    """Catches SIGINT/SIGTERM while a checkpointed run is in the main thread; re-delivers them after."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, active: bool):
        self.active = active and threading.current_thread() is threading.main_thread()
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self):
        if self.active:
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signum

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        return False

    def redeliver(self):
        self.__exit__()
        if self.received is not None:
            signal.raise_signal(self.received)


def _autocast(device: torch.device, dtype: str | None):
    if dtype in (None, "float32"):
        return contextlib.nullcontext()
    if dtype == "bfloat16":
        if device.type != "cuda":
            raise InputError("dtype='bfloat16' (autocast for the network) needs a CUDA device; use dtype=None on CPU")
        return torch.autocast("cuda", dtype=torch.bfloat16)
    raise InputError(f"dtype must be None, 'float32' or 'bfloat16', got {dtype!r}")


def upsample(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    if images.shape[-1] > size[1]:
        return resize(images, size)
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False).clamp(CLIP_LOW, CLIP_HIGH)


class StageCarry:
    """Carries the free images from one stage's size to the next.

    A coarse stage cannot see the start images' fine detail. When the start is meaningful at full size (the
    pixel mean, the cross-dissolve, the caller's images), what is carried up is the start at the new size plus
    the upsampled CHANGE the coarse stages made: a coarse stage adjusts the coarse content and the detail is
    kept. A noise start has no detail worth keeping: the images themselves are upsampled.
    """

    def __init__(self, start: torch.Tensor | None):
        self.start = start  # (F,3,H,W) at the output size, or None

    def __call__(self, free: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if self.start is None or tuple(free.shape[-2:]) == tuple(size):
            return upsample(free, size)
        start = self.start.to(free.device, free.dtype)
        change = free - resize(start, tuple(free.shape[-2:]))
        carried = resize(start, size) + F.interpolate(change, size=size, mode="bilinear", align_corners=False)
        return carried.clamp(CLIP_LOW, CLIP_HIGH)


class _Clock:
    """The run's seconds (those of earlier processes, when resumed, plus this one's) and its time left, told by
    the one time-left clock (`geometry.engine.eta.TimeLeft`) with each stage's cost (draws x images x pixels) as the
    prior of its step time, so a coarse stage's speed does not mislead the estimate for a fine one."""

    def __init__(self, costs: list[float], stages: Sequence[Stage], state: OptimizerState):
        self.started = time.perf_counter()
        self.prior_seconds = state.seconds
        self.time_left = TimeLeft([(s.steps, cost) for s, cost in zip(stages, costs)])

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def step_done(self, stage: int, step: int) -> tuple[float, float | None]:
        """Books update `step` (counted over all stages) of `stage`: (seconds since this process started the run,
        the time left)."""
        elapsed = self.elapsed()
        return elapsed, self.time_left.tick(stage, step, elapsed)


class _Optimization:
    """One call of `optimize`: the stages it runs, where it starts (fresh or from a checkpoint), and the
    checkpoints, snapshots and progress reports along the way."""

    def __init__(self, problem: Problem, family: DistanceFamily, recipe: Recipe, seed: int, device: torch.device,
                 settings: dict, checkpoint, checkpoint_every: int | None, snapshot_steps,
                 cancel: threading.Event | None = None):
        if checkpoint_every is not None and checkpoint_every < 1:
            raise InputError(f"checkpoint_every must be >= 1 steps, got {checkpoint_every}")
        self.problem, self.family, self.device = problem, family, device
        self.checkpoint, self.checkpoint_every = checkpoint, checkpoint_every
        self.out_size = tuple(problem.fixed.shape[-2:])
        self.stages = effective_stages(recipe.stages, self.out_size)
        self.sizes = stage_sizes(self.stages, self.out_size)
        self.total = sum(s.steps for s in self.stages)
        self.snapshots = set(int(s) for s in (snapshot_steps or ()))
        self.images_per_draw = problem.order.numel()
        self.costs = [s.draws * self.images_per_draw * h * w for s, (h, w) in zip(self.stages, self.sizes)]
        self.key = fingerprint(problem.fixed, settings)
        self.draw_gen = seeds.generator(seeds.draw_seed(seed))
        self.first_size = self.sizes[0] if self.stages else self.out_size
        self.saved_step = None
        self.cancelled_in_start = False  # cancelled while its start was spaced: no step taken, nothing to save
        self.state, self.carry = self._start(recipe, seed, cancel)

    def _start(self, recipe: Recipe, seed: int, cancel: threading.Event | None) -> tuple[OptimizerState, StageCarry]:
        """The state to run from (the checkpoint's, or the recipe's start) and the carry between stages; a start
        cancelled while it was spaced is the plain dissolve (`cancelled_in_start`)."""
        problem, first_size = self.problem, self.first_size
        resuming = self.checkpoint is not None and os.path.exists(self.checkpoint)
        carries_start = recipe.init != "noise" and len(self.stages) >= 2  # StageCarry needs the full-size start
        times = None
        if recipe.init == "even" and problem.is_path and (carries_start or not resuming):
            # forward passes only; on resume recomputed (the same) for StageCarry's start, else not needed
            times = problem.even_times(self.family, first_size, seed, self.device, cancel)
            self.cancelled_in_start = times is None
        if resuming:
            state = load_checkpoint(self.checkpoint, self.key)
            self.draw_gen.set_state(state.draw_rng)
            self.saved_step = state.step
        else:
            start = problem.initial(recipe.init, resize(problem.fixed, first_size),
                                    seeds.generator(seeds.start_seed(seed)), times)
            state = OptimizerState(free=start)
            if times is not None and not self.cancelled_in_start:
                state.evaluations += problem.spacing_evaluations(first_size)
        carry = StageCarry(problem.initial(recipe.init, problem.fixed, seeds.generator(seeds.start_seed(seed)), times)
                           if carries_start else None)
        return state, carry

    def output(self, free: torch.Tensor) -> torch.Tensor:
        # a copy: on CPU at full size `free` would otherwise alias the parameter that later steps change in place
        return self.problem.output(self.carry(free.detach().float().cpu(), self.out_size), self.problem.fixed).clone()

    def save(self) -> None:
        self.state.draw_rng = self.draw_gen.get_state()
        try:
            save_checkpoint(self.checkpoint, self.state, self.key)
        except CheckpointWriteError as error:
            error.saved_step = self.saved_step
            raise
        self.saved_step = self.state.step

    def due(self, signals: _SignalCatcher) -> bool:
        """Whether a checkpoint is written after this update (a signal arrived, or every `checkpoint_every`)."""
        every = self.checkpoint_every
        return self.checkpoint is not None and (signals.received is not None or
                                                bool(every and self.state.step % every == 0))


def _run_stage(run: _Optimization, clock: _Clock, signals: _SignalCatcher, autocast, callback, cancel) -> str:
    """The updates of the state's current stage from its current step; "cancelled" or "completed"."""
    state, problem = run.state, run.problem
    stage, size = run.stages[state.stage], run.sizes[state.stage]
    metric = run.family.at_size(size)
    fixed = resize(problem.fixed, size).to(run.device)
    energy = problem.energy.to(run.device)
    param = state.free.to(run.device).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([param], lr=stage.lr)
    if state.optimizer is not None:
        optimizer.load_state_dict(state.optimizer)
    status = "completed"
    while state.stage_step < stage.steps:
        if cancel is not None and cancel.is_set():
            status = "cancelled"
            break
        lr = learning_rate(stage.schedule, state.stage_step + 1, stage.steps, stage.lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        draws = metric.sample_draws(stage.draws, run.draw_gen)
        with autocast:
            distances = energy.pair_distances(metric, problem.compose(param, fixed), draws)
        loss = energy.combine(distances.float().mean(0))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            param.clamp_(CLIP_LOW, CLIP_HIGH)

        state.energies.append((state.step, loss.item()))
        state.stage_step += 1
        state.step += 1
        state.evaluations += stage.draws * run.images_per_draw * (size[0] * size[1]) / (
            run.out_size[0] * run.out_size[1])
        elapsed, seconds_left = clock.step_done(state.stage, state.step)
        state.seconds = clock.prior_seconds + elapsed
        if run.due(signals):
            state.free, state.optimizer = param.detach(), optimizer.state_dict()
            run.save()
        if signals.received is not None:
            signals.redeliver()
        if callback is not None:
            snap = run.output(param) if state.step in run.snapshots else None
            callback(Progress(state.step, run.total, loss.item(), state.seconds, seconds_left, snap,
                              state.stage, size))
    state.free, state.optimizer = param.detach(), optimizer.state_dict()
    return status


def optimize(problem: Problem, family: DistanceFamily, recipe: Recipe, *, seed: int, device: torch.device,
             settings: dict, callback: Callable[[Progress], Any] | None = None,
             cancel: threading.Event | None = None, checkpoint: str | os.PathLike | None = None,
             checkpoint_every: int | None = None, snapshot_steps: Sequence[int] | None = None,
             dtype: str | None = None) -> tuple[torch.Tensor, OptimizerState, str]:
    """Run `recipe` on `problem`. Returns (output images on CPU, final state, status)."""
    autocast = _autocast(device, dtype)
    run = _Optimization(problem, family, recipe, seed, device, settings, checkpoint, checkpoint_every,
                        snapshot_steps, cancel)
    state = run.state
    if run.cancelled_in_start:  # no step taken and no spaced start to resume from: nothing saved
        return run.output(state.free), state, "cancelled"
    clock = _Clock(run.costs, run.stages, state)
    status = "completed"
    if callback is not None and state.step == 0 and 0 in run.snapshots:
        callback(Progress(0, run.total, math.nan, 0.0, None, run.output(state.free), 0, run.first_size))

    # a library call: the caller's `torch.no_grad()` (or an inference loop around it) must not stop the optimiser
    with torch.enable_grad(), _SignalCatcher(checkpoint is not None) as signals:
        while state.stage < len(run.stages):
            status = _run_stage(run, clock, signals, autocast, callback, cancel)
            if status == "cancelled":
                break
            state.stage += 1
            state.stage_step = 0
            state.optimizer = None
            if state.stage < len(run.stages):
                state.free = run.carry(state.free, run.sizes[state.stage])

    state.free = state.free.detach().cpu().float()
    state.seconds = clock.prior_seconds + clock.elapsed()
    if checkpoint is not None:
        try:
            run.save()
        except CheckpointWriteError:
            if status != "completed":  # a cancelled run's checkpoint is what resumes it
                raise
    return run.output(state.free), state, status
