"""The warp path as parameters: a flow, a per-pixel visibility and a small residual, rendered at any size.

A :class:`WarpPath` is found at the working size (`--size`) and rendered at any other, such as the inputs' own
(a 720p clip gets 720p in-betweens): the flow is resampled and its displacements scaled by the size ratio, the
visibility and the residual are resampled, and the full-size endpoints are warped. Times 0 and 1 return the
endpoints themselves, bit for bit.

With u the flow from a to b on the in-between grid (`geometry.paths.warps`), the frame at time t is

    x(t) = (w_a a(x - t u) + w_b b(x + (1 - t) u)) / (w_a + w_b) + 4 t (1 - t) r(x),
    w_a = (1 - t) inside_a seen_b(x + (1 - t) u),   w_b = t inside_b seen_a(x - t u),

where seen_a (on a's grid, in [0, 1]) says how much of each pixel of a is seen in b, and seen_b the same of b
in a. A pixel of b that a does not show (background uncovered by a moving object) makes the sample from a
wrong there (it shows the object): its weight goes, and the frame takes the uncovered side instead of
blending both into a halo. Without visibility maps (both seen everywhere) it is the fixed blend of
the warp path of `geometry.paths.warps`. The visibility maps come from a forward-backward consistency check of
two flows (`geometry.paths.flows.dis_visibility`), or are optimised.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from geometry.engine.threads import single_threaded
from geometry.paths.warps import warp

#: A side's weight never falls below this share of the fixed blend's, so that a pixel neither side sees
#: blends both instead of dividing by nothing.
FLOOR = 1e-3


def field_at(field: torch.Tensor, size: tuple[int, int], *, displacement: bool = False) -> torch.Tensor:
    """`field` (N, C, h, w) resampled to `size` (H, W) bilinearly, pixel centres aligned as images are resized
    (`geometry.engine.inputs.resize`); with `displacement` its two channels (x, y in pixels) are scaled by the
    size ratio."""
    if tuple(field.shape[-2:]) == tuple(size):
        return field
    height, width = field.shape[-2:]
    resized = F.interpolate(field, size=tuple(size), mode="bilinear", align_corners=False)
    if not displacement:
        return resized
    scale = torch.tensor([size[1] / width, size[0] / height], dtype=field.dtype, device=field.device)
    return resized * scale.view(1, 2, 1, 1)


@dataclass(frozen=True)
class WarpPath:
    """A warp path's parameters at the working size (see the module): ``flow`` (1, 2, h, w) in working pixels,
    ``seen_a``/``seen_b`` (1, 1, h, w) in [0, 1] or None (seen everywhere), ``residual`` (1, 3, h, w) or None."""

    flow: torch.Tensor
    seen_a: torch.Tensor | None = None
    seen_b: torch.Tensor | None = None
    residual: torch.Tensor | None = None

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.flow.shape[-2:])

    @single_threaded
    def frames(self, a: torch.Tensor, b: torch.Tensor, times: torch.Tensor, *, clamp: bool = True) -> torch.Tensor:
        """(T, 3, H, W): the frames at `times` of the path between a and b ((1, 3, H, W), any size: the
        parameters are resampled to it); times 0 and 1 are a and b themselves. Differentiable in the parameters
        (``clamp=False`` keeps the gradient where a frame leaves [0, 1])."""
        size = tuple(a.shape[-2:])
        if tuple(b.shape[-2:]) != size:
            raise ValueError(f"a and b must have one size, got {tuple(a.shape)} and {tuple(b.shape)}")
        flow = field_at(self.flow.to(a.dtype), size, displacement=True)
        seen_a = None if self.seen_a is None else field_at(self.seen_a.to(a.dtype), size)
        seen_b = None if self.seen_b is None else field_at(self.seen_b.to(a.dtype), size)
        residual = None if self.residual is None else field_at(self.residual.to(a.dtype), size)
        frames = []
        for t in times.tolist():
            if t in (0.0, 1.0):  # the endpoints themselves, not resampled
                frames.append(a if t == 0.0 else b)
                continue
            frame = _blend(a, b, flow, seen_a, seen_b, t)
            if residual is not None:
                frame = frame + 4 * t * (1 - t) * residual
            frames.append(frame.clamp(0, 1) if clamp else frame)
        return torch.cat(frames)


def _blend(a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor, seen_a: torch.Tensor | None,
           seen_b: torch.Tensor | None, t: float) -> torch.Tensor:
    from_a, inside_a = warp(a, -t * flow)
    from_b, inside_b = warp(b, (1 - t) * flow)
    weight_a, weight_b = (1 - t) * inside_a, t * inside_b
    if seen_a is not None or seen_b is not None:  # a side is wrong where the other side's pixel is not seen in it
        weight_a = weight_a * (_sampled(seen_b, (1 - t) * flow) + FLOOR)
        weight_b = weight_b * (_sampled(seen_a, -t * flow) + FLOOR)
    neither = (inside_a + inside_b) <= 0  # both sources outside the image: the plain dissolve of the two
    weight_a = torch.where(neither, torch.full_like(weight_a, 1 - t), weight_a)
    weight_b = torch.where(neither, torch.full_like(weight_b, t), weight_b)
    return (weight_a * from_a + weight_b * from_b) / (weight_a + weight_b)


def _sampled(seen: torch.Tensor | None, flow: torch.Tensor) -> torch.Tensor | float:
    return 1.0 if seen is None else warp(seen, flow)[0].clamp(0, 1)


@single_threaded
def render_result(images: torch.Tensor, inputs: torch.Tensor, endpoints: torch.Tensor, geodesic: bool,
                  shape, times: torch.Tensor | None, refined: bool) -> torch.Tensor:
    """A run's `images` (at the working size of its fixed `inputs`) at the size of `endpoints` (the same fixed
    images at that size): the start's path `shape` (an object with ``frames(a, b, times)``; None: no path, the
    images are resampled) rendered between the first two endpoints at `times`, plus, where the run `refined` the
    start, the refinement's change resampled; a geodesic's first and last frames are the endpoints themselves."""
    size = tuple(endpoints.shape[-2:])
    if size == tuple(images.shape[-2:]):
        return images
    free = images[1:-1] if geodesic else images
    if shape is None:
        middle = field_at(free, size)
    else:
        a, b = endpoints[0:1], endpoints[1:2]
        middle = shape.frames(a, b, times)
        if refined:
            change = free - shape.frames(inputs[0:1], inputs[1:2], times)
            middle = middle + field_at(change, size)
    middle = middle.clamp(0, 1)
    return torch.cat([endpoints[0:1], middle, endpoints[1:2]]) if geodesic else middle


def render_bytes(frames: int, size: tuple[int, int]) -> int:
    """Peak bytes of rendering `frames` frames at `size` (H, W): the endpoints, the frames and, per frame, the
    resampled flow, visibility and residual, both warped endpoints, their masks and weights (float32)."""
    height, width = size
    return 4 * height * width * (3 * (2 + frames) + 2 + 2 + 3 + 2 * 3 + 4 * 1 + 3)
