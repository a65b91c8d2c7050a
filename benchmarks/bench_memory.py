"""Measured peak memory of metric evaluations against the estimates that refuse too-large runs (elpips.memory).

    python benchmarks/bench_memory.py                 # CPU: resident memory, each case in a fresh process
    python benchmarks/bench_memory.py --device cuda   # CUDA: torch's allocator peak

Two cases, as the code runs them, every draw at the largest scale level (the worst case the estimate
assumes): a geometry step (all images under all draws, embedded at once and kept for the backward pass;
estimated by `elpips.memory.step_bytes`), and a distance estimate without
gradients (a pass at a time; estimated by `Metric.pass_memory`). Each line prints the measured peak,
the estimate and their ratio: estimates should be at or somewhat above 1x the measurement (refusing a
run that would have fitted is worse than an estimate that is a bit high).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (metric, image side, images, draws, with gradients)
CASES = [
    ("elpips_vgg", 64, 5, 4, True), ("elpips_vgg", 128, 5, 2, True), ("elpips_vgg", 256, 2, 1, True),
    ("lpips_vgg", 256, 3, 1, True), ("alex", 256, 3, 1, True), ("alex", 512, 3, 1, True),
    ("elpips_vgg", 256, 2, 10, False), ("elpips_vgg", 512, 2, 10, False), ("lpips_vgg", 512, 2, 1, False),
]


def measure(name: str, side: int, images: int, draws: int, grad: bool, device: str) -> dict:
    """Run in a fresh process: the peak above what the process held before the evaluation."""
    import torch

    import elpips
    from elpips.memory import step_bytes

    metric = elpips.load_metric(name, device=device)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(images, 3, side, side, generator=generator).to(device)
    sampled = metric.sample_draws(draws, generator)
    if metric.config.transforms is not None:  # the worst case: every draw at full scale
        sampled.scale.fill_(1)
        sampled.phase.zero_()
    i, j = torch.arange(images - 1), torch.arange(1, images)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    if grad:
        x.requires_grad_(True)
        metric.embedding_distance(metric.embed(x, sampled), i, j).sum().backward()
    else:
        with torch.no_grad():
            metric.pair_distances(x, sampled, i, j)
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    if grad:
        evaluations = images * (draws if metric.config.transforms is not None else 1)
        estimate = step_bytes(metric.config, evaluations, side, side)
    else:
        estimate = metric.pass_memory(images, side, side, draws)
    return {"peak": peak, "estimate": estimate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.case is not None:
        print(json.dumps(measure(*CASES[args.case], args.device)))
        return
    from elpips.memory import format_bytes

    print(f"device {args.device}; each case in a fresh process; all draws at scale level 1")
    for index, (name, side, images, draws, grad) in enumerate(CASES):
        done = subprocess.run([sys.executable, __file__, "--device", args.device, "--case", str(index)],
                              capture_output=True, text=True, cwd=REPO, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        kind = "step with gradients" if grad else "estimate, no gradients"
        print(f"{name:10} {side:4d} px, {images} images x {draws:2d} draws, {kind:22}: measured "
              f"{format_bytes(result['peak']):>9}, estimated {format_bytes(result['estimate']):>9}, "
              f"estimate/measured {result['estimate'] / result['peak']:.2f}", flush=True)


if __name__ == "__main__":
    main()
