"""Flow fields between two images for the warp path (`geometry.paths.warps`): the engine's own, and OpenCV's DIS.

Both return u (1, 2, H, W) in pixels on the in-between grid: a(x - u/2) matches b(x + u/2).

:func:`engine_flow` finds it coarse to fine over an image pyramid (halving down to about MIN_SIDE px): a
displacement of several pixels at full size is a pixel or less at the coarsest level, where a local search
sees it. The coarsest level starts from the best global translation found by exhaustive search (half-pixel
steps); every level then fits a smooth flow (a control grid of about one point per GRID_SPACING pixels,
upsampled bilinearly) by Adam, minimising a robust (Charbonnier) difference of the two half-warped images and
of their gradients over the pixels both see, plus a small smoothness penalty; each level's flow, upsampled, is
the next level's start, at the levels up to FINE_SIDE px (short side; where the motion is found) fused first
with two candidates (:func:`fuse`, a fusion move with constant proposals): the coarsest level's translation and
zero flow. Each pixel takes the candidate whose mismatch, averaged over a
box of FUSION_WINDOW px around it, is clearly lower (FUSION_MARGIN, FUSION_FLOOR) than the current flow's, so a
still object in front of a pan (a wall beside a passing vehicle) is not dragged along with the global motion
into a false match of its texture, where a local fit cannot come back from, and flat regions, where every
candidate matches, keep the fitted flow (benchmarks/results/interpolation_256px_fusion.md). A level's fit takes
COARSE_STEPS steps up to FINE_SIDE px, FINE_STEPS at the finer levels, which
start from the motion the coarse levels found and only refine it (on real footage 0.38-0.42x the CPU of
COARSE_STEPS at every level at 256 px, 0.61-0.69x at 128 px, the warp path's middle frame's PSNR to the truth
changed by -0.25 to +0.03 dB: benchmarks/bench_clip_threads.py, benchmarks/results/bench_clip_threads.txt). The
distance is a pixel one, not the run's E-LPIPS: E-LPIPS's gradient does not see a correspondence several pixels
away, and the pixel fit is what lets the search take seconds (docs/motion.md). The search runs on the CPU in float32 and
one thread (`geometry.engine.threads`), deterministic, so a run computes the same flow on any device.

:func:`dis_flow` is OpenCV's DIS optical flow (``pip install 'elpips-torch[motion]'``), both ways, on frames
upsampled to at least DIS_WORK_SIDE px (it needs enough pixels for its pyramid), symmetrised onto the
in-between grid.
"""
from __future__ import annotations

import math
import threading
from typing import Callable

import torch
import torch.nn.functional as F

from geometry.engine import phases
from geometry.engine.inputs import resize
from geometry.engine.threads import single_threaded
from geometry.paths.warps import resize_flow, warp

MIN_SIDE = 8
GRID_SPACING = 4
COARSE_STEPS = 40            # Adam steps at a level whose short side is at most FINE_SIDE
FINE_STEPS = 10
FINE_SIDE = 64
LEARNING_RATE = 0.1          # pixels of the level per Adam step
SMOOTHNESS = 0.01
CHARBONNIER_EPS = 1e-3
SEARCH_REACH = 0.35          # exhaustive translation search: up to this fraction of the coarsest side
FUSION_WINDOW = 31           # px of the level: the box over which a candidate's local mismatch is averaged
FUSION_MARGIN = 0.2          # a candidate takes a pixel where its local mismatch * (1 + this) + FUSION_FLOOR ...
FUSION_FLOOR = 0.003         # ... is below the current flow's (so flat, ambiguous regions keep the current flow)
FUSION_SEEN = 0.25           # a local mismatch counts where at least this share of its box is seen by both images
DIS_WORK_SIDE = 256
MISSING_CV2 = "DIS flow needs OpenCV: pip install 'elpips-torch[motion]'"


def pyramid_sizes(size: tuple[int, int]) -> list[tuple[int, int]]:
    """The pyramid's level sizes, coarsest first, the finest `size` itself (halving while the short side stays
    at least MIN_SIDE)."""
    sizes = [tuple(size)]
    while min(sizes[-1]) // 2 >= MIN_SIDE:
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes[::-1]


