"""Texture-morph benchmark: do in-between frames show a texture at the in-between parameter, or a plaid?

    python benchmarks/bench_texture.py --quick                   # orientation and scale morphs at 64 px
    python benchmarks/bench_texture.py --sizes 64 128            # every scene at 64 and 128 px
    python benchmarks/bench_texture.py --methods dissolve truth texture spectral   # no optimisation (seconds)
    python benchmarks/bench_texture.py --parts paths --path-sizes 128   # 10-frame geodesics: time, evenness
    python benchmarks/bench_texture.py --parts choice --sizes 64 128    # texture or motion? (seconds)
    python benchmarks/bench_texture.py --parts photos --sizes 64 128    # turns and zooms found on photographs
    python benchmarks/bench_texture.py --parts morphs --sizes 64 128 --run-sizes 64   # photo morphs' middles, sheets

Scenes (benchmarks/texture_scenes.py): one fixed white noise seen through a band-pass whose orientation, centre
frequency, blob size or anisotropy moves with t; the truth at time t is that texture at the in-between
parameter. For each scene and method, the 5-frame path's middle frame (t = 1/2; for `average` the
pairwise average) is judged by

* spectral ghost (`geometry.paths.quality.spectral_ghost`): the middle frame's power in the endpoints' bands over its
  power there and in the true middle texture's bands (0 = a texture at the middle parameter, 1 = a dissolve);
  for a 90 degree turn, the smaller against either way's middle; '-' where no parameter moves power apart;
* superposition (`geometry.paths.sliced.superposition_score`, where the ghost is '-'): 1 = the dissolve, near 0 =
  one texture with statistics between the endpoints';
* contrast: `geometry.paths.quality.highpass_contrast` over the true middle texture's;
* path energy sum d^2 (`geometry.estimate_energy`, fixed draws shared by every path of a scene) and evenness
  (max/min consecutive distance); seconds and network image-evaluations of the method itself, and for the
  engine's runs the start they took.

Methods: ``dissolve``; ``truth`` (the true path: its energy is the landmark); ``geodesic`` (the engine's
default 5-frame `geometry.geodesic`); ``average`` (the default `geometry.pairwise_average`); ``texture``
(`geometry.paths.textures.texture_path` at equal warp parameters); ``texture-even`` (the same spaced evenly under
E-LPIPS: `metric=`); ``spectral`` (`spectral_path` below: the spectra's displacement interpolation with
the dissolve's phases); ``texture+refine`` (from ``texture-even``) and ``truth+refine``: the engine's
default geodesic refinement started from those frames (`start_images=`).

Targets (issue): spectral ghost <= 0.3 on orientation and scale morphs, contrast >= 0.9x a true texture's,
max/min <= 1.3.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))

from texture_scenes import Scene, benchmark_scenes  # noqa: E402

from geometry import estimate_energy, geodesic, pairwise_average  # noqa: E402
from geometry.engine.distances import DistanceFamily  # noqa: E402
from geometry.paths.quality import highpass_contrast, spectral_ghost  # noqa: E402
from geometry.paths.sliced import superposition_score  # noqa: E402
from geometry.paths.textures import (  # noqa: E402
    MEASURE_SIDE,
    estimate_similarity,
    is_texture_morph,
    texture_path,
    texture_path_evaluations,
    warped_endpoints,
)

ENERGY_SEED = 20261202
TIMES = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
METHODS = ("dissolve", "truth", "texture", "texture-even", "spectral", "average", "geodesic", "texture+refine",
           "truth+refine")
OPTIMISING = ("average", "geodesic", "texture+refine", "truth+refine")


@dataclass
class Outcome:
    middle: torch.Tensor          # (1, 3, H, W)
    path: torch.Tensor | None     # (5, 3, H, W)
    seconds: float
    evaluations: float
    taken: str = "-"              # the start an engine run took (its record's settings["start"]["taken"])


def spectral_path(a: torch.Tensor, b: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """The variant that lost to `texture_path` (docs/textures.md): each frame's amplitude spectrum is the
    displacement interpolation of the endpoints' (their warped spectra blended, per channel), its phases the
    cross-dissolve's."""
    a_frames, b_frames = warped_endpoints(a, b, times, estimate_similarity(a, b))
    t = times.to(a.device).view(-1, 1, 1, 1)
    amplitude = ((1 - t) * torch.fft.fft2(a_frames).abs().square() + t * torch.fft.fft2(b_frames).abs().square()).sqrt()
    dissolve = torch.fft.fft2((1 - t) * a.double() + t * b.double())
    frames = torch.fft.ifft2(amplitude * torch.exp(1j * dissolve.angle())).real
    return frames.clamp(0, 1).to(a.dtype)


def with_ends(a: torch.Tensor, b: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, inner, b])


