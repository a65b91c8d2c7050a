"""Threads, parallel pairs and flow steps of the warp-only mode, measured on real footage.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_clip_threads.py [--parts threads workers steps]

What the docs and code say of them, each against its baseline in the same run (CPU seconds: `time.process_time`
of the process doing the work, every thread; wall seconds: `time.perf_counter`; the 1-minute load average is
printed before each part, since wall times on shared cores depend on it):

* threads: the engine's flow (`geometry.paths.flows.engine_flow`) at --size and the render of one in-between frame
  at 480p (`geometry.paths.render.WarpPath`) with 1 torch thread (the engine's setting,
  `geometry.engine.threads`: the baseline) and with 2, interleaved, --repeats rounds, per clip;
* workers: --pairs consecutive pairs of bigbuckbunny (each: the flow at --size and the 480p render), one at a time
  in one worker process (the baseline) and two at a time in two (what `elpips-geodesic --workers 2` does with a
  clip's pairs): wall time of the whole and CPU seconds summed over the pairs;
* steps: the flow with FINE_STEPS Adam steps at the levels above FINE_SIDE (the engine's setting) against
  COARSE_STEPS at every level (the baseline: the search before), at each of --step-sizes, per triplet: CPU seconds
  and the PSNR of the warp path's middle frame to the true middle frame (frames i and i + 2 in, i + 1 the truth).

Clips and triplets: `benchmarks/real_clips.py` (its rule; one triplet per clip at gap 2).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interpolation_scores import psnr  # noqa: E402
from real_clips import CLIPS, clip_triplets, read_frames, working_frames  # noqa: E402

from geometry.paths import flows  # noqa: E402
from geometry.paths.render import WarpPath  # noqa: E402

HALF = torch.tensor([0.5], dtype=torch.float64)
OUTPUT_SIDE = 480


def measured(work) -> tuple[float, float]:
    """(CPU s, wall s) of work()."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def with_threads(count: int, work):
    """work() with `count` intra-op threads (the engine's own functions set one; their unwrapped bodies are run)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        return work()
    finally:
        torch.set_num_threads(before)


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def part_threads(size: int, repeats: int) -> None:
    print(f"## threads: flow at {size} px and one 480p render, 1 (baseline) vs 2 torch threads, {load()}")
    search = flows.engine_flow.__wrapped__  # without the engine's one-thread setting
    print("| clip | work | threads | CPU s | wall s | CPU vs 1 thread | wall vs 1 thread |")
    print("|---|---|---|---|---|---|---|")
    for small, large in zip(clip_triplets(list(CLIPS), size, 2, 1), clip_triplets(list(CLIPS), OUTPUT_SIDE, 2, 1)):
        a, b = small.frames[0:1], small.frames[2:3]
        flow = search(a, b)
        path = WarpPath(flow)
        works = {f"flow {a.shape[-1]}x{a.shape[-2]}": lambda: search(a, b),
                 f"render {large.frames.shape[-1]}x{large.frames.shape[-2]}":
                     lambda: path.frames(large.frames[0:1], large.frames[2:3], HALF)}
        for name, work in works.items():
            totals = {1: [0.0, 0.0], 2: [0.0, 0.0]}
            for _ in range(repeats):
                for count in (1, 2):
                    cpu, wall = with_threads(count, lambda: measured(work))
                    totals[count][0] += cpu / repeats
                    totals[count][1] += wall / repeats
            for count in (1, 2):
                cpu, wall = totals[count]
                print(f"| {small.clip} | {name} | {count} | {cpu:.2f} | {wall:.2f} | {cpu / totals[1][0]:.2f}x "
                      f"| {wall / totals[1][1]:.2f}x |", flush=True)


def _pair(job: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]) -> float:
    """One pair as the warp-only mode does it (flow at the working size, the 480p render); its CPU seconds."""
    a, b, big_a, big_b = job
    began = time.process_time()
    WarpPath(flows.engine_flow(a, b)).frames(big_a, big_b, HALF)
    return time.process_time() - began


def part_workers(size: int, pairs: int) -> None:
    print(f"## workers: {pairs} bigbuckbunny pairs (flow at {size} px, 480p render), 1 (baseline) vs 2 processes, "
          f"{load()}")
    frames = read_frames("bigbuckbunny")[:pairs + 1]
    small, large = working_frames(frames, size), working_frames(frames, OUTPUT_SIDE)
    jobs = [(small[k:k + 1], small[k + 1:k + 2], large[k:k + 1], large[k + 1:k + 2]) for k in range(pairs)]
    context = multiprocessing.get_context("spawn")
    results = {}
    for workers in (1, 2):
        with context.Pool(workers) as pool:
            pool.map(_pair, jobs[:workers])  # each worker's imports and first call are no pair's
            began = time.perf_counter()
            cpus = pool.map(_pair, jobs, chunksize=1)
            results[workers] = (time.perf_counter() - began, sum(cpus))
    base_wall, base_cpu = results[1]
    print("| processes | wall s | CPU s (sum over pairs) | wall vs 1 | CPU vs 1 | pairs per wall s |")
    print("|---|---|---|---|---|---|")
    for workers, (wall, cpu) in results.items():
        print(f"| {workers} | {wall:.1f} | {cpu:.1f} | {wall / base_wall:.2f}x | {cpu / base_cpu:.2f}x "
              f"| {pairs / wall:.2f} |", flush=True)


def part_steps(sizes: list[int]) -> None:
    print(f"## steps: FINE_STEPS={flows.FINE_STEPS} above {flows.FINE_SIDE} px (the engine) vs "
          f"COARSE_STEPS={flows.COARSE_STEPS} at every level (baseline), {load()}")
    print("| triplet | size | steps above FINE_SIDE | CPU s | CPU vs baseline | PSNR of the middle frame (dB) "
          "| PSNR - baseline's |")
    print("|---|---|---|---|---|---|---|")
    engine = flows.FINE_STEPS
    for size in sizes:
        for item in clip_triplets(list(CLIPS), size, 2, 1):
            a, truth, b = item.frames[0:1], item.frames[1:2], item.frames[2:3]
            rows = {}
            for steps in (flows.COARSE_STEPS, engine):
                flows.FINE_STEPS = steps
                try:
                    began = time.process_time()
                    flow = flows.engine_flow(a, b)
                    cpu = time.process_time() - began
                finally:
                    flows.FINE_STEPS = engine
                rows[steps] = (cpu, psnr(WarpPath(flow).frames(a, b, HALF).clamp(0, 1), truth))
            base_cpu, base_psnr = rows[flows.COARSE_STEPS]
            for steps, (cpu, value) in rows.items():
                print(f"| {item.name} | {a.shape[-1]}x{a.shape[-2]} | {steps} | {cpu:.2f} | {cpu / base_cpu:.2f}x "
                      f"| {value:.2f} | {value - base_psnr:+.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["threads", "workers", "steps"],
                        choices=["threads", "workers", "steps"])
    parser.add_argument("--size", type=int, default=256, help="working size (short side) of threads and workers")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--step-sizes", type=int, nargs="+", default=[128, 256])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} cores")
    flows.engine_flow(*clip_triplets(["carphone"], 32, 2, 1)[0].frames[0::2].split(1))  # first call's set-up
    if "threads" in args.parts:
        part_threads(args.size, args.repeats)
    if "workers" in args.parts:
        part_workers(args.size, args.pairs)
    if "steps" in args.parts:
        part_steps(args.step_sizes)


if __name__ == "__main__":
    main()
