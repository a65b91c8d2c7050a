"""What the Robustness tab's default run does, so that the tab's text says it (issue 24).

Runs the tab's CPU defaults through the app's own preparation (`app.robustness.prepare_attack`): the bundled
reference `disc_left`, the image `disc_left_noisy` attacked against LPIPS-VGG at 8/255 (50 steps, 64 px), the
anchor `disc_left_moved`, the distances before and after under E-LPIPS-VGG (50 samples), LPIPS-VGG and L2. Each
seed is one run of the default with that seed (the tab's default is seed 0). Prints, per metric and seed, the
distance to the reference before and after, the anchor's distance, and whether the attacked image now ranks
closer than the anchor.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_app_attack_default.py [--seeds 0 1 2 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import elpips
from elpips.adversarial import table

from app.examples import example_paths
from app.robustness import prepare_attack
from app.runs import AppContext
from app.tasks import DeviceSlot

DEFAULTS = dict(metric="lpips_vgg", epsilon_levels=8, steps=50, samples_per_step=4,
                judges=["elpips_vgg", "lpips_vgg", "l2"], judge_samples=50, size=64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        examples = example_paths(Path(folder))
        ctx = AppContext(output_root=Path(folder), device=torch.device("cpu"), slot=DeviceSlot("cpu"))
        for seed in args.seeds:
            spec, _ = prepare_attack(ctx, str(examples["disc_left"]), str(examples["disc_left_noisy"]),
                                     str(examples["disc_left_moved"]), seed=seed, **DEFAULTS)
            result = elpips.attack(spec.metric, spec.reference, spec.image, epsilon=spec.epsilon, steps=spec.steps,
                                   samples_per_step=spec.samples_per_step, seed=spec.seed, judges=spec.judges,
                                   anchor=spec.anchor, judge_samples=spec.judge_samples)
            header, rows = table(result.record)
            print(f"seed {seed}: " + " | ".join(header))
            for row in rows:
                print("  " + " | ".join(row))


if __name__ == "__main__":
    main()
