"""How fast and how honest the Geodesic tab's estimate is: the time the Estimate button takes to answer on a cold
start (a fresh app context: no run finished, nothing learned), and the estimate against the time the run then took,
for the first run after the server started and for the runs after it. Not a test.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_app_estimate.py
    python benchmarks/bench_app_estimate.py --runs 64:auto 64:auto 32:change:textures --steps 20

Each run goes through the app's own code (`app.runs.prepare_geodesic`, `app.runs.forecast_text`,
`app.runs.stream_run`) on a pair of bundled examples (SIZE:MOTION[:PAIR], PAIR discs (disc_left -> disc_right, the
default) or textures (texture_blobs -> texture_stripes); 10 frames, E-LPIPS), in the order given in one process that
starts as the server does (`app.runs.warm_up`, unless --cold): the first run pays what a first run after the server
started pays (the loading of the network, in the estimate as its own phase). Each runs in a fresh `AppContext` (so
every estimate is the stored model's, `app/run_costs.json`, not refreshed by the runs before it).
For every run it prints the time the estimate took to answer, the estimate of the branch the run took (the warp
start kept as it is, or a refined start: `app.forecast.CostBook.branches`), the time from Run to the result (wall
clock, and the process's CPU seconds), the estimate over each, and the ratio of the estimate's answering time to
the run's. The stored model is in CPU seconds of one thread, so with `--threads 1` (the default) estimate/CPU
says how well the model predicts the engine's work, and estimate/wall how far the machine's load moved the wait
from it (what finished runs teach the app, `app.forecast.CostBook.refresh`).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from app import runs
from app.examples import REPO_EXAMPLES_DIR
from app.runs import AppContext
from app.tasks import DeviceSlot
from app.ui import default_steps

PAIRS = {"discs": ("disc_left", "disc_right"), "textures": ("texture_blobs", "texture_stripes")}


def main() -> None:
    cpu = torch.device("cpu")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["64:auto", "64:auto", "32:none", "32:change:textures"],
                        help="SIZE:MOTION[:PAIR] of each run, in order (the tab's default motion is auto)")
    parser.add_argument("--cold", action="store_true", help="without the server's warm-up (`app.runs.warm_up`)")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--steps", type=int, default=default_steps("geodesic", cpu))
    parser.add_argument("--distance", default="elpips_vgg")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the model is of one thread)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.cold:
        runs.warm_up()

    print(f"geodesic, {args.frames} frames, {args.distance}, {args.steps} steps, torch threads "
          f"{torch.get_num_threads()}, {'without' if args.cold else 'with'} the server's warm-up", flush=True)
    for order, run in enumerate(args.runs):
        size, motion, pair = (run.split(":") + ["discs"])[:3]
        paths = [str(REPO_EXAMPLES_DIR / f"{name}.png") for name in PAIRS[pair]]
        with tempfile.TemporaryDirectory() as folder:
            began = time.perf_counter()
            ctx = AppContext(output_root=Path(folder), device=cpu, slot=DeviceSlot("cpu"))  # cold: nothing learned
            spec, _ = runs.prepare_geodesic(ctx, *paths, args.frames, args.distance, "squared", int(size),
                                            args.steps, 0, 8, motion)
            text = runs.forecast_text(ctx, spec)
            answered = time.perf_counter() - began
            estimates = [(branch.steps, ctx.costs.seconds(branch, "cpu")) for branch in ctx.costs.branches(spec.shape)]
            started, cpu_began, outcome = time.perf_counter(), time.process_time(), None
            for view in runs.stream_run(ctx, spec, "bench"):
                outcome = view.outcome or outcome
            taken, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_began
            steps = outcome.artefacts.steps
            estimate = next(seconds for planned, seconds in estimates if (planned > 0) == (steps > 0))
        when = "first run after the start" if order == 0 else f"run {order + 1}"
        print(f"{when}: {pair} {size} px, motion {motion}: estimate answered in {answered:.3f} s "
              f"({answered / taken:.4f} of the run's time); the run took {taken:.1f} s wall, {cpu_seconds:.1f} CPU s, "
              f"with {steps} refinement steps; estimate for that branch {estimate:.1f} s: estimate/CPU "
              f"{estimate / cpu_seconds:.2f}, estimate/wall {estimate / taken:.2f}", flush=True)
        print(f"    said: {text}", flush=True)


if __name__ == "__main__":
    main()