def mismatch(a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The robust difference of a(x - flow/2) and b(x + flow/2) and of their gradients, over pixels both see."""
    diff, seen = _half_warped_difference(a, b, flow)
    terms = [diff, diff[..., :, 1:] - diff[..., :, :-1], diff[..., 1:, :] - diff[..., :-1, :]]
    masks = [seen, seen[..., :, 1:] * seen[..., :, :-1], seen[..., 1:, :] * seen[..., :-1, :]]
    total = 0.0
    for term, mask in zip(terms, masks):
        robust = (term.square() + CHARBONNIER_EPS ** 2).sqrt()
        total = total + (robust * mask).sum() / (mask.sum() * term.shape[1]).clamp_min(1.0)
    return total


def _half_warped_difference(a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a(x - flow/2) - b(x + flow/2), the mask of the pixels both see)."""
    from_a, inside_a = warp(a, -0.5 * flow)
    from_b, inside_b = warp(b, 0.5 * flow)
    return from_a - from_b, inside_a * inside_b


def level_steps(size: tuple[int, int]) -> int:
    """Adam steps of the level of size (H, W): COARSE_STEPS up to FINE_SIDE px (short side), else FINE_STEPS."""
    return COARSE_STEPS if min(size) <= FINE_SIDE else FINE_STEPS


def best_translation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(1, 2, H, W): the constant flow of half-pixel steps within SEARCH_REACH of the side that best matches;
    of equally good ones the shortest (a featureless image does not move)."""
    reach = max(1.0, SEARCH_REACH * min(a.shape[-2:]))
    offsets = (torch.arange(-math.floor(2 * reach), math.floor(2 * reach) + 1, dtype=torch.float32) / 2).tolist()
    candidates = sorted(((dx, dy) for dy in offsets for dx in offsets), key=lambda c: (c[0] ** 2 + c[1] ** 2, c))
    best, best_cost = torch.zeros(1, 2, 1, 1), math.inf
    with torch.no_grad():
        for dx, dy in candidates:
            flow = torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1)
            cost = mismatch(a, b, flow.expand(1, 2, *a.shape[-2:])).item()
            if cost < best_cost * (1 - 1e-4) - 1e-9:
                best, best_cost = flow, cost
    return best.expand(1, 2, *a.shape[-2:]).clone()


def fit_level(a: torch.Tensor, b: torch.Tensor, start: torch.Tensor,
              cancel: threading.Event | None = None) -> torch.Tensor | None:
    """The smooth flow at one level from `start` (dense, at the level's size); None when cancelled."""
    size = tuple(a.shape[-2:])
    grid_size = tuple(max(2, side // GRID_SPACING) for side in size)
    control = F.interpolate(start, size=grid_size, mode="area").clone().requires_grad_(True)
    optimizer = torch.optim.Adam([control], lr=LEARNING_RATE)
    with torch.enable_grad():
        for _ in range(level_steps(size)):
            if cancel is not None and cancel.is_set():
                return None
            flow = F.interpolate(control, size=size, mode="bilinear", align_corners=True)
            smooth = ((control[..., 1:, :] - control[..., :-1, :]).square().mean()
                      + (control[..., :, 1:] - control[..., :, :-1]).square().mean())
            loss = mismatch(a, b, flow) + SMOOTHNESS * smooth
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return F.interpolate(control.detach(), size=size, mode="bilinear", align_corners=True)


def local_mismatch(a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W): `mismatch`'s robust terms per pixel, averaged over the FUSION_WINDOW box around it over the
    pixels both images see; inf where less than FUSION_SEEN of the box is seen (no evidence)."""
    diff, seen = _half_warped_difference(a, b, flow)
    terms = [diff, F.pad(diff[..., :, 1:] - diff[..., :, :-1], (0, 1)),
             F.pad(diff[..., 1:, :] - diff[..., :-1, :], (0, 0, 0, 1))]
    cost = sum((term.square() + CHARBONNIER_EPS ** 2).sqrt().mean(1, keepdim=True) for term in terms)
    total, share = _box_mean(cost * seen), _box_mean(seen)
    return torch.where(share >= FUSION_SEEN, total / share.clamp_min(1e-6), torch.full_like(total, math.inf))


def _box_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean over the FUSION_WINDOW box around each pixel (within the image), separably."""
    half = FUSION_WINDOW // 2
    x = F.avg_pool2d(x, (FUSION_WINDOW, 1), 1, (half, 0), count_include_pad=False)
    return F.avg_pool2d(x, (1, FUSION_WINDOW), 1, (0, half), count_include_pad=False)


def fuse(a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor, candidates: list[torch.Tensor]) -> torch.Tensor:
    """`flow` with each pixel taken from the candidate flow (each (1, 2, H, W)) of the lowest `local_mismatch`,
    a candidate's weighed by FUSION_MARGIN and FUSION_FLOOR against the current flow's."""
    with torch.no_grad():
        costs = torch.cat([local_mismatch(a, b, flow)]
                          + [local_mismatch(a, b, c) * (1 + FUSION_MARGIN) + FUSION_FLOOR for c in candidates], 1)
        choice = costs.argmin(1, keepdim=True)
        fused = flow.clone()
        for index, candidate in enumerate(candidates, start=1):
            fused = torch.where(choice == index, candidate, fused)
    return fused


@single_threaded
def engine_flow(a: torch.Tensor, b: torch.Tensor, *, cancel: threading.Event | None = None,
                saved: tuple[int, torch.Tensor] | None = None,
                save: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor | None:
    """The flow from a to b ((1, 3, H, W) in [0, 1]) found coarse to fine (see the module); None when `cancel`
    is set before it is done. `save(level, flow)` is called after each level; `saved` = (level, flow), what
    an interrupted search saved, continues after that level. Reports its progress as the phase "flow search"
    (`geometry.engine.phases`), each level's share by its pixels."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    sizes = pyramid_sizes(tuple(a.shape[-2:]))
    first, flow = 0, None
    if saved is not None:
        first, flow = saved[0] + 1, saved[1].float()
    pixels = [height * width for height, width in sizes]
    translation = best_translation(resize(a, sizes[0]), resize(b, sizes[0]))
    for level in range(first, len(sizes)):
        phases.report("flow search", sum(pixels[:level]) / sum(pixels))
        level_a, level_b = resize(a, sizes[level]), resize(b, sizes[level])
        if flow is None:
            start = translation
        else:
            start = resize_flow(flow, sizes[level])
            if min(sizes[level]) <= FINE_SIDE:
                start = fuse(level_a, level_b, start, [resize_flow(translation, sizes[level]),
                                                       torch.zeros(1, 2, *sizes[level])])
        flow = fit_level(level_a, level_b, start, cancel)
        if flow is None:
            return None
        if save is not None:
            save(level, flow)
    return flow


def dis_flow(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """OpenCV DIS flow from a to b ((1, 3, H, W) in [0, 1]) on the in-between grid; needs opencv."""
    forward, backward = _dis_both_ways(a, b)
    return resize_flow((forward - backward) / 2, tuple(a.shape[-2:]))


#: The forward-backward consistency test of Sundaram, Brox and Keutzer (ECCV 2010): a pixel p of a is seen in b
#: where |f(p) + g(p + f(p))|^2 <= FB_RELATIVE (|f(p)|^2 + |g(p + f(p))|^2) + FB_ABSOLUTE (pixels^2 at DIS's size).
FB_RELATIVE = 0.01
FB_ABSOLUTE = 0.5


def dis_visibility(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(seen_a, seen_b), each (1, 1, H, W) in [0, 1]: the share of each pixel of a seen in b (and of b in a) by
    the forward-backward consistency of OpenCV's DIS flows (FB_RELATIVE, FB_ABSOLUTE), found on the frames
    upsampled for DIS and averaged down to the images' size; needs opencv."""
    forward, backward = _dis_both_ways(a, b)
    size = tuple(a.shape[-2:])
    return (F.interpolate(_consistent(forward, backward), size=size, mode="area"),
            F.interpolate(_consistent(backward, forward), size=size, mode="area"))


def _consistent(there: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W) in {0, 1}: the pixels whose flow `there` is undone by the flow `back` where it lands."""
    returned, inside = warp(back, there)
    error = (there + returned).square().sum(1, keepdim=True)
    bound = FB_RELATIVE * (there.square().sum(1, keepdim=True) + returned.square().sum(1, keepdim=True)) + FB_ABSOLUTE
    return ((error <= bound) & (inside > 0)).float()


def _dis_both_ways(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenCV DIS flows a -> b (on a's grid) and b -> a (on b's) in pixels of the frames upsampled to at least
    DIS_WORK_SIDE px (the flows' own size)."""
    try:
        import cv2
    except ImportError as error:
        raise ImportError(MISSING_CV2) from error
    height, width = a.shape[-2:]
    factor = max(1, math.ceil(DIS_WORK_SIDE / min(height, width)))
    big = [F.interpolate(x.detach().float().cpu(), scale_factor=factor, mode="bicubic", align_corners=False)
           for x in (a, b)]
    gray = [(_luma(x) * 255 + 0.5).clamp(0, 255).to(torch.uint8)[0, 0].numpy() for x in big]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    forward = torch.from_numpy(dis.calc(gray[0], gray[1], None)).permute(2, 0, 1)[None]
    backward = torch.from_numpy(dis.calc(gray[1], gray[0], None)).permute(2, 0, 1)[None]
    return forward, backward


def _luma(image: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).view(1, 3, 1, 1)
    return (image.clamp(0, 1) * weights).sum(1, keepdim=True)
