"""Benchmark of the metric. Prints numbers; not a test.

    python benchmarks/bench_metric.py                    # every part on the fastest device here
    python benchmarks/bench_metric.py --quick            # every part, fewer rounds and samples
    python benchmarks/bench_metric.py --device cpu --parts 1 2

1. LPIPS-VGG forward (standard LPIPS v0.1, ``load_metric("vgg")``) against the ``lpips`` package with the same
   backbone weights, 4 pairs at 64 and 256 px: time ratio (goal <= 1.0x) and the largest difference of the numbers.
2. E-LPIPS with n = 64 samples at 64 px: ``metric(x, y, samples=64)``, which batches the draws of a scale level
   into passes of at most ``max_batch`` evaluations, for several ``max_batch``, against a sample-at-a-time loop
   over the same draws (what 64 calls of ``samples=1`` run). Picks the fastest ``max_batch`` for this device.
3. E-LPIPS samples per second for one pair at 64, 128 and 256 px with the fastest ``max_batch`` and the
   device's default, with the achieved convolution throughput.
4. CUDA only: bf16 autocast against float32 (whose convolutions use TF32 when cuDNN allows it, torch's default).

Throughput counts the VGG16 convolutions only: 2 * Cin * Cout * k * k * H_out * W_out per conv, for the sizes
the network actually sees (each draw's scale level and offset padding). Every timing is inference (no_grad).
The machine may be shared: candidates run interleaved in rounds whose order rotates, and the report gives
medians and the median of the per-round ratios against a baseline measured in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
if (SHARED / "weights" / "elpips").is_dir():
    os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))

import elpips  # noqa: E402  (after the environment is set)
from elpips.transforms import transformed_size  # noqa: E402

DATA = SHARED / "data" / "elpips_inputs"
PAIRS = [("cat", "dog"), ("adv_anchor", "adv_reference"), ("adv_vgg_sqz", "adv_reference"),
         ("adv_teddy", "adv_reference")]
SEED = 2026
MAX_BATCHES = (2, 8, 16, 32, 64, 128)


# Inputs -------------------------------------------------------------------------------------------------


def _square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square crop, resized (antialiased) to size x size."""
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[..., top : top + side, left : left + side]
    return F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def image_pairs(count: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` pairs (x, y) of size x size images: the reference's test images when ../shared has them,
    else seeded noise (timings do not depend on the content)."""
    if DATA.is_dir():
        names = [PAIRS[k % len(PAIRS)] for k in range(count)]
        x = torch.cat([_square(elpips.load_image(DATA / f"{a}.png", alpha="drop"), size) for a, _ in names])
        y = torch.cat([_square(elpips.load_image(DATA / f"{b}.png", alpha="drop"), size) for _, b in names])
    else:
        generator = torch.Generator().manual_seed(SEED)
        x, y = (torch.rand(count, 3, size, size, generator=generator) for _ in range(2))
    return x.to(device), y.to(device)


def seeded() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


# FLOPs ---------------------------------------------------------------------------------------------------


def _pair(value) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, value)


def conv_flops(backbone: nn.Module, height: int, width: int) -> int:
    """FLOPs of the backbone's convolutions for one height x width input (2 per multiply-add)."""
    flops = 0
    for layer in backbone.features:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            (kh, kw), (sh, sw), (ph, pw) = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
            height, width = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
            if isinstance(layer, nn.Conv2d):
                flops += 2 * layer.in_channels * layer.out_channels * kh * kw * height * width
    return flops


def draws_flops(metric: elpips.Metric, draws: elpips.Draws, images: int, height: int, width: int) -> int:
    """Convolution FLOPs of evaluating ``images`` images under every draw (identity draws: once)."""
    transforms = metric.config.transforms
    if transforms is None:
        return images * conv_flops(metric.backbone, height, width)
    per_scale = {
        s: conv_flops(metric.backbone, transformed_size(height, s, transforms), transformed_size(width, s, transforms))
        for s in set(draws.scale.tolist())
    }
    return images * sum(per_scale[s] for s in draws.scale.tolist())


# Timing --------------------------------------------------------------------------------------------------


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(candidates: dict[str, Callable[[], torch.Tensor]], rounds: int, device: torch.device):
    """Seconds per call of each candidate, and each one's result: one warm-up call each (its result is
    returned), then ``rounds`` rounds that call every candidate once, the order rotating each round so that
    a slow phase of a shared machine hits all alike."""
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    with torch.no_grad():
        results = {name: candidates[name]() for name in names}
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                _synchronize(device)
                start = time.perf_counter()
                candidates[name]()
                _synchronize(device)
                times[name].append(time.perf_counter() - start)
    return times, results


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(times: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median over rounds of time(name) / time(baseline): > 1 means slower than the baseline."""
    return median([t / b for t, b in zip(times[name], times[baseline])])


def show(times: dict[str, list[float]], baseline: str, work: dict[str, float] | None = None, unit: str = "") -> None:
    """One line per candidate: median and min seconds, ratio to the baseline, and work per second if given."""
    for name, values in times.items():
        line = f"  {name:<34} median {median(values) * 1e3:9.1f} ms  min {min(values) * 1e3:9.1f} ms"
        if name != baseline:
            minima = min(values) / min(times[baseline])
            line += f"  time ratio {ratio(times, name, baseline):5.2f}x (minima {minima:5.2f}x) vs {baseline}"
        if work:
            line += f"  {work[name] / median(values):8.2f} {unit}"
        print(line, flush=True)


# Parts ---------------------------------------------------------------------------------------------------


def part_lpips(args, device: torch.device) -> None:
    print("\n== 1. LPIPS-VGG (v0.1) forward vs the lpips package, same weights, 4 pairs", flush=True)
    try:
        import lpips
    except ImportError:
        print("  skipped: the lpips package is not installed (pip install lpips==0.1.4)")
        return
    from importlib.metadata import version

    ours = elpips.load_metric("vgg", device=device)
    with warnings.catch_warnings():  # lpips calls torchvision with its deprecated `pretrained` argument
        warnings.simplefilter("ignore", UserWarning)
        theirs = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False)
    backbone = elpips.weights.backbone_state_dict("vgg16")
    # lpips keeps torchvision's layer indices inside its slices: net.sliceK.{i}.{param} <- features.{i}.{param}
    theirs.net.load_state_dict({key: backbone["features." + key.split(".", 1)[1]] for key in theirs.net.state_dict()})
    theirs = theirs.to(device).eval()
    for size in (64, 256):
        x, y = image_pairs(4, size, device)
        baseline, name = f"lpips {version('lpips')}", "elpips load_metric('vgg')"
        times, results = interleaved(
            {baseline: lambda: theirs(x, y, normalize=True).flatten(), name: lambda: ours(x, y)}, args.rounds, device
        )
        difference = (results[name] - results[baseline]).abs().max().item()
        flops = draws_flops(ours, ours.sample_draws(1), 2 * len(x), size, size) / 1e9
        print(f" {size} px: max |ours - lpips| = {difference:.2e}; {flops:.1f} GFLOP per call")
        show(times, baseline, {name: flops for name in times}, "GFLOP/s")


def default_max_batch(device: torch.device) -> int:
    """The evaluations of one network pass when a metric is loaded without ``max_batch`` on this device."""
    from elpips.metric import _PASS_LIMITS

    return _PASS_LIMITS.get(device.type, _PASS_LIMITS["cuda"])[0]


def elpips_metrics(device: torch.device, max_batches) -> dict[int, elpips.Metric]:
    """E-LPIPS-VGG once per max_batch (weights loaded once)."""
    config = elpips.get_config("elpips_vgg")
    backbone = elpips.weights.backbone_state_dict(config.backbone)
    linear = elpips.weights.linear_weights(config.linear_weights)
    return {b: elpips.Metric(config, backbone, linear, max_batch=b).to(device) for b in sorted(set(max_batches))}


def one_draw_loop(metric: elpips.Metric, x: torch.Tensor, y: torch.Tensor,
                  draws: elpips.Draws) -> Callable[[], torch.Tensor]:
    """What ``len(draws)`` calls of ``metric(x, y, samples=1)`` compute, on the given draws: one pass per draw."""
    images, i, j = torch.cat([x, y]), torch.tensor([0]), torch.tensor([1])

    def run() -> torch.Tensor:
        per_draw = [metric.embedding_distance(metric.embed(images, draws[k : k + 1]), i, j) for k in range(len(draws))]
        return torch.cat(per_draw).mean(dim=0)

    return run


def batched(metric: elpips.Metric, x: torch.Tensor, y: torch.Tensor, samples: int) -> Callable[[], torch.Tensor]:
    return lambda: metric(x, y, samples=samples, generator=seeded())


def part_batching(args, device: torch.device, metrics: dict[int, elpips.Metric]) -> int:
    samples, size = 64, 64
    print(f"\n== 2. E-LPIPS, n = {samples} samples, one pair at {size} px: batched vs one draw at a time", flush=True)
    x, y = image_pairs(1, size, device)
    reference = metrics[min(metrics)]
    draws = reference.sample_draws(samples, seeded())  # the draws metric(x, y, samples, seeded()) takes
    loop = "loop of 64 one-draw passes"
    candidates = {loop: one_draw_loop(reference, x, y, draws)}
    candidates.update({f"batched, max_batch={b}": batched(metric, x, y, samples) for b, metric in metrics.items()})
    times, results = interleaved(candidates, args.rounds, device)
    values = [float(value) for value in results.values()]
    levels = torch.bincount(draws.scale, minlength=9)[1:].tolist()
    flops = draws_flops(reference, draws, 2, size, size) / 1e9
    print(f"  draws per scale level 1..8: {levels}; {flops:.0f} GFLOP per call")
    print(f"  E-LPIPS values (differ only through dropout masks, which depend on max_batch): "
          f"{min(values):.4f} .. {max(values):.4f}")
    show(times, loop, {name: flops for name in times}, "GFLOP/s")
    speed = {b: 1 / ratio(times, f"batched, max_batch={b}", loop) for b in metrics}  # x the loop's speed
    best = max(speed, key=speed.get)
    default = default_max_batch(device)
    print(f"  fastest: max_batch={best}, {speed[best]:.2f}x the loop's speed; "
          f"default max_batch={default} on {device.type}: {speed[default]:.2f}x")
    return best


def part_throughput(args, device: torch.device, metrics: dict[int, elpips.Metric], best: int) -> dict[int, int]:
    print("\n== 3. E-LPIPS samples per second, one pair", flush=True)
    default = default_max_batch(device)
    fastest = {}
    for size, samples in args.sizes:
        x, y = image_pairs(1, size, device)
        draws = metrics[best].sample_draws(samples, seeded())
        flops = draws_flops(metrics[best], draws, 2, size, size)
        names = {b: f"max_batch={b}" + (" (default)" if b == default else "") for b in sorted({best, default})}
        times, _ = interleaved({names[b]: batched(metrics[b], x, y, samples) for b in names}, args.rounds, device)
        fastest[size] = best if ratio(times, names[best], names[default]) < 1 else default
        print(f" {size} px, {samples} samples per call, {flops / samples / 1e9:.1f} GFLOP per sample:")
        show(times, names[default], {name: samples for name in times}, "samples/s")
        tflops = flops / median(times[names[fastest[size]]]) / 1e12
        print(f"  best: {samples / median(times[names[fastest[size]]]):.2f} samples/s, {tflops:.3f} TFLOP/s")
    return fastest


def part_bf16(args, device: torch.device, metrics: dict[int, elpips.Metric], fastest: dict[int, int]) -> None:
    print("\n== 4. bf16 autocast vs float32 (TF32 convolutions: "
          f"{torch.backends.cudnn.allow_tf32}), one pair", flush=True)

    def bf16(run: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        def autocast_run() -> torch.Tensor:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                return run()

        return autocast_run

    for size, samples in args.sizes:
        metric = metrics[fastest[size]]
        x, y = image_pairs(1, size, device)
        flops = draws_flops(metric, metric.sample_draws(samples, seeded()), 2, size, size)
        fp32 = batched(metric, x, y, samples)
        times, results = interleaved({"float32": fp32, "bf16 autocast": bf16(fp32)}, args.rounds, device)
        difference = (results["float32"] - results["bf16 autocast"]).abs().max().item()
        print(f" {size} px, {samples} samples, max_batch={fastest[size]}: |bf16 - fp32| = {difference:.2e}")
        show(times, "float32", {name: flops / 1e12 for name in times}, "TFLOP/s")
        print(f"  bf16: {samples / median(times['bf16 autocast']):.1f} samples/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples (a few minutes on 2 CPU cores)")
    parser.add_argument("--parts", type=int, nargs="+", choices=(1, 2, 3, 4), default=[1, 2, 3, 4])
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available; use --device cpu or auto")
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    cuda = device.type == "cuda"
    args.rounds = (5 if args.quick else 9) if cuda else (2 if args.quick else 3)
    if cuda:
        args.sizes = [(64, 256), (128, 256), (256, 128)] if args.quick else [(64, 512), (128, 512), (256, 256)]
    else:
        args.sizes = [(64, 16), (128, 8), (256, 2)] if args.quick else [(64, 32), (128, 16), (256, 4)]

    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    print(f"elpips benchmark: torch {torch.__version__}, {name}, {args.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    started = time.perf_counter()
    if 1 in args.parts:
        part_lpips(args, device)
    if {2, 3, 4} & set(args.parts):
        default = default_max_batch(device)
        metrics = elpips_metrics(device, (*MAX_BATCHES, default) if 2 in args.parts else (default,))
        best = part_batching(args, device, metrics) if 2 in args.parts else default
        fastest = part_throughput(args, device, metrics, best) if 3 in args.parts else {s: best for s, _ in args.sizes}
        if 4 in args.parts and cuda:
            part_bf16(args, device, metrics, fastest)
        elif 4 in args.parts:
            print("\n== 4. bf16 autocast and TFLOP/s: CUDA only, skipped on CPU")
    print(f"\ndone in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