def run_method(method: str, scene: Scene, steps: int | None) -> Outcome:
    a, b = scene.render(0.0), scene.render(1.0)
    started = time.perf_counter()
    if method in ("dissolve", "truth"):
        path = scene.dissolve(5) if method == "dissolve" else scene.frames(5)
        return Outcome(path[2:3], path, 0.0, 0.0)
    if method in ("texture", "spectral"):
        inner = (texture_path if method == "texture" else spectral_path)(a, b, TIMES)
        return Outcome(inner[1:2], with_ends(a, b, inner), time.perf_counter() - started, 0.0)
    if method == "texture-even":
        inner = even_texture_start(a, b)
        return Outcome(inner[1:2], with_ends(a, b, inner), time.perf_counter() - started,
                       texture_path_evaluations(len(TIMES)) * min(1.0, MEASURE_SIDE / scene.size) ** 2)
    options = dict(seed=0, snapshot_steps=[], steps=steps)
    if method == "average":
        res = pairwise_average(a, b, **options)
        return Outcome(res.images, None, res.record.seconds, res.record.evaluations)
    start = None
    if method == "texture+refine":
        start = even_texture_start(a, b)
    elif method == "truth+refine":
        start = scene.frames(5)[1:-1]
    res = geodesic(a, b, frames=5, start_images=start, **options)
    return Outcome(res.images[2:3], res.images, time.perf_counter() - started, res.record.evaluations,
                   res.record.settings["start"]["taken"])


def even_texture_start(a: torch.Tensor, b: torch.Tensor, times: torch.Tensor = TIMES) -> torch.Tensor:
    """texture_path's frames spaced evenly under the engine's E-LPIPS (as the engine would call it)."""
    side = min(MEASURE_SIDE, a.shape[-1])
    metric = DistanceFamily("elpips_vgg", torch.device("cpu")).at_size((side, side))
    return texture_path(a, b, times, metric=metric, generator=torch.Generator().manual_seed(1))


def path_energy(path: torch.Tensor, samples: int) -> tuple[float, float]:
    est = estimate_energy(images=path, kind="geodesic", inputs=torch.cat([path[:1], path[-1:]]), samples=samples,
                          seed=ENERGY_SEED)
    return est.value, max(est.distances) / min(est.distances)


def judge(scene: Scene, out: Outcome, samples: int) -> dict:
    a, b = scene.render(0.0), scene.render(1.0)
    middles = scene.middles()
    ghost = (min(spectral_ghost(out.middle, m, a, b).fraction for m in middles) if scene.spectral else None)
    superposition = None if scene.spectral else superposition_score(out.middle, a, b).fraction
    contrast = highpass_contrast(out.middle) / highpass_contrast(middles[0])
    energy, evenness = path_energy(out.path, samples) if out.path is not None else (None, None)
    return dict(ghost=ghost, superposition=superposition, contrast=contrast, energy=energy, evenness=evenness)


def part_scenes(args) -> list[dict]:
    rows = []
    header = (f"{'scene':26s} {'method':15s} {'ghost':>6s} {'superp.':>7s} {'contrast':>8s} {'energy':>9s} "
              f"{'max/min':>7s} {'s':>6s} {'evals':>6s} start")
    for size in args.sizes:
        print(f"\n== {size} px: 5-frame paths' middle frames ({args.energy_samples} shared draws for energies)")
        print(header)
        for scene in benchmark_scenes(size, quick=args.quick):
            if args.scenes and scene.name not in args.scenes:
                continue
            for method in args.methods:
                if size not in args.engine_sizes and method in OPTIMISING:
                    continue
                out = run_method(method, scene, args.steps)
                row = dict(size=size, scene=scene.name, method=method, seconds=out.seconds,
                           evaluations=out.evaluations, **judge(scene, out, args.energy_samples))
                rows.append(row)
                ghost = f"{row['ghost']:6.3f}" if row["ghost"] is not None else f"{'-':>6s}"
                energy = (f"{row['energy']:9.6f} {row['evenness']:7.2f}" if row["energy"] is not None
                          else f"{'-':>9s} {'-':>7s}")
                superposition = (f"{row['superposition']:7.3f}" if row["superposition"] is not None
                                 else f"{'-':>7s}")
                print(f"{scene.name:26s} {method:15s} {ghost} {superposition} {row['contrast']:8.2f} {energy} "
                      f"{out.seconds:6.1f} {out.evaluations:6.0f} {out.taken}", flush=True)
    return rows


