"""The optical-flow interpolators a user would pick instead: OpenCV flow both ways with a midpoint warp.

Benchmark-only (``pip install .[motion]`` brings opencv-python-headless). Flow is computed both ways on
upsampled frames (OpenCV skips pyramid levels under 32 px, which leaves 64 px frames with almost no pyramid and
loses displacements of a few pixels), then each endpoint is warped to time t and the two warps are blended with
weights (1 - t, t), and the blend is brought back to the frames' size.

* :func:`farneback_frames`: Farneback flow on frames upsampled to at least 256 px (benchmarks/bench_motion.py);
* :func:`dis_frames`: DIS flow (OpenCV's medium preset) on frames upsampled 4x, the "DIS midpoint" baseline of
  benchmarks/bench_interpolation.py.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

WORK_SIZE = 256
DIS_FACTOR = 4
FARNEBACK = dict(pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def _uint8(image: torch.Tensor) -> np.ndarray:
    return (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def farneback_frames(a: torch.Tensor, b: torch.Tensor, times: list[float]) -> torch.Tensor:
    """Frames at `times` between a and b ((1, 3, H, W) in [0, 1]) as (len(times), 3, H, W)."""
    import cv2

    factor = max(1, math.ceil(WORK_SIZE / min(a.shape[-2:])))
    return _flow_frames(a, b, times, factor, lambda x, y: cv2.calcOpticalFlowFarneback(x, y, None, **FARNEBACK))


def dis_frames(a: torch.Tensor, b: torch.Tensor, times: list[float], factor: int = DIS_FACTOR) -> torch.Tensor:
    """Frames at `times` between a and b ((1, 3, H, W) in [0, 1]) as (len(times), 3, H, W), with DIS flow on the
    frames upsampled by `factor` (frames of a few hundred pixels have pyramid enough at factor 1)."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return _flow_frames(a, b, times, factor, lambda x, y: dis.calc(x, y, None))


def _flow_frames(a: torch.Tensor, b: torch.Tensor, times: list[float], factor: int, flow_of) -> torch.Tensor:
    """The midpoint warp with flow_of(gray_x, gray_y) -> (H, W, 2) (x(p) ~ y(p + flow(p))) on frames upsampled
    by `factor`."""
    import cv2

    height, width = a.shape[-2:]
    up = [F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False) for x in (a, b)]
    big_a, big_b = (_uint8(x) for x in up)
    gray_a, gray_b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (big_a, big_b))
    a_to_b = flow_of(gray_a, gray_b)
    b_to_a = flow_of(gray_b, gray_a)
    grid_y, grid_x = np.mgrid[0:gray_a.shape[0], 0:gray_a.shape[1]].astype(np.float32)

    def warp(image: np.ndarray, flow: np.ndarray, amount: float) -> np.ndarray:
        # backward warp: the frame at p shows what the flow carries there after `amount` of the motion
        return cv2.remap(image.astype(np.float32), grid_x - amount * flow[..., 0], grid_y - amount * flow[..., 1],
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    frames = []
    for t in times:
        blend = (1 - t) * warp(big_a, a_to_b, t) + t * warp(big_b, b_to_a, 1 - t)
        frame = torch.from_numpy(blend / 255.0).permute(2, 0, 1)[None].float()
        frames.append(F.interpolate(frame, size=(height, width), mode="area").clamp(0, 1))
    return torch.cat(frames)
