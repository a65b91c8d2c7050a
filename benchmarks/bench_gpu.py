"""A prepared GPU check (issue 26): one script, minutes on one CUDA device, that says whether the code runs there.

    python benchmarks/bench_gpu.py --weights-dir ~/.cache/elpips --out benchmarks/results/bench_gpu.txt
    python benchmarks/bench_gpu.py --cpu-smoke --size 16          # every part on the CPU at 16 px (a test runs it)

Parts, each printed with its own wall time:

1. agreement: E-LPIPS distances of 4 image pairs under the same 16 draws on the CPU and on the device (fp32), and
   under bf16 autocast on the device: the largest relative difference to the CPU's fp32;
2. throughput: network image-evaluations per second (forward, no gradient) at 64, 256 and 512 px;
3. geodesics: wall time of a 10-frame geodesic of a pan (default preset, motion start) at 256 and 512 px;
4. a clip pair at 720p: a 3-frame geodesic (elpips-geodesic --insert 1) of a 1280x720 pan;
5. determinism: the 256 px geodesic again with the same seed: identical frames or the largest difference;
6. memory: the device's peak memory during the 256 and 512 px geodesics against the memory check's estimate
   (`geometry.engine.memory.run_memory`).

The pictures are generated (a smooth random picture panned), so nothing but the weights is needed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights" / "elpips"


def picture(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth random (1, 3, height, width) picture in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, height // 16), max(2, width // 16), generator=g)
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1)


def pan_pair(height: int, width: int, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    wide = picture(height, width + shift)
    return wide[..., :width], wide[..., shift:shift + width]


class Report:
    def __init__(self, out: Path | None):
        self.lines: list[str] = []
        self.out = out

    def __call__(self, text: str) -> None:
        print(text, flush=True)
        self.lines.append(text)
        if self.out is not None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.out.write_text("\n".join(self.lines) + "\n")


def metric_at(size: int, device: torch.device):
    """E-LPIPS-VGG with the most scale levels that a size x size image allows."""
    from geometry.engine.distances import DistanceFamily

    return DistanceFamily("elpips_vgg", device).at_size((size, size))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def agreement(device: torch.device, size: int, say: Report) -> None:
    cpu, on = (metric_at(size, where) for where in (torch.device("cpu"), device))
    images = torch.cat([picture(size, size, seed) for seed in range(8)])
    draws = cpu.sample_draws(16, torch.Generator().manual_seed(1), stratify=8)
    i, j = torch.arange(0, 8, 2), torch.arange(1, 8, 2)
    with torch.no_grad():
        reference = cpu.pair_distances(images, draws, i, j).mean(0).double()
        fp32 = on.pair_distances(images.to(device), draws, i.to(device), j.to(device)).mean(0).double().cpu()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            bf16 = on.pair_distances(images.to(device), draws, i.to(device), j.to(device)).mean(0).double().cpu()
    for name, values in (("fp32", fp32), ("bf16 autocast", bf16)):
        rel = ((values - reference).abs() / reference.abs()).max().item()
        say(f"agreement {name:14s} on {device}: largest relative difference to the CPU's fp32 {rel:.2e} "
            f"(distances {', '.join(f'{v:.5f}' for v in values.tolist())}; CPU "
            f"{', '.join(f'{v:.5f}' for v in reference.tolist())})")


def throughput(device: torch.device, sizes: list[int], say: Report) -> None:
    for size in sizes:
        metric = metric_at(size, device)
        images = torch.cat([picture(size, size, seed) for seed in range(4)]).to(device)
        draws = metric.sample_draws(8, torch.Generator().manual_seed(2), stratify=8)
        with torch.no_grad():
            metric.embed(images, draws)  # warm-up (kernels, allocator)
            sync(device)
            started, rounds = time.perf_counter(), 0
            while rounds < 2 or time.perf_counter() - started < 3:
                metric.embed(images, draws)
                sync(device)
                rounds += 1
        seconds = time.perf_counter() - started
        say(f"throughput {size:4d} px: {rounds * len(images) * 8 / seconds:8.1f} image-evaluations/s "
            f"({rounds} rounds of {len(images)} images x 8 draws, forward only)")


def timed_geodesic(a: torch.Tensor, b: torch.Tensor, frames: int, device: torch.device):
    """A geodesic with the E-LPIPS pixel refinement (refine="pixels"): the default skips it after a warp start,
    and the refinement is what runs the network on the device and what the memory check estimates."""
    from geometry import geodesic

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    started = time.perf_counter()
    result = geodesic(a, b, frames=frames, seed=0, snapshot_steps=[], device=str(device), refine="pixels")
    sync(device)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return result, time.perf_counter() - started, peak


def geodesics(device: torch.device, sizes: list[int], clip_size: tuple[int, int], say: Report) -> None:
    from geometry.engine.memory import run_memory

    first = None
    for size in sizes:
        a, b = pan_pair(size, size, max(1, size // 16))
        result, seconds, peak = timed_geodesic(a, b, 10, device)
        estimate = run_memory("geodesic", "elpips_vgg", 10, 8, (size, size))
        memory = (f"peak {peak / 2**20:.0f} MiB vs the memory check's estimate {estimate / 2**20:.0f} MiB "
                  f"({peak / estimate:.2f}x)" if peak is not None else
                  f"memory check's estimate {estimate / 2**20:.0f} MiB (no device peak on the CPU)")
        say(f"geodesic 10 frames {size:4d} px: {seconds:7.1f} s wall, {result.record.evaluations:.0f} "
            f"image-evaluations; {memory}")
        if first is None:
            first = (a, b, result.images)
    a, b, images = first
    again, seconds, _ = timed_geodesic(a, b, 10, device)
    same = torch.equal(images, again.images)
    difference = (images - again.images).abs().max().item()
    say(f"determinism {sizes[0]} px, same seed twice on {device}: "
        + ("identical frames" if same else f"NOT identical, largest difference {difference:.2e}")
        + f" ({seconds:.1f} s)")
    height, width = clip_size
    a, b = pan_pair(height, width, max(1, width // 64))
    result, seconds, peak = timed_geodesic(a, b, 3, device)
    estimate = run_memory("geodesic", "elpips_vgg", 3, 1, (height, width))
    say(f"clip pair {width}x{height} (3-frame geodesic, --insert 1): {seconds:.1f} s wall; "
        + (f"peak {peak / 2**20:.0f} MiB vs estimate {estimate / 2**20:.0f} MiB" if peak is not None
           else f"estimate {estimate / 2**20:.0f} MiB"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", type=Path, default=None,
                        help="folder of the metric weights (sets ELPIPS_WEIGHTS_DIR; default: ../shared/weights/elpips "
                             "or what the environment says)")
    parser.add_argument("--cpu-smoke", action="store_true", help="run every part on the CPU at --size")
    parser.add_argument("--size", type=int, default=16, help="the one image size of --cpu-smoke")
    parser.add_argument("--out", type=Path, default=None, help="also write the printed lines to this file")
    args = parser.parse_args(argv)
    if args.weights_dir is not None:
        os.environ["ELPIPS_WEIGHTS_DIR"] = str(args.weights_dir.expanduser())
    elif DEFAULT_WEIGHTS.is_dir():
        os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(DEFAULT_WEIGHTS))
    if args.cpu_smoke:
        device, sizes, clip = torch.device("cpu"), [args.size], (args.size, args.size * 16 // 9)
        geodesic_sizes = [args.size]
    elif torch.cuda.is_available():
        device, sizes, clip, geodesic_sizes = torch.device("cuda"), [64, 256, 512], (720, 1280), [256, 512]
    else:
        sys.exit("bench_gpu: no CUDA device here; run it on a GPU machine, or with --cpu-smoke for the CPU check")
    say = Report(args.out)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    say(f"bench_gpu on {name}: torch {torch.__version__}, CUDA {torch.version.cuda}")
    started = time.perf_counter()
    for part, run in (("agreement", lambda: agreement(device, max(sizes[0], 16), say)),
                      ("throughput", lambda: throughput(device, sizes, say)),
                      ("geodesics", lambda: geodesics(device, geodesic_sizes, clip, say))):
        begun = time.perf_counter()
        run()
        say(f"  ({part}: {time.perf_counter() - begun:.1f} s)")
    say(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