def summarise(rows: list[dict]) -> None:
    print("\n== which path does the E-LPIPS energy prefer? (5-frame path energies, lowest first)")
    energies: dict[tuple, dict] = {}
    for r in rows:
        if r["energy"] is not None:
            energies.setdefault((r["size"], r["scene"]), {})[r["method"]] = r["energy"]
    for (size, scene), by_method in energies.items():
        ranked = sorted(by_method.items(), key=lambda item: item[1])
        print(f"{size:4d} px {scene:26s} " + "  ".join(f"{m} {v:.6f}" for m, v in ranked))
    print("\n== target (ghost <= 0.3 where it applies, contrast >= 0.9, max/min <= 1.3): scenes met per method")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["method"]), []).append(r)
    for (size, method), members in groups.items():
        met = sum(1 for r in members if (r["ghost"] is None or r["ghost"] <= 0.3) and r["contrast"] >= 0.9
                  and (r["evenness"] is None or r["evenness"] <= 1.3))
        print(f"{size:4d} px {method:15s} {met}/{len(members)}")


def part_paths(args) -> None:
    """10-frame geodesics of the 0-60 degree orientation morph: the time budget, evenness and energy."""
    from texture_scenes import orientation

    inner = torch.arange(1, 9, dtype=torch.float64) / 9
    print(f"\n== 10-frame geodesics of orient 0-60 ({args.energy_samples} fixed draws); goal <= 180 s at 128 px, "
          "<= 600 s at 256 px")
    for size in args.path_sizes:
        scene = orientation(size, 60)
        a, b = scene.render(0.0), scene.render(1.0)
        for label in ("geodesic", "texture+refine"):
            started = time.perf_counter()
            start = None
            if label == "texture+refine":
                start = even_texture_start(a, b, inner)
            res = geodesic(a, b, frames=10, seed=0, snapshot_steps=[], start_images=start)
            seconds = time.perf_counter() - started
            energy, evenness = path_energy(res.images, args.energy_samples)
            ghost = spectral_ghost(res.images[4:5], scene.render(4 / 9), a, b).fraction
            print(f"{size:4d} px {label:15s} {seconds:6.0f} s {res.record.evaluations:6.0f} evaluations, energy "
                  f"{energy:.6f}, max/min {evenness:.2f}, frame 4 spectral ghost {ghost:.3f}", flush=True)


def part_choice(args) -> None:
    """`geometry.paths.textures.is_texture_morph`, and `detect_similarity` with its confidence, on the texture
    scenes and on the motion benchmark's scenes."""
    import motion_scenes

    from geometry.paths.detection import confident, detect_similarity

    print("\n== the automatic choice: the similarity found between the endpoints' spectra, and is_texture_morph")
    for size in args.sizes:
        scenes = [("texture", s) for s in benchmark_scenes(size)]
        scenes += [("motion", s) for s in motion_scenes.benchmark_scenes(size)]
        for kind, scene in scenes:
            a, b = scene.render(0.0), scene.render(1.0)
            found, detected = estimate_similarity(a, b), detect_similarity(a, b)
            print(f"{size:4d} px {kind:8s} {scene.name:26s} turn {math.degrees(found.angle):6.1f} deg, scale "
                  f"{found.scale:5.2f}: {'texture' if is_texture_morph(a, b) else 'motion'} | detect_similarity "
                  f"{math.degrees(detected.angle):6.1f} deg x{detected.scale:4.2f} confidence "
                  f"{detected.confidence:5.3f} left {detected.distance:5.3f}: "
                  f"{'confident' if confident(detected) else 'not confident'}", flush=True)


def part_photos(args) -> None:
    """Turns and zooms of photographed textures (benchmarks/texture_photos.py, endpoints from different crops):
    the turn and zoom found by `estimate_similarity` (the texture path's) and by `detect_similarity` (with its
    confidence), against the true ones; target within 10 degrees and 10 %. Then `detect_similarity` on the
    texture changes (no turn or zoom is true there: its confidence is what `auto` must not take for one)."""
    from texture_photos import photo_scenes

    from geometry.paths.detection import detect_similarity

    print("\n== photographed textures, unaligned crops: turn and zoom found (estimate_similarity | detect_similarity)")
    for size in args.sizes:
        met = {"estimate_similarity": 0, "detect_similarity": 0}
        scenes = [scene for scene in photo_scenes(size) if scene.spectral]
        for scene in scenes:
            a, b = scene.render(0.0), scene.render(1.0)
            cells = []
            started = time.process_time()
            detected = detect_similarity(a, b)
            seconds = time.process_time() - started
            for label, found in (("estimate_similarity", estimate_similarity(a, b)), ("detect_similarity", detected)):
                turn_error = abs((math.degrees(found.angle - scene.angle) + 90) % 180 - 90)
                within = turn_error <= 10 and abs(found.scale / scene.scale - 1) <= 0.1
                met[label] += within
                cells.append(f"{math.degrees(found.angle):6.1f} deg x{found.scale:4.2f} {'ok' if within else '--'}")
            print(f"{size:4d} px {scene.name:20s} true {math.degrees(scene.angle):4.0f} deg x{scene.scale:4.2f}: "
                  + " | ".join(cells) + f" confidence {detected.confidence:5.3f} left {detected.distance:5.3f} "
                  f"turn seen by {detected.agreement}/4 halves ({seconds:4.1f} CPU s)", flush=True)
        print(f"{size:4d} px within 10 deg and 10 %: " + ", ".join(f"{k} {v}/{len(scenes)}" for k, v in met.items()))
        for scene in [scene for scene in photo_scenes(size) if not scene.spectral]:
            found = detect_similarity(scene.render(0.0), scene.render(1.0))
            print(f"{size:4d} px {scene.name:20s} (a change) detect_similarity {math.degrees(found.angle):6.1f} deg "
                  f"x{found.scale:4.2f} confidence {found.confidence:5.3f} left {found.distance:5.3f} "
                  f"turn seen by {found.agreement}/4 halves", flush=True)


