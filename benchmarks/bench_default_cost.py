"""The default's cost per in-between frame on real footage, stage by stage, against the DIS midpoint.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_default_cost.py --size 128 --gap 2 4 --triplets 2

Triplets: `benchmarks/real_clips.py`'s rule (frames i and i + gap of bigbuckbunny, bikes, carphone at short side
--size). Per triplet, CPU seconds (`time.process_time`: this process, every thread) of:

* the default: the middle frame of ``geodesic(a, b, frames=3, seed=0)`` (what ``elpips-geodesic --insert 1``
  runs per pair), with the start `auto` took and the figures it decided on (its record's ``start``);
* its stages, run alone: the stationarity of both endpoints (`geometry.paths.detection.stationarity`, which decides
  whether the turn-and-zoom detection runs), the detection (`detect_similarity`, only where both are stationary,
  as `auto` runs it) and its zoom curve (`zoom_curve`), and the engine's flow (`engine_flow`);
* the baseline in the same run: OpenCV's DIS midpoint (`flow_baseline.dis_frames`), and the default's CPU as a
  ratio of it;
* where the detection runs: the zoom curve as computed before it kept each endpoint's unshrunk statistics
  (`zoom_curve_recomputing`: both sides' statistics at every factor), its CPU, the ratio to today's, and whether
  the two curves are equal bit for bit.

The first call's set-up (the network's load) is done before the first triplet. Issue 26's target: the default at
most 10 CPU s per in-between frame at 128 px, on every triplet.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flow_baseline import dis_frames  # noqa: E402
from real_clips import CLIPS, clip_triplets  # noqa: E402

from geometry import geodesic  # noqa: E402
from geometry.engine.threads import single_threaded  # noqa: E402
from geometry.paths import detection  # noqa: E402
from geometry.paths.features import channel_statistics, statistics_distance  # noqa: E402
from geometry.paths.flows import engine_flow  # noqa: E402


def cpu(work):
    """(CPU seconds, result) of work()."""
    began = time.process_time()
    result = work()
    return time.process_time() - began, result


@single_threaded
def zoom_curve_recomputing(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`detection.zoom_curve` as it was: the statistics of both sides computed afresh at every factor."""
    a, b = (x.detach().float().cpu() for x in (a, b))
    if min(a.shape[-2:]) > detection.WORK_SIDE:
        a, b = (detection._shrink(x, min(x.shape[-2:]) / detection.WORK_SIDE) for x in (a, b))
    reach = round(detection.ZOOM_STEPS * math.log2(detection.MAX_SCALE))
    factors = 2.0 ** (torch.arange(-reach, reach + 1, dtype=torch.float64) / detection.ZOOM_STEPS)
    distances = []
    with torch.no_grad():
        for factor in factors.tolist():
            x, y = (a, detection._shrink(b, factor)) if factor >= 1 else (detection._shrink(a, 1 / factor), b)
            distances.append(float(statistics_distance(channel_statistics(x), channel_statistics(y))))
    return factors, torch.tensor(distances, dtype=torch.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--gap", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--triplets", type=int, default=2, help="triplets per clip and gap")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; working size {args.size} px")
    first = clip_triplets(args.clips[:1], 32, 2, 1)[0].frames
    geodesic(first[0:1], first[2:3], frames=3, seed=0, snapshot_steps=[])  # the set-up is no triplet's
    staged = single_threaded(lambda work: work())  # the stages alone, on one thread as `auto` runs them
    print("| triplet | size | start taken (figures) | default CPU s | DIS CPU s | default / DIS | stationarity CPU s "
          "| detection CPU s (zoom curve) | flow CPU s | zoom curve before CPU s | before / now | curves equal |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for gap in args.gap:
        for item in clip_triplets(args.clips, args.size, gap, args.triplets):
            a, b = item.frames[0:1], item.frames[2:3]
            default_cpu, result = cpu(lambda: geodesic(a, b, frames=3, seed=0, snapshot_steps=[]))
            start = result.record.settings["start"]
            dis_cpu, _ = cpu(lambda: dis_frames(a, b, [0.5]))
            stationary_cpu, values = cpu(lambda: staged(lambda: [detection.stationarity(x) for x in (a, b)]))
            detect_cpu = curve_cpu = before_cpu = None
            equal = "-"
            if max(values) <= detection.STATIONARY:
                detect_cpu, _ = cpu(lambda: staged(lambda: detection.detect_similarity(a, b)))
                curve_cpu, now = cpu(lambda: staged(lambda: detection.zoom_curve(a, b)))
                before_cpu, before = cpu(lambda: zoom_curve_recomputing(a, b))
                equal = str(all(torch.equal(x, y) for x, y in zip(now, before)))
            flow_cpu, _ = cpu(lambda: engine_flow(a, b))
            worst = max(worst, default_cpu)
            figures = ", ".join(f"{key} {value}" for key, value in start.items()
                                if key in ("stationarity", "mismatch_left_by_flow", "mismatch_after_flow"))
            detected = "-" if detect_cpu is None else f"{detect_cpu:.2f} ({curve_cpu:.2f})"
            before_text = "-" if before_cpu is None else f"{before_cpu:.2f}"
            ratio = "-" if before_cpu is None else f"{before_cpu / curve_cpu:.2f}x"
            print(f"| {item.name} | {a.shape[-1]}x{a.shape[-2]} | {start['taken']} ({figures}) | {default_cpu:.2f} "
                  f"| {dis_cpu:.3f} | {default_cpu / dis_cpu:.1f}x | {stationary_cpu:.2f} | {detected} "
                  f"| {flow_cpu:.2f} | {before_text} | {ratio} | {equal} |", flush=True)
    print(f"worst default CPU s per in-between frame: {worst:.2f} (target: at most 10)")


if __name__ == "__main__":
    main()
