"""Clip benchmark: ``elpips-geodesic --video`` on generated clips: seconds per inserted frame, and whether the
inserted frames move content or cross-fade it.

    python benchmarks/bench_clip.py                       # 64 and 128 px, K = 1, 2 threads (an hour on 2 cores)
    python benchmarks/bench_clip.py --frames 3            # two pairs per clip (what the README reports)
    python benchmarks/bench_clip.py --cut-distances       # what the scene-cut thresholds separate
    python benchmarks/bench_clip.py --cut-distances --real   # and the candidate checks on real footage
    python benchmarks/bench_clip.py --sizes 64 --insert 2

Clips (benchmarks/motion_scenes.py): the cat photo panned by size/16 px per input frame (4 px at 64, 8 at 128),
and a textured disc sliding over a texture by size/16 px per frame, `--frames` input frames each at 10 fps. The
truth of every inserted frame is the scene rendered at its time. Each clip goes through the command itself
(in this process, written as PNG frames and read back with ``--video FOLDER``) twice: with the default distance
and preset (E-LPIPS, fast; the output at the clip's size, optimised at about 64 px and refined up to it) and
with ``--distance l2`` (the engine's cross-dissolve, the time baseline). Printed per clip and size:

* seconds per inserted frame: wall time of the command (network loading, cut detection and writing included)
  and the engine's own seconds (the run records'), with the ratio to the L2 run's;
* ghost fraction of the inserted frames (`geometry.paths.quality.ghost_fraction`: 0 one object at the true place,
  1 a double exposure of the pair's frames), mean over the inserted frames, and its R^2;
* E-LPIPS to the truth (32 fixed draws) of the inserted frames, against the cross-dissolve's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))

from bench_motion import Judge  # noqa: E402
from motion_scenes import Scene, moving_object, numpy_frame, pan, pictures  # noqa: E402

from geometry.paths.quality import ghost_fraction  # noqa: E402
from geometry.tools.geodesic import main as geodesic_main  # noqa: E402

FPS = 10


def clip_scenes(size: int, frames: int) -> dict[str, Scene]:
    src = pictures(size)
    step = size // 16
    photo = "cat" if "cat" in src else "texture_blobs"
    radius = size * 0.22
    return {"pan": pan(f"pan {step}px/frame {photo}", src[photo], size, 0, step * (frames - 1)),
            "object": moving_object(f"object {step}px/frame", src["texture_blobs"], src[photo], size, radius, 0,
                                    step * (frames - 1))}


def run_command(folder: Path, out: Path, insert: int, metric: str) -> tuple[float, float, torch.Tensor]:
    """(wall seconds, engine seconds, output frames (N, 3, H, W)) of one run of the command."""
    started = time.perf_counter()
    status = geodesic_main(["--video", str(folder), "--input-fps", str(FPS), "--insert", str(insert), "--distance",
                            metric, "--formats", "mp4", "--no-progress", "--out", str(out)])
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"elpips-geodesic failed with status {status}")
    record = json.loads((out / "record.json").read_text())
    engine = sum(pair.get("seconds", 0.0) for pair in record["pairs"])
    frames = sorted((out / "frames").glob("frame_*.png"))
    images = torch.stack([torch.from_numpy(iio.imread(f)[..., :3]).permute(2, 0, 1) for f in frames]).float() / 255
    return wall, engine, images


def measure(scene: Scene, frames: int, insert: int, judge: Judge, work: Path) -> None:
    count = frames
    times = [k / (count - 1) for k in range(count)]
    clip = [scene.render(t) for t in times]
    folder = work / f"{scene.name}-{scene.size}".replace(" ", "_").replace("/", "-")
    folder.mkdir()
    for k, image in enumerate(clip):
        iio.imwrite(folder / f"frame_{k:03d}.png", numpy_frame(image))
    clip = [torch.from_numpy(iio.imread(folder / f"frame_{k:03d}.png")).permute(2, 0, 1)[None].float() / 255
            for k in range(count)]  # as the command reads them (8 bits)
    inserted = [(k, j) for k in range(count - 1) for j in range(1, insert + 1)]
    runs = {metric: run_command(folder, work / f"{folder.name}-{metric}", insert, metric)
            for metric in ("l2", "elpips_vgg")}
    per_frame = len(inserted)
    base_wall, base_engine, _ = runs["l2"]
    wall, engine, images = runs["elpips_vgg"]
    ghosts, fits, to_truth, dissolve_to_truth = [], [], [], []
    for k, j in inserted:
        t = j / (insert + 1)
        truth = scene.render((k + t) / (count - 1))
        dissolve = (1 - t) * clip[k] + t * clip[k + 1]
        result = images[k * (insert + 1) + j][None]
        fit = ghost_fraction(result, truth, dissolve)
        ghosts.append(fit.fraction)
        fits.append(fit.r2)
        to_truth.append(judge.elpips_to(result, truth))
        dissolve_to_truth.append(judge.elpips_to(dissolve, truth))
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    print(f"{scene.name:28s} {scene.size:4d} px  {count} frames, K={insert}: "
          f"{wall / per_frame:6.1f} s/inserted frame (L2 run {base_wall / per_frame:.2f} s, x{wall / base_wall:.0f}); "
          f"engine {engine / per_frame:6.1f} s (L2 {base_engine / per_frame:.3f} s)  |  ghost fraction "
          f"{mean(ghosts):.2f} (R^2 {mean(fits):.2f}; dissolve 1.00)  E-LPIPS to truth {mean(to_truth):.4f} vs "
          f"dissolve {mean(dissolve_to_truth):.4f} (x{mean(to_truth) / mean(dissolve_to_truth):.2f})", flush=True)


def cut_distances(size: int) -> None:
    """What the scene-cut thresholds (geometry.service.clips.CUT_THRESHOLDS) separate: consecutive frames of
    moving content
    and pairs of unrelated pictures, under every distance, as the command measures them."""
    from geometry.service.clips import CUT_THRESHOLDS, consecutive_distances

    src = pictures(size)
    photo = "cat" if "cat" in src else "texture_blobs"
    other = "dog" if "dog" in src else "texture_stripes"
    pairs = {f"pan {shift}px": pan("", src[photo], size, 0, shift) for shift in (2, 4, 8, 16)}
    pairs = {name: (scene.render(0.0), scene.render(1.0)) for name, scene in pairs.items()}
    sliding = moving_object("", src["texture_blobs"], src[photo], size, size * 0.22, 0, 10)
    pairs["object 10px"] = (sliding.render(0.0), sliding.render(1.0))
    crop = lambda name: src[name][..., :size, :size]  # noqa: E731
    pairs[f"cut {photo}/{other}"] = (crop(photo), crop(other))
    pairs[f"cut {photo}/blobs"] = (crop(photo), crop("texture_blobs"))
    pairs["cut stripes/blobs"] = (crop("texture_stripes"), crop("texture_blobs"))
    print(f"\nconsecutive-frame distances at {size} px (what --cut-threshold compares; cut at or above):")
    print(f"{'pair':18s} " + " ".join(f"{name:>10s}" for name in CUT_THRESHOLDS))
    print(f"{'threshold':18s} " + " ".join(f"{value:10.3f}" for value in CUT_THRESHOLDS.values()))
    for label, (a, b) in pairs.items():
        frames = torch.cat([a, b]).clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).numpy()
        values = [consecutive_distances(frames, name, "cpu")[0] for name in CUT_THRESHOLDS]
        print(f"{label:18s} " + " ".join(f"{value:10.4f}" for value in values), flush=True)


#: The scene-cut checks compared on real footage: distance:short side:draws (0: the network on the frames as they
#: are, no random transformation).
CUT_CHECKS = ("elpips_vgg:64:8", "elpips_vgg:64:2", "elpips_vgg:64:0", "elpips_vgg:32:0", "lpips_vgg:64:1",
              "lpips_vgg:32:1", "alex:64:1", "l2:64:1")


def real_cut_distances(checks) -> None:
    """What each scene-cut check (`CUT_CHECKS`) separates on real footage (benchmarks/real_clips.py: the clips of
    the interpolation benchmark): per clip the largest distance of its consecutive frames that are no cut (RMS
    change below real_clips.CUT_CHANGE at 64 px) and the smallest of those that are (bikes' cuts), and the
    smallest of the spliced pairs (each clip's last frame followed by another clip's first, brought to its size);
    with the CPU seconds per pair of each check (the clips' consecutive pairs, at their own size, all threads)."""
    import numpy as np
    from real_clips import CLIPS, CUT_CHANGE, RULE_SIZE, changes, read_frames, working_frames

    from geometry.engine.inputs import resize
    from geometry.service.clips import consecutive_distances

    clips = {name: read_frames(name) for name in CLIPS}
    rms = {name: changes(working_frames(frames, RULE_SIZE)) for name, frames in clips.items()}
    spliced = []
    for first, a in clips.items():
        for second, b in clips.items():
            if first != second:
                end = torch.from_numpy(np.ascontiguousarray(b[:1])).permute(0, 3, 1, 2).float().div(255)
                end = resize(end, a.shape[1:3]).mul(255).round().byte().permute(0, 2, 3, 1).numpy()
                spliced.append(np.concatenate([a[-1:], end]))
    rows = {}
    print("\nreal footage (" + ", ".join(f"{n}: {len(f)} frames {f.shape[2]}x{f.shape[1]}" for n, f in clips.items())
          + f"); cuts: consecutive frames whose RMS change at {RULE_SIZE} px is at least {CUT_CHANGE}")
    for check in checks:
        distance, side, draws = check.split(":")
        side, draws = int(side), int(draws)
        label = f"{distance} {side}px {draws if draws else 'identity'}"
        consecutive_distances(clips["carphone"][:2], distance, "cpu", side=side, draws=draws)  # loaded
        began, pairs, values = time.process_time(), 0, {}
        for name, frames in clips.items():
            values[name] = consecutive_distances(frames, distance, "cpu", side=side, draws=draws)
            pairs += len(frames) - 1
        seconds = (time.process_time() - began) / pairs
        joins = [consecutive_distances(pair, distance, "cpu", side=side, draws=draws)[0] for pair in spliced]
        moving = {name: max(v for v, c in zip(values[name], rms[name]) if c < CUT_CHANGE) for name in clips}
        cuts = [v for name in clips for v, c in zip(values[name], rms[name]) if c >= CUT_CHANGE]
        rows[label] = [*moving.values(), min(cuts) if cuts else float("nan"), len(cuts), min(joins), seconds]
        print(f"  {label}: done", flush=True)
    names = list(clips)
    print(f"{'check':22s} " + " ".join(f"{'max ' + n:>16s}" for n in names)
          + f" {'min cut':>10s} {'cuts':>5s} {'min spliced':>12s} {'CPU s/pair':>11s}")
    for label, row in rows.items():
        print(f"{label:22s} " + " ".join(f"{v:16.4f}" for v in row[:len(names)])
              + f" {row[-4]:10.4f} {row[-3]:5d} {row[-2]:12.4f} {row[-1]:11.3f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128])
    parser.add_argument("--frames", type=int, default=4, help="input frames of each clip (default 4)")
    parser.add_argument("--scenes", nargs="*", default=["pan", "object"], choices=["pan", "object"])
    parser.add_argument("--insert", type=int, default=1, help="frames inserted per pair (default 1)")
    parser.add_argument("--cut-distances", action="store_true",
                        help="only print the distances the scene-cut thresholds separate (at 64 px)")
    parser.add_argument("--real", action="store_true",
                        help="with --cut-distances: also the candidate checks on real footage (real_clips.py)")
    parser.add_argument("--checks", nargs="+", default=list(CUT_CHECKS), metavar="D:SIDE:DRAWS",
                        help="with --real: the checks compared (default: CUT_CHECKS)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the 2-core figure)")
    parser.add_argument("--samples", type=int, default=32, help="draws for E-LPIPS to the truth")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (other processes on the machine slow every figure alike)")
    if args.cut_distances:
        cut_distances(64)
        if args.real:
            real_cut_distances(args.checks)
        return
    judge = Judge(args.samples)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        for size in args.sizes:
            scenes = clip_scenes(size, args.frames)
            for scene in (scenes[name] for name in args.scenes):
                measure(scene, args.frames, args.insert, judge, Path(work))
    print(f"\ntotal {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