def isotropic_noise(seed: int, size: int) -> torch.Tensor:
    """(1, 3, size, size): blurred Gaussian noise, one isotropic texture whatever its turn."""
    from geometry.paths.quality import gaussian_blur

    noise = torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    noise = gaussian_blur(noise, 1.5)
    return (0.5 + 0.2 * noise / noise.std()).clamp(0, 1).expand(1, 3, size, size).float()


def part_unseen_turns(args) -> None:
    """`detection.seen_turn` on 20 pairs of isotropic noise (no turn to see): how often it sees a turn other
    than none, with SEEN and with one agreeing half fewer."""
    from geometry.paths.detection import AGREE, SEEN, seen_turn

    print("\n== isotropic noise pairs: spectral turns seen (none is there)")
    for size in args.sizes:
        found = [seen_turn(isotropic_noise(2 * k, size), isotropic_noise(2 * k + 1, size), 1.0) for k in range(20)]
        turned = [(turn, agreement) for turn, agreement in found if abs(math.degrees(turn)) > AGREE]
        print(f"{size:4d} px turns found (deg, halves agreeing): "
              + " ".join(f"{math.degrees(t):.0f}/{k}" for t, k in found))
        for least in (SEEN, SEEN - 1):
            print(f"{size:4d} px seen by >= {least} halves, other than no turn: "
                  f"{sum(k >= least for _, k in turned)}/{len(found)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="orientation and scale morphs only")
    parser.add_argument("--parts", nargs="*", default=["scenes"], choices=["scenes", "paths", "choice", "photos",
                                                                          "morphs"])
    parser.add_argument("--run-sizes", type=int, nargs="*", default=[64],
                        help="sizes at which --parts morphs times whole runs of the texture changes")
    parser.add_argument("--sheets", default=str(Path(__file__).resolve().parent / "results" / "bench_texture_morphs"),
                        help="--parts morphs writes its contact sheets to SHEETS_<morphs>_<size>px.png")
    parser.add_argument("--morphs", nargs="*", default=["changes", "similar"], choices=["changes", "similar"],
                        help="--parts morphs: texture changes, turns and zooms (similar), or both")
    parser.add_argument("--turn-starts", nargs="*", default=["tile", "synth"], choices=["tile", "synth"],
                        help="--parts morphs: the turn/zoom starts judged besides the truth and the dissolve (tile: "
                             "the run's texture start; synth: the synthesis variant, minutes at 128 px)")
    parser.add_argument("--truth-samples", type=int, default=16,
                        help="--parts morphs: E-LPIPS draws for a turn/zoom middle's distance to the truth")
    parser.add_argument("--change-variants", action="store_true",
                        help="--parts morphs: also the change start as it was, its syntheses from the dissolve")
    parser.add_argument("--path-sizes", type=int, nargs="*", default=[128])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64])
    parser.add_argument("--scenes", nargs="*", default=None, help="only the scenes of these names")
    parser.add_argument("--engine-sizes", type=int, nargs="*", default=None,
                        help="sizes at which the optimising methods run (default: every size)")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--steps", type=int, default=None, help="engine steps (default: the preset's)")
    parser.add_argument("--energy-samples", type=int, default=64, help="draws for path energies")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.engine_sizes is None:
        args.engine_sizes = args.sizes
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    if "scenes" in args.parts:
        summarise(part_scenes(args))
    if "paths" in args.parts:
        part_paths(args)
    if "choice" in args.parts:
        part_choice(args)
    if "photos" in args.parts:
        part_unseen_turns(args)
        part_photos(args)
    if "morphs" in args.parts:
        from texture_photo_morphs import part_morphs

        part_morphs(args.sizes, args.run_sizes, Path(args.sheets), tuple(args.morphs), args.scenes,
                    tuple(args.turn_starts), args.change_variants, args.truth_samples)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
