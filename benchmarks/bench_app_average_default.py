"""Which example the Average tab preloads (issue 24 item 10): the set whose average at the tab's defaults differs
most visibly from the pixel mean. Not a test.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_app_average_default.py [--sets disc_left,disc_right]

Each set of bundled examples (`app.examples`, drawn by project code) is averaged through the app's own code
(`app.runs.prepare_average`, `app.runs.stream_run`) at the tab's CPU defaults (equal weights, E-LPIPS, 64 px, the
fast preset's steps, seed 0, motion start "auto"); printed: the start taken, the refinement steps run, and the mean
absolute difference of the result from the pixel mean of the same prepared inputs, in 8-bit levels.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from app import runs
from app.examples import REPO_EXAMPLES_DIR
from app.runs import AppContext
from app.tasks import DeviceSlot
from app.ui import AVERAGE_EXAMPLES, default_size, default_steps


def main() -> None:
    cpu = torch.device("cpu")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=[",".join(names) for names in AVERAGE_EXAMPLES],
                        help="comma-separated example names per set")
    args = parser.parse_args()
    size, steps = default_size(cpu), default_steps("barycenter", cpu)
    print(f"E-LPIPS average at {size} px, {steps} steps, seed 0, motion auto, torch threads "
          f"{torch.get_num_threads()}", flush=True)
    for names in args.sets:
        paths = [str(REPO_EXAMPLES_DIR / f"{name}.png") for name in names.split(",")]
        with tempfile.TemporaryDirectory() as folder:
            ctx = AppContext(output_root=Path(folder), device=cpu, slot=DeviceSlot("cpu"))
            spec, _ = runs.prepare_average(ctx, paths, [1.0] * len(paths), "elpips_vgg", size, steps, 0, "auto")
            outcome = None
            for view in runs.stream_run(ctx, spec, "bench"):
                outcome = view.outcome or outcome
            record = outcome.artefacts.engine_records[0]
            mean = spec.inputs.mean(0, keepdim=True)
            levels = (outcome.image - mean).abs().mean().item() * 255
        start = record["settings"].get("start", {}).get("taken", "-")
        print(f"{names}: start {start}, {record['steps']} refinement steps, mean |average - pixel mean| "
              f"{levels:.1f}/255", flush=True)


if __name__ == "__main__":
    main()
