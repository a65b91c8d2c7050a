"""Clips for in-between frames: reading a clip, planning the output's timing, finding scene cuts.

``elpips-geodesic`` turns a clip into a smoother one by computing a geodesic between every pair of
consecutive frames (`geometry.api.geodesic`). This module holds what that needs besides the engine:

* :func:`read_clip`: a video file (frames, frame rate, and whether it has an audio track to copy) or a
  folder of numbered frames (PNG/JPEG..., in numeric order; the frame rate is given);
* :class:`TimingPlan`: which output frame shows which time. Every pair's geodesic has ``grid + 1`` evenly
  spaced frames (its times 0, 1/grid, ..., 1); output frame n shows frame j of pair i, the time i + j/grid in
  input frames. :func:`insert_plan` puts K frames between every pair (grid K + 1, the rate times K + 1, the
  same duration); :func:`rate_plan` hits a target rate F: output frame n is at the input time n * fps / F.
  When F / fps is p / q with a small p the grid is p and every frame is at its exact time (24 -> 60 fps: grid
  5, two or three in-betweens per pair); otherwise (29.97 -> 60) the grid is the smallest that puts every
  frame within a quarter of an output frame of its time, and the largest offset is recorded. Frames of the
  grid that no output frame shows are still optimised: they are part of the path the shown ones lie on.
* :func:`consecutive_distances` and :data:`CUT_THRESHOLDS`: a pair whose frames are unrelated (a scene cut)
  is not morphed. Consecutive frames are compared under the run's distance at a small size (short side
  `CUT_SIDE`) on the frames as they are: E-LPIPS's network without its random transformations (`CUT_DRAWS` = 0:
  one deterministic evaluation per frame, each frame embedded once for both its pairs, rather than an average
  over random draws: 8 draws made the same decisions at several times the CPU); a pair at or above the
  threshold is a cut. The default thresholds sit between the distances of moving content and of unrelated
  pictures, as measured by ``python benchmarks/bench_clip.py --cut-distances --real`` (generated pans and
  objects against unrelated pictures; the interpolation benchmark's real clips, their cuts and clips spliced
  together: benchmarks/results/bench_clip_cut_distances.txt). Content that moves by a large part of the frame
  per frame can count as a cut (docs/motion.md).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from elpips.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: Distance at or above which two consecutive frames count as a scene cut, per distance (see the module doc).
CUT_THRESHOLDS = {"elpips_vgg": 0.05, "lpips_vgg": 0.045, "vgg": 0.5, "alex": 0.3, "l2": 0.06}
CUT_SIDE = 64
#: Random draws the check averages over; 0: none, the frames as they are (see the module doc).
CUT_DRAWS = 0
#: The largest grid (geodesic steps per pair) a --to-fps plan uses for an exact timing before it rounds.
MAX_EXACT_GRID = 8


@dataclass(frozen=True)
class ClipInput:
    """The frames of a clip and where they came from."""

    frames: np.ndarray            # (T, H, W, 3) uint8
    fps: float
    sources: tuple[Path, ...]     # the files read (a video, or the frame images in order)
    audio: Path | None = None     # a video whose audio track can be copied into the output


def read_clip(path: str | os.PathLike, fps: float | None = None) -> ClipInput:
    """A video file, or a folder of frame images in numeric order at ``fps`` (required for a folder).

    Raises InputError (one line) for a missing path, an unreadable video or frame, frames of different sizes,
    or fewer than two frames.
    """
    from geometry.service import video

    path = Path(path)
    if path.is_dir():
        if fps is None:
            raise InputError(f"{path} is a folder of frames: give its frame rate with --input-fps")
        files = frame_files(path)
        frames = _read_frames(files)
        clip = ClipInput(frames, float(fps), tuple(files))
    else:
        if fps is not None:
            raise InputError("--input-fps applies to a folder of frames; a video file has its own frame rate")
        decoded = video.read_video(path)
        clip = ClipInput(decoded.frames, decoded.fps, (path,), path if video.has_audio(path) else None)
    if len(clip.frames) < 2:
        raise InputError(f"{path} has {len(clip.frames)} frame; in-between frames need at least 2")
    return clip


def source_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a clip's contents: the video file's bytes, or a folder's frame files (names and bytes, in
    order), so that a changed clip is recomputed."""
    import hashlib

    path = Path(path)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if not path.is_dir():
        raise InputError("not found: give a video file or a folder of frames")
    digest = hashlib.sha256()
    for file in frame_files(path):
        digest.update(file.name.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def frame_files(folder: Path) -> list[Path]:
    """The image files in ``folder`` in numeric order (frame_2 before frame_10), then by name."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise InputError(f"{folder} holds no frame images ({', '.join(IMAGE_SUFFIXES)})")
    return sorted(files, key=lambda p: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", p.name)])


def _read_frames(files: list[Path]) -> np.ndarray:
    import elpips
    from geometry.service.video import to_uint8_frames

    frames = [to_uint8_frames(elpips.load_image(f))[0] for f in files]
    sizes = {frame.shape[:2] for frame in frames}
    if len(sizes) > 1:
        odd = next(f for f, frame in zip(files, frames) if frame.shape[:2] != frames[0].shape[:2])
        raise InputError(f"the frames differ in size: {files[0].name} is {frames[0].shape[1]}x{frames[0].shape[0]}, "
                         f"{odd.name} is not; give frames of one size")
    return np.stack(frames)


@dataclass(frozen=True)
class TimingPlan:
    """Which time of which pair every output frame shows (see the module docstring)."""

    grid: int                                 # a pair's geodesic has grid + 1 frames
    positions: tuple[tuple[int, int], ...]    # output frame n: (pair i, step j), the time i + j / grid
    fps: float                                # the output rate that keeps the input's timing
    max_error: float = 0.0                    # largest offset of a frame from its exact time, in input frames

    def steps_shown(self, pair: int) -> tuple[int, ...]:
        """The in-between steps (1 .. grid - 1) of ``pair`` that an output frame shows."""
        return tuple(sorted({j for i, j in self.positions if i == pair and j > 0}))

    def frames_of_pair(self, pair: int) -> list[tuple[int, int]]:
        """(output index, step 0 .. grid) of every output frame in ``pair``, its end frames included."""
        return [(n, j if i == pair else self.grid) for n, (i, j) in enumerate(self.positions)
                if i == pair or (i == pair + 1 and j == 0)]

    def to_dict(self) -> dict:
        return {"grid": self.grid, "fps": self.fps, "frames": len(self.positions), "max_error": self.max_error}


def insert_plan(count: int, fps: float, insert: int) -> TimingPlan:
    """``insert`` frames between each of ``count`` frames: the rate times insert + 1, the same duration (the
    last input frame ends the output, as in RIFE)."""
    grid = insert + 1
    positions = [(i, j) for i in range(count - 1) for j in range(grid)] + [(count - 1, 0)]
    return TimingPlan(grid, tuple(positions), fps * grid)


def rate_plan(count: int, fps: float, to_fps: float) -> TimingPlan:
    """Output frames at ``to_fps`` over the time of ``count`` frames at ``fps`` (output frame n at the input time
    n * fps / to_fps, up to the last input frame)."""
    if not to_fps > 0:
        raise InputError(f"--to-fps must be positive, got {to_fps}")
    speed = fps / to_fps                          # input frames per output frame
    times = [n * speed for n in range(math.floor((count - 1) / speed + 1e-9) + 1)]
    ratio = (Fraction(to_fps) / Fraction(fps)).limit_denominator(1000)
    limit = max(MAX_EXACT_GRID, 2 * math.ceil(to_fps / fps))
    tolerance = speed / 4
    if ratio.numerator <= limit:
        grid = ratio.numerator
    else:
        grid = next((g for g in range(1, limit + 1) if _largest_offset(times, g) <= tolerance), limit)
    positions, error = [], 0.0
    for time in times:
        i, j = divmod(round(time * grid), grid)
        if i >= count - 1:
            i, j = count - 1, 0
        positions.append((i, j))
        error = max(error, abs(i + j / grid - time))
    return TimingPlan(grid, tuple(positions), float(to_fps), round(error, 9))


def _largest_offset(times: list[float], grid: int) -> float:
    return max(abs(round(t * grid) / grid - t) for t in times)


def consecutive_distances(frames: np.ndarray, distance: Any, device: Any = None, *, side: int = CUT_SIDE,
                          draws: int = CUT_DRAWS, seed: int = 0, chunk: int = 16) -> list[float]:
    """The distance between every pair of consecutive frames ((T, H, W, 3) uint8), under ``distance`` (a name or
    a loaded metric) at short side ``side`` (or the frames' own when smaller), averaged over ``draws`` seeded
    draws shared by every pair; ``draws`` 0: on the frames as they are (E-LPIPS without its transformations)."""
    import torch

    from geometry.engine.distances import DistanceFamily, resolve_device
    from geometry.engine.inputs import resize, target_size

    device = resolve_device(device, distance if not isinstance(distance, str) else None)
    size = target_size(frames.shape[1:3], min(side, min(frames.shape[1:3])))
    metric = DistanceFamily(distance, device).at_size(size)
    if draws == 0 and getattr(getattr(metric, "config", None), "transforms", None) is not None:
        from elpips.transforms import Draws

        sampled = Draws.identities(1)
    else:
        sampled = metric.sample_draws(max(1, draws), torch.Generator().manual_seed(int(seed)))
    distances: list[float] = []
    with torch.no_grad():
        for start in range(0, len(frames) - 1, chunk):
            part = torch.from_numpy(np.ascontiguousarray(frames[start:start + chunk + 1])).permute(0, 3, 1, 2)
            images = resize(part.float().div(255), size).to(device)
            pairs = torch.arange(len(images) - 1, device=device)
            embedding = metric.embed(images, sampled)
            distances += metric.embedding_distance(embedding, pairs, pairs + 1).mean(0).double().cpu().tolist()
    return distances


def cut_threshold(distance_name: str, given: float | None) -> float:
    """``given``, or the default for the distance (InputError when there is none)."""
    if given is not None:
        return float(given)
    if distance_name not in CUT_THRESHOLDS:
        raise InputError(f"no default scene-cut threshold for the distance {distance_name!r}: give --cut-threshold")
    return CUT_THRESHOLDS[distance_name]


def montage_columns(plan: TimingPlan, working: Callable[[int], Any]) -> tuple[np.ndarray, np.ndarray]:
    """What a montage sets beside the output: for every output frame, the input frame on screen at its time (the
    latest one, held) and the cross-dissolve of its pair at its time; (T, H, W, 3) uint8 each. ``working(i)``
    gives input frame i at the output size, (1, 3, H, W) in [0, 1]."""
    import torch

    from geometry.service.video import to_uint8_frames

    frame = lru_cache(maxsize=4)(working)  # the positions go forward: each input frame is resized once
    held, dissolve = [], []
    for i, j in plan.positions:
        a = frame(i)
        held.append(a)
        dissolve.append(a if j == 0 else (1 - j / plan.grid) * a + (j / plan.grid) * frame(i + 1))
    return to_uint8_frames(torch.cat(held)), to_uint8_frames(torch.cat(dissolve))
