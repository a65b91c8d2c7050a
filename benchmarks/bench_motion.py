"""Motion benchmark: do in-between images MOVE content, or cross-fade it? Judged against the true frames.

    python benchmarks/bench_motion.py --quick                  # 3 pans at 64 px (minutes)
    python benchmarks/bench_motion.py                          # every scene at 64 px
    python benchmarks/bench_motion.py --sizes 64 128           # and at 128 px (an hour or more on 2 cores)
    python benchmarks/bench_motion.py --parts paths            # 10-frame geodesics at 128 and 256 px: time, evenness
    python benchmarks/bench_motion.py --parts paths --path-sizes 128 --path-baseline   # and the time ratio

Scenes (benchmarks/motion_scenes.py) are generated from the project's example images and the reference photos
beside the checkout: pans of size/16 .. size/4 px in three directions, zooms by 1.1 and 1.3, an object sliding
by less than its width. For each scene, the middle frame (t = 1/2) of

* the pairwise average (`geometry.pairwise_average`), and
* a 5-frame geodesic (`geometry.geodesic`, its frame 2),

is compared with the true middle frame: ghost fraction and R^2 (`geometry.paths.quality.ghost_fraction`: 0 = one
object at the true place, 1 = a double exposure), E-LPIPS (64 fixed, shared draws) and LPIPS-VGG to the truth,
PSNR. Geodesics also report their path energy sum d^2 (96 fixed draws, the same for every path of a scene) and
max/min consecutive distance. Methods:

* ``dissolve``: the cross-dissolve (the L2 geodesic);
* ``flow``: OpenCV Farneback flow both ways with a midpoint warp (benchmarks/flow_baseline.py);
* ``truth``: the true frames themselves (no error by definition; their ENERGY is the landmark: the energy
  prefers motion where the truth's energy is below what the engine reaches from the dissolve);
* ``dis``: the warp path (`geometry.paths.warps`) with OpenCV's DIS flow, not refined;
* ``warp``: the warp path with the engine's own coarse-to-fine flow (`geometry.paths.flows`), not refined;
* ``default``: what a user gets (``motion="auto"``, ``refine="auto"``: a warp start is not refined);
* ``none``: the engine's pixel-only path (``motion="none"``: the refinement from the cross-dissolve);
* ``warp refined``: the warp path spaced evenly, then refined (``motion="warp"``, ``refine="pixels"``);
* ``dis refined``: the same from the DIS warp path (``motion="dis"``);
* ``fast from truth``: the same refinement started from the true frames (an oracle: the energy of the motion
  basin after the same work);
* ``fast from flow``: the same refinement started from the flow baseline's frames (`start_images=`).
Seconds and network image-evaluations are the method's own (flow: OpenCV on the CPU).

Targets: ghost fraction <= 0.3 with R^2 >= 0.5, E-LPIPS to the truth <= 0.5x the dissolve's and LPIPS-VGG to
the truth below the DIS baseline's (``dis``);
10-frame geodesics at 128 px in <= 3 min and at 256 px in <= 10 min with max/min <= 1.3 and path energy below
the dissolve's.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))

from motion_scenes import Scene, benchmark_scenes, pan, pictures  # noqa: E402

import elpips  # noqa: E402
from geometry import Recipe, Stage, estimate_energy, geodesic, pairwise_average  # noqa: E402
from geometry.paths.motion import MOTION_STARTS  # noqa: E402
from geometry.paths.quality import ghost_fraction  # noqa: E402

TRUTH_SEED, ENERGY_SEED = 777, 20260101
ENGINE_METHODS = ("default", "none", "warp refined", "dis refined", "fast from truth", "fast from flow")
FLOW_METHODS = ("flow", "dis", "warp")
MOTION_OF = {"none": "none", "warp refined": "warp", "dis refined": "dis"}


@dataclass
class Outcome:
    middle: torch.Tensor          # (1, 3, H, W)
    path: torch.Tensor | None     # (5, 3, H, W) for geodesics
    seconds: float
    evaluations: float


class Judge:
    """Distances to the truth with fixed draws shared by every method of a scene."""

    def __init__(self, samples: int):
        self.elpips = elpips.load_metric("elpips_vgg")
        self.lpips = elpips.load_metric("lpips_vgg")
        self.samples = samples

    def elpips_to(self, x: torch.Tensor, truth: torch.Tensor) -> float:
        draws = self.elpips.sample_draws(self.samples, torch.Generator().manual_seed(TRUTH_SEED), stratify=8)
        with torch.no_grad():
            d = self.elpips.pair_distances(torch.cat([x, truth]), draws, torch.tensor([0]), torch.tensor([1]))
        return d.mean().item()

    def lpips_to(self, x: torch.Tensor, truth: torch.Tensor) -> float:
        with torch.no_grad():
            return self.lpips(x, truth).item()


def psnr(x: torch.Tensor, truth: torch.Tensor) -> float:
    mse = (x - truth).square().mean().item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1 / mse)).item()


def run_method(method: str, kind: str, scene: Scene, steps: int | None) -> Outcome:
    from flow_baseline import farneback_frames

    a, b = scene.render(0.0), scene.render(1.0)
    times = [0.5] if kind == "average" else [k / 4 for k in range(5)]
    started = time.perf_counter()
    if method == "dissolve":
        path = scene.dissolve(len(times)) if kind == "geodesic" else (a + b) / 2
        return Outcome(path[len(path) // 2:len(path) // 2 + 1], path if kind == "geodesic" else None, 0.0, 0.0)
    if method == "truth":
        path = scene.frames(5) if kind == "geodesic" else scene.render(0.5)
        return Outcome(scene.render(0.5), path if kind == "geodesic" else None, 0.0, 0.0)
    if method == "flow":
        frames = farneback_frames(a, b, times)
        seconds = time.perf_counter() - started
        if kind == "average":
            return Outcome(frames, None, seconds, 0.0)
        return Outcome(frames[2:3], frames, seconds, 0.0)
    if method in ("dis", "warp"):
        path = MOTION_STARTS[method](a, b)
        frames = path(torch.tensor(times, dtype=torch.float64))
        seconds = time.perf_counter() - started
        return Outcome(frames[len(frames) // 2:len(frames) // 2 + 1], frames if kind == "geodesic" else None,
                       seconds, 0.0)
    start = None
    if method == "fast from truth":
        start = scene.frames(5) if kind == "geodesic" else scene.render(0.5)
    elif method == "fast from flow":
        start = farneback_frames(a, b, times)
    options = dict(seed=0, snapshot_steps=[], steps=steps, start_images=start, motion=MOTION_OF.get(method, "none"),
                   refine="pixels")
    if method == "default":
        options = dict(seed=0, snapshot_steps=[], steps=steps)
    if kind == "average":
        res = pairwise_average(a, b, **options)
        return Outcome(res.images, None, res.record.seconds, res.record.evaluations)
    res = geodesic(a, b, frames=5, **options)
    return Outcome(res.images[2:3], res.images, res.record.seconds, res.record.evaluations)


def path_energy(path: torch.Tensor, samples: int) -> tuple[float, float]:
    est = estimate_energy(images=path, kind="geodesic", inputs=torch.cat([path[:1], path[-1:]]), samples=samples,
                          seed=ENERGY_SEED)
    return est.value, max(est.distances) / min(est.distances)


def part_scenes(args, judge: Judge) -> list[dict]:
    rows = []
    header = (f"{'scene':24s} {'kind':8s} {'method':16s} {'ghost':>6s} {'R2':>5s} {'E-LPIPS':>8s} {'(x dis)':>7s} "
              f"{'LPIPS':>7s} {'PSNR':>6s} {'energy':>9s} {'max/min':>7s} {'s':>5s} {'evals':>6s}")
    for size in args.sizes:
        print(f"\n== scenes at {size} px: middle frames vs the truth ({args.samples} shared draws)")
        print(header)
        for scene in benchmark_scenes(size, quick=args.quick):
            if args.scenes and not any(scene.name.startswith(prefix) for prefix in args.scenes):
                continue
            truth, dissolve_mid = scene.render(0.5), (scene.render(0.0) + scene.render(1.0)) / 2
            for kind in args.kinds:
                base = None
                for method in args.methods:
                    out = run_method(method, kind, scene, args.steps)
                    fit = ghost_fraction(out.middle, truth, dissolve_mid)
                    e = judge.elpips_to(out.middle, truth)
                    base = e if method == "dissolve" else base
                    energy, evenness = (path_energy(out.path, args.energy_samples) if out.path is not None
                                        else (None, None))
                    row = dict(size=size, scene=scene.name, kind=kind, method=method, ghost=fit.fraction, r2=fit.r2,
                               elpips=e, lpips=judge.lpips_to(out.middle, truth), psnr=psnr(out.middle, truth),
                               energy=energy, evenness=evenness, seconds=out.seconds, evaluations=out.evaluations)
                    rows.append(row)
                    ratio = f"{e / base:7.2f}" if base else f"{'':7s}"
                    energy_text = f"{energy:9.6f} {evenness:7.2f}" if energy is not None else f"{'':9s} {'':7s}"
                    print(f"{scene.name:24s} {kind:8s} {method:16s} {fit.fraction:6.2f} {fit.r2:5.2f} {e:8.4f} {ratio} "
                          f"{row['lpips']:7.4f} {row['psnr']:6.2f} {energy_text} {out.seconds:5.0f} "
                          f"{out.evaluations:6.0f}", flush=True)
    return rows


def summarise(rows: list[dict]) -> None:
    print("\n== summary: scenes meeting the motion target (ghost <= 0.3, R2 >= 0.5, E-LPIPS <= 0.5x dissolve's);"
          " LPIPS below DIS's")
    dissolve = {(r["size"], r["scene"], r["kind"]): r["elpips"] for r in rows if r["method"] == "dissolve"}
    dis = {(r["size"], r["scene"], r["kind"]): r["lpips"] for r in rows if r["method"] == "dis"}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["kind"], r["method"]), []).append(r)
    for (size, kind, method), members in groups.items():
        met = sum(1 for r in members if r["ghost"] <= 0.3 and r["r2"] >= 0.5
                  and r["elpips"] <= 0.5 * dissolve[(size, r["scene"], kind)])
        ghost = sorted(r["ghost"] for r in members)[len(members) // 2]
        lp = sum(r["lpips"] for r in members) / len(members)
        below = sum(1 for r in members if r["lpips"] < dis.get((size, r["scene"], kind), float("nan")))
        print(f"{size:4d} px {kind:8s} {method:16s} meets target {met}/{len(members)}, median ghost {ghost:5.2f}, "
              f"mean LPIPS to truth {lp:.4f}, LPIPS below DIS's {below}/{len(members)}")
    energies = {}
    for r in rows:
        if r["energy"] is not None:
            energies.setdefault((r["size"], r["scene"]), {})[r["method"]] = r["energy"]
    if energies:
        print("\n== which path does the E-LPIPS energy prefer? (5-frame path energies, lower is preferred)")
        for (size, scene), by_method in energies.items():
            ranked = sorted(by_method.items(), key=lambda item: item[1])
            print(f"{size:4d} px {scene:24s} " + "  ".join(f"{m} {v:.6f}" for m, v in ranked))


#: The fast path recipe before the even start (its first version): the uniform cross-dissolve, 60 steps of
#: 4 draws at about 64 px, 20 of 4 at each doubling. The baseline of --parts paths' time ratio.
PREVIOUS_FAST_PATH_STAGES = ((60, 4), (20, 4))


def previous_fast_path(size: int) -> Recipe:
    (work_steps, work_draws), (refine_steps, refine_draws) = PREVIOUS_FAST_PATH_STAGES
    divisor = max(1, size // 64)
    stages = [Stage(divisor, work_steps, 0.003, "cosine", work_draws)]
    while divisor > 1:
        divisor //= 2
        stages.append(Stage(divisor, refine_steps, 0.003, "cosine", refine_draws))
    return Recipe("previous fast", init="mean", stages=tuple(stages))


def part_paths(args) -> None:
    print("\n== 10-frame geodesics of a pan (size/8 px): wall time, evenness, path energy vs the dissolve "
          f"({args.path_energy_samples} fixed draws)")
    for size in args.path_sizes:
        goal = {128: 180, 256: 600}.get(size)
        src = pictures(size)
        name = "cat" if "cat" in src else "texture_blobs"
        scene = pan(f"pan-h {size // 8}px {name}", src[name], size, 0, size // 8)
        a, b = scene.render(0.0), scene.render(1.0)
        dissolve, dissolve_evenness = path_energy(scene.dissolve(10), args.path_energy_samples)
        print(f"{size} px {scene.name}: the dissolve: path energy {dissolve:.6f}, max/min {dissolve_evenness:.2f}"
              + (f"; goal: <= {goal} s, max/min <= 1.3, energy below the dissolve's" if goal else ""), flush=True)
        recipes = [("fast (default)", "fast")] + ([("previous fast", previous_fast_path(size))]
                                                  if args.path_baseline else [])
        recipes += [("pixel (none)", "fast")] if args.path_pixel else []
        seconds = {}
        for label, preset in recipes:
            started = time.perf_counter()
            res = geodesic(a, b, frames=10, seed=0, snapshot_steps=[], preset=preset,
                           motion="auto" if label == "fast (default)" else "none")
            seconds[label] = time.perf_counter() - started
            energy, evenness = path_energy(res.images, args.path_energy_samples)
            print(f"  {label:16s} {seconds[label]:5.0f} s, {res.record.evaluations:5.0f} image-evaluations, "
                  f"max/min {evenness:.2f}, path energy {energy:.6f} ({energy / dissolve:.2f}x the dissolve's)",
                  flush=True)
        for label in seconds:
            if label != "fast (default)":
                print(f"  time: fast (default) / {label} = {seconds['fast (default)'] / seconds[label]:.2f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three horizontal pans only")
    parser.add_argument("--scenes", nargs="*", default=None, help="only the scenes whose name starts so")
    parser.add_argument("--parts", nargs="*", default=["scenes"], choices=["scenes", "paths"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64])
    parser.add_argument("--path-sizes", type=int, nargs="*", default=[128, 256])
    parser.add_argument("--path-baseline", action="store_true",
                        help="also run the previous fast path recipe (uniform dissolve start) for a time ratio")
    parser.add_argument("--path-pixel", action="store_true", help="also run the pixel-only path (motion none)")
    parser.add_argument("--path-energy-samples", type=int, default=48, help="draws for the 10-frame path energies")
    parser.add_argument("--kinds", nargs="*", default=["average", "geodesic"], choices=["average", "geodesic"])
    parser.add_argument("--methods", nargs="*", default=["dissolve", *FLOW_METHODS, "truth", *ENGINE_METHODS],
                        choices=["dissolve", *FLOW_METHODS, "truth", *ENGINE_METHODS])
    parser.add_argument("--steps", type=int, default=None, help="engine steps (default: the preset's)")
    parser.add_argument("--samples", type=int, default=64, help="draws for E-LPIPS to the truth")
    parser.add_argument("--energy-samples", type=int, default=96, help="draws for path energies")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for first in ("dis", "dissolve"):  # the ratio column and the LPIPS comparison need them first
        if first in args.methods:
            args.methods = [first] + [m for m in args.methods if m != first]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    started = time.perf_counter()
    if "scenes" in args.parts:
        summarise(part_scenes(args, Judge(args.samples)))
    if "paths" in args.parts:
        part_paths(args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
