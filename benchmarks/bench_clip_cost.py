"""The cost model of `geometry.service.cost`: CPU seconds per pixel of a pair's parts, measured.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_clip_cost.py [--sizes 64 128 256] [--output 480x854]

Prints the CPU seconds (this process, all threads: `time.process_time`) of the engine's flow between two frames
of a photo panned by 3 % of its side at each working size (and a fit: seconds + seconds per pixel); of rendering
one in-between frame at the output size, per output pixel; of the pixel refinement (the fast preset, 3-frame
geodesic, E-LPIPS) per evaluated pixel (`geometry.service.cost.refine_pixel_evaluations`, from two step counts)
and its even spacing and set-up per working pixel; beside each, what the model of `geometry.service.cost` says,
so that a drift shows.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from geometry import geodesic
from geometry.engine.inputs import prepare_images, resize
from geometry.paths.flows import engine_flow
from geometry.paths.render import WarpPath
from geometry.service import cost

REPO = Path(__file__).resolve().parents[1]


def _photo(size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    image = prepare_images([REPO.parent / "shared" / "data" / "elpips_inputs" / "small" / "cat64.png"])
    big = resize(image, (size[0], size[1] + size[1] // 16))
    shift = max(1, size[1] // 32)
    return big[..., :, :size[1]].contiguous(), big[..., :, shift:shift + size[1]].contiguous()


def _cpu(work) -> float:
    began = time.process_time()
    work()
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--output", default="480x854")
    parser.add_argument("--refine-size", type=int, default=64)
    parser.add_argument("--refine-steps", type=int, nargs=2, default=[4, 16])
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}")
    engine_flow(*_photo((32, 32)))  # the first call's set-up is no pair's
    flows = {}
    for side in args.sizes:
        a, b = _photo((side, side))
        flows[side] = _cpu(lambda: engine_flow(a, b))
        print(f"flow at {side}x{side}: {flows[side]:.2f} CPU s (model {cost.flow_seconds((side, side)):.2f})")
    small, large = min(flows), max(flows)
    per_pixel = (flows[large] - flows[small]) / (large ** 2 - small ** 2)
    print(f"  fit: {flows[small] - per_pixel * small ** 2:.2f} s + {per_pixel:.2e} s/px "
          f"(model {cost.FLOW_SECONDS:.2f} s + {cost.FLOW_SECONDS_PER_PIXEL:.2e} s/px)")
    height, width = (int(n) for n in args.output.split("x"))
    a, b = _photo((height, width))
    flow = torch.zeros(1, 2, 64, 112)
    flow[:, 0] = 1.0
    path = WarpPath(flow, torch.ones(1, 1, 64, 112), torch.ones(1, 1, 64, 112))
    seconds = _cpu(lambda: path.frames(a, b, torch.tensor([0.5], dtype=torch.float64)))
    print(f"render of one {width}x{height} frame (with visibility): {seconds:.3f} CPU s, "
          f"{seconds / (height * width):.2e} s/px (model {cost.RENDER_SECONDS_PER_PIXEL:.2e})")
    side = args.refine_size
    a, b = _photo((side, side))
    geodesic(a, b, frames=3, refine="pixels", steps=1, seed=0, snapshot_steps=[])  # loads the network
    unrefined = _cpu(lambda: geodesic(a, b, frames=3, refine="none", seed=0, snapshot_steps=[]))
    few, many = args.refine_steps
    refined = {steps: _cpu(lambda: geodesic(a, b, frames=3, refine="pixels", steps=steps, seed=0, snapshot_steps=[]))
               for steps in (few, many)}
    pixels = {steps: cost.refine_pixel_evaluations((side, side), 3, steps=steps) for steps in (few, many)}
    per_pixel = (refined[many] - refined[few]) / (pixels[many] - pixels[few])
    fixed = refined[few] - unrefined - per_pixel * pixels[few]
    print(f"pixel refinement at {side}x{side}, 3 frames: {few} steps {refined[few] - unrefined:.2f} CPU s, "
          f"{many} steps "
          f"{refined[many] - unrefined:.2f} CPU s beyond the unrefined start: {per_pixel:.2e} s per evaluated px "
          f"(model {cost.REFINE_SECONDS_PER_PIXEL:.2e}) + {fixed / side ** 2:.2e} s per working px for the even "
          f"spacing and set-up (model {cost.SPACING_SECONDS_PER_PIXEL:.2e})")


if __name__ == "__main__":
    main()
