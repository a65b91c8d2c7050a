"""How honest the web app's run-time estimates are: the estimate shown before a run, and the time left it shows
while the run goes, against the time the run then took. Not a test.

    python benchmarks/bench_app_estimate.py                 # the Geodesic tab's defaults on a CPU, run twice
    python benchmarks/bench_app_estimate.py --runs 3 --size 32 --distance lpips_vgg

Each run goes through the app's own code (`app.runs.prepare_geodesic`, `app.runs.stream_run`) on the bundled
examples (disc_left -> disc_right), with one shared `AppContext`, as successive runs in one server would. For
every run it prints the estimate shown before it (from the speed table: a short measurement for the first run,
the refreshed speeds after it), the engine's time for the run ("Done: ... in"), and their ratio; and the time
left shown at the first update at or after step 10 against the time the run then still took, and their ratio.
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
from app.ui import default_size, default_steps


def main() -> None:
    cpu = torch.device("cpu")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--size", type=int, default=default_size(cpu))
    parser.add_argument("--steps", type=int, default=default_steps("geodesic", cpu))
    parser.add_argument("--distance", default="elpips_vgg")
    args = parser.parse_args()

    print(f"geodesic {REPO_EXAMPLES_DIR.name}/disc_left -> disc_right, {args.frames} frames, {args.size} px, "
          f"{args.distance}, {args.steps} steps, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as folder:
        ctx = AppContext(output_root=Path(folder), device=cpu, slot=DeviceSlot("cpu"))
        paths = [str(REPO_EXAMPLES_DIR / f"{name}.png") for name in ("disc_left", "disc_right")]
        for run in range(1, args.runs + 1):
            spec, _ = runs.prepare_geodesic(ctx, *paths, args.frames, args.distance, "squared", args.size,
                                            args.steps, 0, 8)
            started = time.perf_counter()
            estimate = spec.plan.seconds(runs.measured_speeds(ctx, spec))  # measured now only for the first run
            measuring = time.perf_counter() - started
            at_ten, artefacts = None, None
            for view in runs.stream_run(ctx, spec, "bench"):
                watch = view.watch
                if (at_ten is None and watch is not None and watch.latest is not None and watch.latest.step >= 10
                        and watch.seconds_left is not None):
                    at_ten = (watch.latest.step, watch.latest.elapsed_s, watch.seconds_left)
                if view.outcome is not None:
                    artefacts = view.outcome.artefacts
            taken = artefacts.seconds
            line = (f"run {run}: estimate {estimate:.1f} s (measuring took {measuring:.1f} s), took {taken:.1f} s, "
                    f"estimate/actual {estimate / taken:.2f}")
            if at_ten is not None:
                step, elapsed, left = at_ten
                truth = taken - elapsed
                line += f"; at step {step}: {left:.1f} s left shown, {truth:.1f} s taken, ratio {left / truth:.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
