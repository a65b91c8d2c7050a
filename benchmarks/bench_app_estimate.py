"""How fast and how honest the Geodesic tab's estimate is: the time the Estimate button takes to answer on a cold
start (a fresh app context: no run finished, nothing learned), and the estimate against the time the run then took.
Not a test.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_app_estimate.py
    python benchmarks/bench_app_estimate.py --runs 64:auto 128:auto 32:none --steps 20

Each run goes through the app's own code (`app.runs.prepare_geodesic`, `app.runs.forecast_text`,
`app.runs.stream_run`) on the bundled examples (disc_left -> disc_right, 10 frames, E-LPIPS), each in a fresh
`AppContext` (so every estimate is the stored model's, `app/run_costs.json`, not refreshed by the runs before it).
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


def main() -> None:
    cpu = torch.device("cpu")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["64:auto", "128:auto", "32:none"],
                        help="SIZE:MOTION of each run (the tab's default motion is auto)")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--steps", type=int, default=default_steps("geodesic", cpu))
    parser.add_argument("--distance", default="elpips_vgg")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the model is of one thread)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    paths = [str(REPO_EXAMPLES_DIR / f"{name}.png") for name in ("disc_left", "disc_right")]
    print(f"geodesic {REPO_EXAMPLES_DIR.name}/disc_left -> disc_right, {args.frames} frames, {args.distance}, "
          f"{args.steps} steps, torch threads {torch.get_num_threads()}", flush=True)
    for run in args.runs:
        size, motion = run.split(":")
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
        print(f"{size} px, motion {motion}: estimate answered in {answered:.3f} s "
              f"({answered / taken:.4f} of the run's time); the run took {taken:.1f} s wall, {cpu_seconds:.1f} CPU s, "
              f"with {steps} refinement steps; estimate for that branch {estimate:.1f} s: estimate/CPU "
              f"{estimate / cpu_seconds:.2f}, estimate/wall {estimate / taken:.2f}", flush=True)
        print(f"    said: {text}", flush=True)


if __name__ == "__main__":
    main()
