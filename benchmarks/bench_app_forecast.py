"""The app's forecast of a geodesic (`app.forecast.CostBook`, the stored model of app/run_costs.json) against the
run it forecasts, phase by phase: the texture start and the texture change through motion="auto", and the texture
change asked for. Not a test.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_app_forecast.py [--size 32] [--frames 5]
    ... --pairs "brick->gravel"          # one pair
    ... --seeds 0 1 2                    # each run with each seed (which draws the spacing takes)

Each run goes through the service as the app's Geodesic tab runs it (`geometry.service.runs.run_geodesic`, preset
"fast", E-LPIPS, refine "auto", the network loaded and one flow searched before, as in a server that has run), on
one torch thread: the CPU seconds (`time.process_time`) from each phase's first report (`geometry.engine.phases`;
the refinement's: its first step's progress) to the next one's, the render's to the run's end, beside the model
seconds of the forecast branch of the start the run took (`Branch.start`, the one with every phase the run
reported). For the texture change, the re-timing rounds the run measured (the record's ``retiming_rounds``) beside
the forecast's expectation (`app.forecast.EXPECTED_CHANGE_ROUNDS`) and its spacing with every round (`Leg.most`).
Pairs: benchmarks/texture_photos.py's brick wall turned 60 degrees and its photographed texture changes (auto, and
"change" asked for).
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(Path.home() / ".cache" / "elpips"))

import torch  # noqa: E402
from texture_photos import CHANGES, change_scene, similarity_scene  # noqa: E402

import elpips  # noqa: E402
from geometry.engine import phases  # noqa: E402
from geometry.engine.distances import DistanceFamily  # noqa: E402
from geometry.options import RunOptions  # noqa: E402
from geometry.paths.flows import engine_flow  # noqa: E402
from geometry.service import runs as geometry_runs  # noqa: E402
from geometry.service.geodesic_run import GeodesicRequest  # noqa: E402

from app.forecast import EXPECTED_CHANGE_ROUNDS, CostBook, RunShape, plan_run  # noqa: E402

DISTANCE = "elpips_vgg"


def scenes(size: int) -> dict:
    found = {"brick turn 60": similarity_scene("brick", size, degrees=60)}
    found.update({f"{first}->{second}": change_scene(first, second, size) for first, second in CHANGES})
    return found


def measured_run(a: torch.Tensor, b: torch.Tensor, size: int, frames: int, motion: str,
                 seed: int) -> tuple[dict, dict]:
    """({phase: CPU seconds}, the record's start) of one run."""
    stamps: list[tuple[str, float]] = []

    def stamp(name: str) -> None:
        if not stamps or stamps[-1][0] != name:
            stamps.append((name, time.process_time()))

    def listener(phase) -> None:
        if phase.name != "refinement":  # that report says the start taken; the steps report as they go
            stamp(phase.name)

    with tempfile.TemporaryDirectory() as folder:
        paths = (Path(folder) / "a.png", Path(folder) / "b.png")
        for path, image in zip(paths, (a, b)):
            elpips.save_image(path, image)
        request = GeodesicRequest(images=paths, frames=frames, fps=8.0, gif="pingpong",
                                  formats=("mp4", "gif", "sheet"))
        options = RunOptions(size=size, distance=DISTANCE, device="cpu", motion=motion, preset="fast", seed=seed)
        with phases.listening(listener):
            artefacts = geometry_runs.run_geodesic(request, options, Path(folder) / "run",
                                                   callback=lambda progress: stamp("refinement"))
        ended = time.process_time()
    seconds: dict[str, float] = {}
    for (name, began), (_, later) in zip(stamps, [*stamps[1:], ("end", ended)]):
        seconds[name] = seconds.get(name, 0.0) + later - began
    return seconds, artefacts.engine_records[0]["settings"]["start"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--pairs", nargs="+", default=None, help="names of the pairs (default: all)")
    parser.add_argument("--motions", nargs="+", default=["auto", "change"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="the runs' seeds (their spacing's draws)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    DistanceFamily(DISTANCE, torch.device("cpu")).at_size((args.size, args.size))  # the app loads it before a run
    warm = scenes(args.size)["brick turn 60"]
    engine_flow(warm.render(0.0), warm.render(1.0))  # a process's first flow search pays about 1.8 CPU s more
    book = CostBook.load()
    print(f"torch threads 1, {args.size} px, {args.frames} frames, {DISTANCE}, load average {os.getloadavg()[0]:.1f}")
    for name, scene in scenes(args.size).items():
        if args.pairs and name not in args.pairs:
            continue
        for motion, seed in itertools.product(args.motions, args.seeds):
            if motion == "change" and "->" not in name:
                continue
            seconds, start = measured_run(scene.render(0.0), scene.render(1.0), args.size, args.frames, motion,
                                          seed)
            shape = RunShape("geodesic", DISTANCE, plan_run("fast", "geodesic", None, (args.size, args.size)),
                             args.frames, motion, seed=seed)
            branches = book.branches(shape)
            named = [branch for branch in branches if branch.start == start["taken"]] or branches
            branch = next((branch for branch in named if set(seconds) <= {leg.phase for leg in branch.legs}), named[0])
            legs = {leg.phase: leg for leg in branch.legs}
            rounds = start.get("retiming_rounds")
            print(f"{name:14} motion={motion:6} seed {seed} taken {start['taken']:8}"
                  + ("" if rounds is None else f" re-timing rounds {rounds} (forecast {EXPECTED_CHANGE_ROUNDS})"))
            print(f"  {'phase':15} {'measured':>9} {'forecast':>9} {'(every round)':>13}")
            for phase in dict.fromkeys([*legs, *seconds]):
                leg = legs.get(phase)
                most = "" if leg is None or leg.most is None else f"{leg.most:13.2f}"
                print(f"  {phase:15} {seconds.get(phase, 0.0):9.2f} "
                      f"{'-' if leg is None else format(leg.seconds, '.2f'):>9} {most}")
            total = sum(seconds.values())
            print(f"  {'all':15} {total:9.2f} {book.seconds(branch, 'cpu'):9.2f} "
                  f"{book.seconds(branch, 'cpu', most=True):13.2f}", flush=True)


if __name__ == "__main__":
    main()
