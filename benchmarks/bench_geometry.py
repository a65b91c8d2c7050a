"""Benchmark of the geometry engine. Prints numbers; not a test.

    python benchmarks/bench_geometry.py                 # everything, at the issue's sizes (an hour or more on 2 cores)
    python benchmarks/bench_geometry.py --quick         # every part, smaller (minutes)
    python benchmarks/bench_geometry.py --parts 1 3     # some parts

1. Time to quality: the average of two 64 px images (cat/dog, and the cat with its copy moved 12 px).
   Target: the reference preset's energy after R steps (R = 2000), estimated with 256 fixed draws shared by
   every estimate. For the default preset at several step budgets: energy, its paired difference from the
   target, network image-evaluations (full-size equivalents) and seconds; the first budget that reaches the
   target gives the speed-up.
2. Geodesic quality, 10 frames at 64 px (cat -> dog): path energy and max/min consecutive distance vs the
   cross-dissolve; and for an image and its copy translated by 6 px (5 frames), the E-LPIPS distance of the
   middle frame to the true 3 px translation vs the cross-dissolve's middle frame.
3. Perceptual convexity (bary10 shift): sharpness (mean gradient magnitude) of the E-LPIPS barycenter of
   10 copies shifted by up to 2 px, relative to the source, vs the pixel mean's.
4. Wall time of the 10-frame 64 px geodesic of part 2 (goal <= 5 min on CPU).

Runs are checkpointed under --out (default out-bench/): an interrupted benchmark resumes, and the reference
run (the expensive part) is reused by later invocations with the same settings.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))

import elpips  # noqa: E402
import geometry  # noqa: E402
from geometry import estimate_energy, geodesic, pairwise_average, perturbed_barycenter  # noqa: E402
from geometry.engine.problems import BarycenterProblem  # noqa: E402

DATA = SHARED / "data" / "elpips_inputs"
ESTIMATE_SEED = 20260101  # every energy estimate uses the same draws, so differences are correlated


def cat_dog():
    return elpips.load_image(DATA / "small" / "cat64.png"), elpips.load_image(DATA / "small" / "dog64.png")


def translated(image: torch.Tensor, dx: int) -> torch.Tensor:
    """`image` moved right by dx px (reflect padding fills the uncovered edge)."""
    padded = F.pad(image, (abs(dx), abs(dx), 0, 0), mode="reflect")
    return padded[..., abs(dx) - dx:abs(dx) - dx + image.shape[-1]]


def sharpness(images: torch.Tensor) -> float:
    """Mean gradient magnitude (forward differences), the paper's bary10 criterion."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return (dx[..., :-1, :].square() + dy[..., :, :-1].square()).sqrt().mean().item()


def progress_printer(label: str, every: int):
    def show(progress):
        if progress.step % every == 0 or progress.step == progress.total_steps:
            eta = f"{progress.eta_s:.0f}" if progress.eta_s is not None else "?"
            print(f"  [{label}] step {progress.step}/{progress.total_steps} energy {progress.energy:.5f} "
                  f"{progress.elapsed_s:.0f} s, eta {eta} s", flush=True)
    return show


def estimate(res, samples, **kwargs):
    return estimate_energy(res, samples=samples, seed=ESTIMATE_SEED, **kwargs)


def time_to_quality(args, metric, label: str, a, b, slug: str, landmarks: dict):
    """Part 1 for one pair: the reference's energy after R steps is the target; the fast preset at several
    budgets; `landmarks` are other images whose energy puts the numbers in context."""
    steps = args.reference_steps
    print(f"\n-- {label}")
    ref = pairwise_average(a, b, distance=metric, preset="reference", steps=steps, seed=0, snapshot_steps=[],
                           checkpoint=args.out / f"reference-{slug}-{steps}.ckpt", checkpoint_every=100,
                           callback=progress_printer(f"reference {slug}", 200))
    target = estimate(ref, args.samples)
    print(f"reference (R = {ref.record.steps}): energy {target.value:.6f} +- {target.stderr:.6f}, "
          f"{ref.record.evaluations:.0f} image-evaluations, {ref.record.seconds:.0f} s")
    for name, image in landmarks.items():
        est = estimate(ref, args.samples, images=image)
        print(f"{name}: energy {est.value:.6f} +- {est.stderr:.6f}")
    fast_steps = geometry.engine.presets.run_recipe("fast", BarycenterProblem, None).steps
    reached = None
    for fraction in args.budgets:
        budget = max(3, round(fast_steps * fraction))
        res = pairwise_average(a, b, distance=metric, preset="fast", steps=budget, seed=0, snapshot_steps=[])
        est = estimate(res, args.samples)
        difference, stderr = est.minus(target)
        ok = difference <= 0
        print(f"fast, {budget} steps: energy {est.value:.6f} +- {est.stderr:.6f} (vs target {difference:+.6f} +- "
              f"{stderr:.6f} paired), {res.record.evaluations:.0f} image-evaluations, {res.record.seconds:.0f} s, "
              f"sharpness {sharpness(res.images) / sharpness((a + b) / 2):.2f}x the pixel mean's, reaches target: {ok}",
              flush=True)
        if ok and reached is None:
            reached = res
    if reached is None:
        print("fast: target NOT reached at the budgets tried")
    else:
        print(f"speed-up at the target: {ref.record.evaluations / reached.record.evaluations:.1f}x fewer "
              f"image-evaluations, {ref.record.seconds / reached.record.seconds:.1f}x less time")


