"""The engine's cost model that the app's estimates come from (issue 24 item 6), measured on this machine and stored
as package data in app/run_costs.json. Not a test.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_run_costs.py [--sizes 32 64] [--steps 30]
    ... --parts "texture checks" --check-sizes 32 64 128    # re-measure some parts, keep the file's others
    ... --parts distances --distances elpips_vgg             # one distance's step and spacing, keep the others'

Each part of a run is timed through the engine's own code on the bundled examples (disc_left -> disc_right)
at a few sizes, and stored as (units, seconds) points that the app interpolates (`app.forecast.CostBook`):

* the flow search (`geometry.paths.flows.engine_flow`, the median of REPEATS after a warm-up): units = working
  pixels (its pyramid levels and their fixed costs grow with the size, so it is measured up to 256 px);
* an optimisation step of each distance (a geodesic of FRAMES frames, DRAWS draws per step, from the dissolve;
  the mean of the step times after the first: a run pays every step, and an E-LPIPS step's cost follows the
  scale levels of its fresh random draws, so a few steps' median was short of a run's, bench_app_forecast.txt):
  units = draws x images x pixels of the stage;
* the even spacing of each distance (`geometry.paths.spacing.even_times`): seconds per forward evaluation of a
  full-size draw (the measured seconds over the relative cost of the draws measured on), by the pixels of the
  measured frames;
* the render (the frames rendered and written with the app's movies, `geometry.service.runs.run_geodesic`, from
  its "render" phase to its end): units = pixels of all frames;
* the texture change's synthesis (`geometry.paths.motion.change_start` on the bundled textures, after a warm-up):
  units = working pixels;
* auto's texture checks (`geometry.paths.detection` on the bundled textures, after a warm-up): the stationarity of
  both endpoints and the turn-and-zoom detection, each by working pixels;
* the loading of each distance's network in a fresh process (`geometry.engine.distances.DistanceFamily.at_size` at
  LOAD_SIZE px, the median of LOAD_REPEATS processes): what the first run of a distance after the server started
  pays before its first phase (the app loads it then, `app.runs.load_network`).

CPU seconds of one thread (`time.process_time`, torch set to one thread): what a run costs on a quiet core,
the same on a loaded machine (whose wall-clock times here varied twentyfold within minutes). The app scales them
to its own wall-clock time by what its finished runs measure (`app.forecast.CostBook.refresh`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

import geometry
from elpips.io import atomic_write
from geometry.engine import phases
from geometry.engine.distances import DISTANCE_NAMES, DistanceFamily
from geometry.engine.inputs import prepare_images
from geometry.engine.presets import Recipe, Stage
from geometry.options import RunOptions
from geometry.paths.detection import detect_similarity, stationarity
from geometry.paths.flows import engine_flow
from geometry.paths.motion import change_start
from geometry.paths.spacing import even_times, even_times_evaluations, sample_spacing_draws
from geometry.service import runs as geometry_runs
from geometry.service.geodesic_run import GeodesicRequest

from app.examples import REPO_EXAMPLES_DIR
from app.forecast import COSTS_FILE, draw_cost

FRAMES, DRAWS = 6, 4
ENDS = [REPO_EXAMPLES_DIR / f"{name}.png" for name in ("disc_left", "disc_right")]
TEXTURES = [REPO_EXAMPLES_DIR / f"{name}.png" for name in ("texture_blobs", "texture_stripes")]
LOAD_SIZE, LOAD_REPEATS = 64, 3
#: Run in a fresh process: the CPU seconds of loading one distance's network (the process's first load).
LOAD_CODE = """
import sys, time, torch
torch.set_num_threads(1)
from geometry.engine.distances import DistanceFamily
began = time.process_time()
DistanceFamily(sys.argv[1], torch.device("cpu")).at_size((int(sys.argv[2]),) * 2)
print(time.process_time() - began)
"""


REPEATS = 2


def flow_points(sizes: list[int]) -> list[tuple[float, float]]:
    points = []
    for size in sizes:
        ends = prepare_images([str(p) for p in ENDS], size)
        engine_flow(ends[0:1], ends[1:2])  # warm-up
        times = []
        for _ in range(REPEATS):
            began = time.process_time()
            engine_flow(ends[0:1], ends[1:2])
            times.append(time.process_time() - began)
        points.append((size * size, statistics.median(times)))
    return points


def step_points(distance: str, sizes: list[int], steps: int) -> list[tuple[float, float]]:
    points = []
    preset = Recipe("timing", init="mean", stages=(Stage(1, steps + 1, 0.003, "cosine", DRAWS),))
    for size in sizes:
        stamps: list[float] = []
        geometry.geodesic(str(ENDS[0]), str(ENDS[1]), frames=FRAMES, distance=distance, size=size, preset=preset,
                          motion="none", device="cpu", snapshot_steps=[],
                          callback=lambda progress: stamps.append(time.process_time()))
        gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
        points.append((DRAWS * FRAMES * size * size, statistics.mean(gaps)))
    return points


def spacing_points(distance: str, sizes: list[int]) -> list[tuple[float, float]]:
    """(pixels, seconds per forward evaluation of a full-size draw) per size: the seconds over the evaluations and
    the relative cost of the draws measured on (`app.forecast.draw_cost`; a run's spacing is priced by its own)."""
    points = []
    family = DistanceFamily(distance, torch.device("cpu"))
    count = FRAMES - 2
    ends = prepare_images([str(p) for p in ENDS], sizes[0])
    even_times(ends[0:1], ends[1:2], count, family.at_size((sizes[0],) * 2), torch.Generator())  # loads the network
    for size in sizes:
        ends = prepare_images([str(p) for p in ENDS], size)
        metric = family.at_size((size, size))
        began = time.process_time()
        even_times(ends[0:1], ends[1:2], count, metric, torch.Generator().manual_seed(0))
        seconds = time.process_time() - began
        drawn = draw_cost(getattr(metric, "config", None), (size, size),
                          sample_spacing_draws(metric.sample_draws, torch.Generator().manual_seed(0)))
        points.append((size * size, seconds / (even_times_evaluations(count) * drawn)))
    return points


def synthesis_points(sizes: list[int]) -> list[tuple[float, float]]:
    points = []
    ends = prepare_images([str(p) for p in TEXTURES], sizes[0])
    change_start(ends[0:1], ends[1:2])  # warm-up
    for size in sizes:
        ends = prepare_images([str(p) for p in TEXTURES], size)
        began = time.process_time()
        change_start(ends[0:1], ends[1:2])
        points.append((size * size, time.process_time() - began))
    return points


def texture_check_points(sizes: list[int]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(pixels, seconds) of the stationarity of both endpoints, and of the turn-and-zoom detection, per size."""
    ends = prepare_images([str(p) for p in TEXTURES], sizes[0])
    stationarity(ends[0:1]), detect_similarity(ends[0:1], ends[1:2])  # warm-up: the statistics' network
    stationary, detection = [], []
    for size in sizes:
        a, b = prepare_images([str(p) for p in TEXTURES], size).split(1)
        began = time.process_time()
        stationarity(a), stationarity(b)
        middle = time.process_time()
        detect_similarity(a, b)
        stationary.append((size * size, middle - began))
        detection.append((size * size, time.process_time() - middle))
    return stationary, detection


def loading_seconds(distance: str) -> float:
    """The median CPU seconds of loading `distance`'s network, each in a fresh process."""
    times = []
    for _ in range(LOAD_REPEATS):
        done = subprocess.run([sys.executable, "-c", LOAD_CODE, distance, str(LOAD_SIZE)], capture_output=True,
                              text=True, check=True)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def render_points(sizes: list[int]) -> list[tuple[float, float]]:
    points = []
    for size in sizes:
        marks: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as folder, phases.listening(
                lambda phase: marks.setdefault(phase.name, time.process_time())):
            request = GeodesicRequest(images=tuple(ENDS), frames=10, fps=8.0, gif="pingpong",
                                      formats=("mp4", "gif", "sheet"))
            geometry_runs.run_geodesic(request, RunOptions(size=size, distance="l2", device="cpu", motion="warp"),
                                       Path(folder) / "run")
            points.append((10 * size * size, time.process_time() - marks["render"]))
    return points


PARTS = ("flow", "render", "synthesis", "texture checks", "loading", "distances")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--flow-sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--check-sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per distance and size (after one more)")
    parser.add_argument("--distances", nargs="+", default=list(DISTANCE_NAMES))
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS,
                        help="what to measure; the others are kept from --out ('distances': steps and spacing)")
    parser.add_argument("--out", type=Path, default=COSTS_FILE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch threads {torch.get_num_threads()}, sizes {args.sizes}, flow at {args.flow_sizes}, texture checks "
          f"at {args.check_sizes}, parts {args.parts}", flush=True)
    stored = json.loads(args.out.read_text()) if set(args.parts) != set(PARTS) else {}

    def said(points) -> str:
        return ", ".join(f"{units:.0f}: {seconds:.4g} s" for units, seconds in points)

    if "flow" in args.parts:
        stored["flow"] = {"points": flow_points(args.flow_sizes)}
        print(f"flow search (working pixels: seconds): {said(stored['flow']['points'])}", flush=True)
    if "render" in args.parts:
        stored["render"] = {"points": render_points(args.sizes)}
        print(f"render (frame pixels: seconds): {said(stored['render']['points'])}", flush=True)
    if "synthesis" in args.parts:
        stored["synthesis"] = {"points": synthesis_points(args.sizes)}
        print(f"synthesis of the texture change (working pixels: seconds): {said(stored['synthesis']['points'])}",
              flush=True)
    if "texture checks" in args.parts:
        stationary, detection = texture_check_points(args.check_sizes)
        stored["stationarity"], stored["detection"] = {"points": stationary}, {"points": detection}
        print(f"texture checks (working pixels: seconds): stationarity of both {said(stationary)}; detection "
              f"{said(detection)}", flush=True)
    if "loading" in args.parts:
        stored["loading"] = {name: loading_seconds(name) for name in args.distances if name != "l2"}
        print("loading in a fresh process (seconds): " + ", ".join(f"{name} {seconds:.3g} s"
                                                                   for name, seconds in stored["loading"].items()),
              flush=True)
    if "distances" in args.parts:
        for part in ("step", "spacing"):  # the distances not measured keep their points
            stored.setdefault(part, {})
        for distance in args.distances:
            step, spacing = step_points(distance, args.sizes, args.steps), spacing_points(distance, args.sizes)
            stored["step"][distance], stored["spacing"][distance] = {"points": step}, {"points": spacing}
            print(f"{distance}: step (evaluated pixels: seconds) {said(step)}; spacing (pixels: seconds per "
                  f"evaluation) {said(spacing)}", flush=True)

    stored.update({"measured_by": "benchmarks/bench_run_costs.py", "device": "cpu",
                   "seconds": "CPU seconds of one thread",
                   "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")})
    with atomic_write(args.out) as tmp:
        Path(tmp).write_text(json.dumps(stored, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
