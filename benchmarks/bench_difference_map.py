"""Benchmark of difference maps. Prints numbers; not a test.

    python benchmarks/bench_difference_map.py             # every part
    python benchmarks/bench_difference_map.py --quick     # fewer rounds, draws and seeds
    python benchmarks/bench_difference_map.py --parts 2 3

1. Overhead: ``elpips.difference_map`` against ``elpips.estimate`` with the same seed, hence the same draws
   and the same numbers (checked), per metric and image size: median time ratio over interleaved rounds.
2. Draws for a stable E-LPIPS map: maps of n draws (several seeds) against a reference map of many draws.
   The relative error is the root-mean-square difference over the reference's root-mean-square value, with
   the reference's own noise removed in quadrature; beside it the error the map reports for itself
   (``DifferenceMap.relative_error``), and the draws that error needs to fall to 10 % and 5 %, from a
   1 / sqrt(n) fit.
3. E-LPIPS' weight per pixel (``DifferenceMap.coverage``, mean 1) near the borders, where the reflect padding
   shows pixels to the network more than once, from 4000 draws per image size (transformations only, no
   network): its largest value, its mean in the outer eighth of the rows (the edge row aside) and at the centre.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's elpips, not an installed one

from bench_metric import image_pairs, interleaved, median, show  # noqa: E402  (inputs and timing)

import elpips  # noqa: E402  (bench_metric sets the weights folder first)
from elpips.transforms import apply_draws_adjoint, transformed_size  # noqa: E402

SEED = 2026


def seeded(offset: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(SEED + offset)


def part_overhead(args, device: torch.device) -> None:
    print("\n1. Difference map against the scalar distance, same draws (time ratio > 1: the map costs more)")
    cases = [("elpips_vgg", 64, 32), ("elpips_vgg", 128, 16), ("elpips_vgg", 256, 8), ("vgg", 64, 1), ("vgg", 256, 1)]
    for name, size, samples in cases if not args.quick else cases[:2] + cases[3:4]:
        metric = elpips.load_metric(name, device=device)
        x, y = image_pairs(1, size, device)
        candidates = {
            "estimate": lambda: elpips.estimate(metric, x, y, samples=samples, generator=seeded()).value,
            "difference_map":
                lambda: elpips.difference_map(metric, x, y, samples=samples, generator=seeded()).estimate.value,
        }
        times, results = interleaved(candidates, args.rounds, device)
        assert torch.equal(results["estimate"], results["difference_map"]), "the map must not change the numbers"
        print(f"{name} at {size} px, {samples} sample(s) (distance {float(results['estimate'][0]):.4f}):")
        show(times, "estimate")


def _local_edit(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The first benchmark image and a copy with a square of a quarter of its side inverted near the top left."""
    x, _ = image_pairs(1, size, device)
    edited = x.clone()
    corner = slice(size // 16, size // 16 + size // 4)
    edited[..., corner, corner] = 1 - x[..., corner, corner]
    return x, edited


def _rms(values: torch.Tensor) -> float:
    return float(values.square().mean().sqrt())


def part_stability(args, device: torch.device) -> None:
    print("\n2. Draws for a stable E-LPIPS map: relative RMS error of n-draw maps against a reference")
    counts = (10, 20, 40) if args.quick else (10, 20, 40, 80, 160)
    seeds = 2 if args.quick else 3
    metric = elpips.load_metric("elpips_vgg", device=device)
    cases = [("cat/dog", *image_pairs(1, 64, device)), ("local edit", *_local_edit(64, device))]
    if not args.quick:
        cases.append(("cat/dog", *image_pairs(1, 128, device)))
    for label, x, y in cases:
        size = x.shape[-1]
        reference_draws = args.reference_draws // (4 if size > 64 else 1)
        reference = elpips.difference_map(metric, x, y, samples=reference_draws, generator=seeded(999))
        ref_map, ref_noise = reference.map[0, 0], _rms(reference.stderr[0, 0])
        print(f"{label} at {size} px: distance {float(reference.estimate.value[0]):.4f}; reference map of "
              f"{reference_draws} draws, its own relative error {float(reference.relative_error[0]):.3f}")
        fits = []
        for n in counts:
            if n >= reference_draws:
                break
            measured, reported = [], []
            for seed in range(seeds):
                result = elpips.difference_map(metric, x, y, samples=n, generator=seeded(seed))
                difference = _rms(result.map[0, 0] - ref_map)
                measured.append(math.sqrt(max(difference**2 - ref_noise**2, 0.0)) / _rms(ref_map))
                reported.append(float(result.relative_error[0]))
            fits.append(statistics.mean(reported) * math.sqrt(n))
            print(f"  n = {n:4d}: relative error {statistics.mean(measured):.3f} measured, "
                  f"{statistics.mean(reported):.3f} reported (mean of {seeds} seeds)", flush=True)
        constant = median(fits)
        print(f"  reported error ~ {constant:.2f} / sqrt(n): "
              f"10 % needs about {math.ceil((constant / 0.1) ** 2)} draws, "
              f"5 % about {math.ceil((constant / 0.05) ** 2)}")


def part_coverage(args, device: torch.device) -> None:
    print("\n3. E-LPIPS' weight per pixel (coverage, mean 1): how much more the borders count")
    config = elpips.get_config("elpips_vgg").transforms
    draws = elpips.sample_draws(config, 4000, seeded(), stratify=10)
    for size in (64, 128, 256, 512):
        total = torch.zeros(size, size, dtype=torch.float64)
        for chunk in (chunk for group in draws.groups(square=True) for chunk in group.split(64)):
            side = transformed_size(size, int(draws.scale[chunk[0]]), config)
            ones = torch.ones(len(chunk), 1, side, side, dtype=torch.float64)
            total += apply_draws_adjoint(ones, draws[chunk], config, (size, size)).sum(dim=(0, 1)) * (size / side) ** 2
        coverage = total / len(draws)
        print(f"  {size:4d} px: max {float(coverage.max()):.2f}, "
              f"rows 1 to {size // 8} {float(coverage[1 : size // 8].mean()):.2f}, "
              f"edge row {float(coverage[0, size // 2]):.2f}, centre {float(coverage[size // 2, size // 2]):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds (default 5, quick 3)")
    parser.add_argument("--reference-draws", type=int, default=None, help="draws of the 64 px reference maps "
                        "(default 640, quick 160; a quarter at 128 px)")
    args = parser.parse_args()
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.reference_draws = args.reference_draws or (160 if args.quick else 640)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if 1 in args.parts:
        part_overhead(args, device)
    if 2 in args.parts:
        part_stability(args, device)
    if 3 in args.parts:
        part_coverage(args, device)


if __name__ == "__main__":
    main()