def part1(args, metric):
    cat, dog = cat_dog()
    print("\n== 1. time to quality: averages of two 64 px images; target = the reference preset's energy after R steps")
    time_to_quality(args, metric, "cat/dog", cat, dog, "catdog", {"pixel mean": (cat + dog) / 2})
    moved = translated(cat, 12)
    time_to_quality(args, metric, "cat and its copy moved 12 px", cat, moved, "shift12",
                    {"pixel mean": (cat + moved) / 2, "the true 6 px translation": translated(cat, 6)})


def path_summary(label, est):
    d = est.distances
    print(f"{label}: path energy {est.value:.6f} +- {est.stderr:.6f}, consecutive distances max/min "
          f"{max(d) / min(d):.2f} (min {min(d):.5f}, max {max(d):.5f})")


def part2_and_4(args, metric):
    cat, dog = cat_dog()
    frames = args.frames
    print(f"\n== 2./4. geodesic, {frames} frames, cat -> dog at 64 px, fast preset")
    started = time.perf_counter()
    res = geodesic(cat, dog, frames=frames, distance=metric, seed=0, snapshot_steps=[],
                   callback=progress_printer("geodesic", 50))
    wall = time.perf_counter() - started
    t = torch.linspace(0, 1, frames).view(-1, 1, 1, 1)
    dissolve = (1 - t) * cat + t * dog
    path_summary("E-LPIPS geodesic", estimate(res, args.samples))
    path_summary("cross-dissolve  ", estimate(res, args.samples, images=dissolve))
    print(f"4. wall time of the {frames}-frame 64 px geodesic on CPU: {wall:.0f} s "
          f"({res.record.steps} steps, {res.record.evaluations:.0f} image-evaluations); goal <= 300 s")

    print("\n== 2b. motion: cat and its copy translated by 6 px, 5 frames; middle frame vs the true 3 px translation")
    moved, half = translated(cat, 6), translated(cat, 3)
    res = geodesic(cat, moved, frames=5, distance=metric, seed=0, snapshot_steps=[])
    mix = (cat + moved) / 2
    d_geo = elpips.estimate(metric, res.images[2:3], half, samples=args.samples,
                            generator=torch.Generator().manual_seed(ESTIMATE_SEED))
    d_mix = elpips.estimate(metric, mix, half, samples=args.samples,
                            generator=torch.Generator().manual_seed(ESTIMATE_SEED))
    print(f"E-LPIPS(middle frame, true 3 px translation): "
          f"geodesic {d_geo.value.item():.5f} +- {d_geo.stderr.item():.5f}, "
          f"cross-dissolve {d_mix.value.item():.5f} +- {d_mix.stderr.item():.5f}")
    path_summary("translation geodesic      ", estimate(res, args.samples))
    t = torch.linspace(0, 1, 5).view(-1, 1, 1, 1)
    path_summary("translation cross-dissolve", estimate(res, args.samples, images=(1 - t) * cat + t * moved))


def part3(args, metric):
    cat, _ = cat_dog()
    print("\n== 3. bary10 shift: sharpness (mean gradient magnitude) relative to the source")
    res = perturbed_barycenter(cat, mode="shift", count=10, distance=metric, seed=0, snapshot_steps=[],
                               callback=progress_printer("bary10", 100))
    source = sharpness(cat)
    mean = res.inputs.mean(0, keepdim=True)
    print(f"source {source:.4f}; E-LPIPS barycenter {sharpness(res.images) / source:.3f} x source; "
          f"pixel mean {sharpness(mean) / source:.3f} x source ({res.record.steps} steps, {res.record.seconds:.0f} s)")
    est, at_mean = estimate(res, args.samples), estimate(res, args.samples, images=mean)
    print(f"energy: E-LPIPS barycenter {est.value:.6f} +- {est.stderr:.6f}, "
          f"pixel mean {at_mean.value:.6f} +- {at_mean.stderr:.6f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs: 300 reference steps, 64 draws, 5 frames")
    parser.add_argument("--parts", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--reference-steps", type=int, default=None, help="R (default 2000; 300 with --quick)")
    parser.add_argument("--samples", type=int, default=None,
                        help="draws per energy estimate (default 256; 64 with --quick)")
    parser.add_argument("--frames", type=int, default=None, help="geodesic frames (default 10; 5 with --quick)")
    parser.add_argument("--budgets", type=float, nargs="*", default=[0.25, 0.5, 1.0, 2.0, 4.0],
                        help="fractions of the fast preset's default steps tried in part 1")
    parser.add_argument("--out", type=Path, default=Path("out-bench"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    args.reference_steps = args.reference_steps or (300 if args.quick else 2000)
    args.samples = args.samples or (64 if args.quick else 256)
    args.frames = args.frames or (5 if args.quick else 10)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    metric = elpips.load_metric("elpips_vgg", device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, estimates with {args.samples} fixed draws")
    started = time.perf_counter()
    if 1 in args.parts:
        part1(args, metric)
    if 2 in args.parts or 4 in args.parts:
        part2_and_4(args, metric)
    if 3 in args.parts:
        part3(args, metric)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
