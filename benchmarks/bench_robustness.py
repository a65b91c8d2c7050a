"""Benchmark of adversarial robustness: how often an attack within epsilon makes a distorted
image rank closer to its reference than an anchor does, against LPIPS-VGG and against E-LPIPS, at the
same budget of network evaluations. Prints numbers and a table for the README; not a test.

    python benchmarks/bench_robustness.py                  # 16 pairs, eps 2, 4, 8/255, 48 evaluations (~30 min, 1 core)
    python benchmarks/bench_robustness.py --pairs 8        # the first 8 pairs (every image, every distortion twice)
    python benchmarks/bench_robustness.py --epsilons 8 --budgets 48 192 768 --attacks elpips_vgg
                                                           # where E-LPIPS starts to fail, if it does

The pairs: 8 images at 64 x 64 (4 of the project's procedural examples, `app.examples`, drawn at 64 px;
cat, dog, adv_reference and adv_teddy from the reference data beside the checkout, centre-cropped and
resized), each distorted twice (blur, noise, JPEG-like quantisation, colour shift: every distortion 4
times). The anchor is the same distortion at half the strength; every pair is checked first: LPIPS-VGG, E-LPIPS and
L2 must all rank the anchor closer to the reference than the distorted image (else the pair is reported and
left out). Images are on 8-bit levels, and so are the attacked images (`elpips.attack` rounds inside the
budget), as they would be saved.

The attack (`elpips.attack`, L-inf, signed projected steps of 2.5 eps / steps) gets a budget of B network
evaluations of the attacked image: against LPIPS-VGG, B steps; against E-LPIPS, B / K steps of K draws each
(expectation over transformations, K = --draws). Success: the attacked image ranks closer to the reference
than the anchor, judged by the mean over J fresh E-LPIPS draws (--judge-samples), shared by every image of
the pair and independent of the attacks' draws; LPIPS-VGG and L2 are exact. Transfer: an attack on LPIPS-VGG
whose result E-LPIPS also ranks closer than the anchor. Relative changes: mean over pairs of
(after - before) / before under each metric.

Results are appended to --out (one JSON line per pair and setting); an interrupted run skips what it has.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))

import elpips  # noqa: E402
from geometry.engine.inputs import prepare_images  # noqa: E402

from app.examples import example_arrays  # noqa: E402

DATA = SHARED / "data" / "elpips_inputs"
SIZE = 64
LEVELS = 255
SEED = 11
PROCEDURAL = ("disc_left", "disc_top", "texture_blobs", "texture_stripes")
PHOTOS = ("cat", "dog", "adv_reference", "adv_teddy")
DISTORTIONS = ("blur", "noise", "jpeg", "colour")
#: Distortion strengths of the distorted image: blur sigma (px), noise sigma, JPEG table scale (quality 10),
#: colour shift. The anchor is the same distortion at half the strength.
STRENGTHS = {"blur": 1.6, "noise": 0.08, "jpeg": 5.0, "colour": 1.0}
ANCHOR_STRENGTH = 0.5
METRICS = ("lpips_vgg", "elpips_vgg", "l2")


# ------------------------------------------------------------------------------------------ pairs


def on_levels(image: torch.Tensor) -> torch.Tensor:
    return torch.round(image.clamp(0, 1) * LEVELS) / LEVELS


def sources() -> dict[str, torch.Tensor]:
    arrays = example_arrays(size=SIZE)
    images = {name: elpips.as_image_batch(arrays[name]) for name in PROCEDURAL}
    for name in PHOTOS:
        images[name] = prepare_images([DATA / f"{name}.png"], (SIZE, SIZE))
    return {name: on_levels(image) for name, image in images.items()}


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-x.square() / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(3, 1, 1, 1)
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.view(3, 1, 1, -1), groups=3)
    return F.conv2d(rows, kernel.view(3, 1, -1, 1), groups=3)


#: JPEG's quantisation tables at quality 50 (ITU T.81 Annex K), for luma and chroma, in 8-bit units.
JPEG_LUMA = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)
JPEG_CHROMA = torch.full((8, 8), 99.0)
JPEG_CHROMA[:4, :4] = torch.tensor([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]])
RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def dct_matrix(n: int = 8) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float32)
    matrix = torch.cos(math.pi * (2 * k[None] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    matrix[0] /= math.sqrt(2)
    return matrix  # orthonormal DCT-II, JPEG's: coefficients = M @ block @ M.T


def jpeg_like(image: torch.Tensor, scale: float) -> torch.Tensor:
    """JPEG's lossy step without its entropy coding or chroma subsampling: YCbCr, 8 x 8 block DCT, coefficients
    rounded to multiples of the standard tables times `scale` (5: quality 10; 2.5: quality 20), and back."""
    ycbcr = torch.einsum("ij,njhw->nihw", RGB_TO_YCBCR, image) + torch.tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1)
    d = dct_matrix()
    blocks = ycbcr.unfold(2, 8, 8).unfold(3, 8, 8)  # (1, 3, H/8, W/8, 8, 8)
    coefficients = d @ blocks @ d.T
    tables = (torch.stack([JPEG_LUMA, JPEG_CHROMA, JPEG_CHROMA]) * scale / LEVELS).view(1, 3, 1, 1, 8, 8)
    restored = d.T @ (torch.round(coefficients / tables) * tables) @ d
    ycbcr = restored.permute(0, 1, 2, 4, 3, 5).reshape(image.shape) - torch.tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(RGB_TO_YCBCR), ycbcr)


def distort(image: torch.Tensor, kind: str, strength: float, seed: int) -> torch.Tensor:
    if kind == "blur":
        out = gaussian_blur(image, strength)
    elif kind == "noise":
        out = image + strength * torch.randn(image.shape, generator=torch.Generator().manual_seed(seed))
    elif kind == "jpeg":
        out = jpeg_like(image, strength)
    elif kind == "colour":  # warmer and brighter: red up, blue down, a gain
        out = image * (1 + 0.1 * strength) + strength * torch.tensor([0.08, 0.0, -0.08]).view(1, 3, 1, 1)
    else:
        raise ValueError(kind)
    return on_levels(out)


def make_pairs(count: int) -> list[dict]:
    """(name, reference, distorted, anchor): image k with distortion k mod 4, then with (k + 1) mod 4."""
    images = sources()
    names = list(images)
    order = [(k, k % 4) for k in range(len(names))] + [(k, (k + 1) % 4) for k in range(len(names))]
    pairs = []
    for index, (k, d) in enumerate(order[:count]):
        kind, reference = DISTORTIONS[d], images[names[k]]
        strong = STRENGTHS[kind]
        mild = ANCHOR_STRENGTH * strong
        pairs.append({"name": f"{names[k]}/{kind}", "strengths": [strong, mild], "reference": reference,
                      "distorted": distort(reference, kind, strong, SEED + index),
                      "anchor": distort(reference, kind, mild, SEED + 100 + index)})
    return pairs


# ------------------------------------------------------------------------------------------ measuring


def distances(metrics: dict, reference: torch.Tensor, candidates: list[torch.Tensor], samples: int, seed: int) -> dict:
    """Each metric's distances of the candidates to the reference; E-LPIPS over `samples` shared draws."""
    out = {"l2": [float((c - reference).square().mean()) for c in candidates]}
    for name in ("lpips_vgg", "elpips_vgg"):
        metric = metrics[name]
        count = samples if metric.config.transforms is not None else 1
        with torch.no_grad():
            result = elpips.compare(metric, reference, candidates, samples=count,
                                    generator=torch.Generator().manual_seed(seed))
        out[name] = result.values.tolist()
        if count > 1:
            out[name + "_stderr"] = result.stderr.tolist()
    return out


def run_pair(pair: dict, index: int, metrics: dict, args, budget: int) -> dict:
    reference, image, anchor = pair["reference"], pair["distorted"], pair["anchor"]
    attacked, info = [], []
    for attack in args.attacks:
        for levels in args.epsilons:
            draws = args.draws if attack == "elpips_vgg" else 1
            started = time.perf_counter()
            result = elpips.perturb(metrics[attack], reference, image, epsilon=levels / LEVELS,
                                    steps=max(1, budget // draws), samples_per_step=draws, seed=SEED + index)
            attacked.append(result.image)
            info.append({"attack": attack, "epsilon": levels, "evaluations": result.record.evaluations,
                         "seconds": time.perf_counter() - started, "linf": result.record.linf * LEVELS})
    judged = distances(metrics, reference, [image, anchor, *attacked], args.judge_samples, 10**6 + index)
    return {"pair": pair["name"], "strengths": pair["strengths"], "budget": budget, "draws": args.draws,
            "judge_samples": args.judge_samples,
            "distances": judged, "attacks": info}


def check_anchor(pair: dict, metrics: dict, samples: int, index: int) -> list[str]:
    """The metrics that do NOT rank the anchor closer than the distorted image."""
    judged = distances(metrics, pair["reference"], [pair["distorted"], pair["anchor"]], samples, 10**6 + index)
    return [name for name in METRICS if not judged[name][1] < judged[name][0]]


# ------------------------------------------------------------------------------------------ report


def rate(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} ({100 * sum(flags) / len(flags):.0f} %)" if flags else "-"


def mean_change(values: list[float]) -> str:
    return f"{100 * sum(values) / len(values):+.0f} %" if values else "-"


def report(rows: list[dict], args) -> None:
    """One row per budget, epsilon and attacked metric: how often each metric ranks the attacked image closer
    to the reference than the anchor (for the other metric: the transfer rate; for L2, a control: the attack
    really moved the pixels closer), and the mean relative change of each distance."""
    names = {"lpips_vgg": "LPIPS-VGG", "elpips_vgg": "E-LPIPS", "l2": "L2"}
    print("\n| eps | attacked | evaluations | LPIPS-VGG fooled | E-LPIPS fooled | L2 closer than anchor "
          "| LPIPS-VGG change | E-LPIPS change | L2 change |")
    print("|---|---|---|---|---|---|---|---|---|")
    seconds: dict[str, list[float]] = {}
    for budget in args.budgets:
        for levels in args.epsilons:
            for attacked in args.attacks:
                closer = {name: [] for name in METRICS}
                change = {name: [] for name in METRICS}
                evaluations = set()
                for row in rows:
                    if row["budget"] != budget:
                        continue
                    d = row["distances"]
                    for k, attack in enumerate(row["attacks"]):
                        if attack["epsilon"] != levels or attack["attack"] != attacked:
                            continue
                        seconds.setdefault(attacked, []).append(attack["seconds"] / attack["evaluations"])
                        evaluations.add(attack["evaluations"])
                        for name in METRICS:  # candidates: 0 the distorted image, 1 the anchor, 2 + k the attacks
                            closer[name].append(d[name][2 + k] < d[name][1])
                            change[name].append((d[name][2 + k] - d[name][0]) / d[name][0])
                if not evaluations:
                    continue
                cells = [rate(closer[name]) for name in METRICS] + [mean_change(change[name]) for name in METRICS]
                print(f"| {levels:g}/255 | {names[attacked]} | {'/'.join(map(str, sorted(evaluations)))} | "
                      + " | ".join(cells) + " |")
    pairs = sorted({row["pair"] for row in rows})
    print(f"\n{len(pairs)} pairs at {SIZE} px; E-LPIPS is attacked with {args.draws} draws per step; verdicts from "
          f"{args.judge_samples} fresh E-LPIPS draws shared by each pair's images.")
    for attack, values in seconds.items():
        print(f"  attack on {names[attack]}: {sum(values) / len(values):.3f} s per network evaluation "
              "(forward and backward) on this machine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=16, help="how many pairs (8 to 16; default 16)")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[2, 4, 8], help="budgets in /255 (default 2 4 8)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[48], help="network evaluations per attack")
    parser.add_argument("--attacks", nargs="+", default=["lpips_vgg", "elpips_vgg"],
                        choices=["lpips_vgg", "elpips_vgg"])
    parser.add_argument("--draws", type=int, default=4, help="E-LPIPS draws per attack step (default 4)")
    parser.add_argument("--judge-samples", type=int, default=60, help="fresh E-LPIPS draws for the verdicts")
    parser.add_argument("--out", type=Path, default=Path("out-bench/robustness.jsonl"))
    args = parser.parse_args()

    metrics = {name: elpips.load_metric(name) for name in ("lpips_vgg", "elpips_vgg")}
    pairs = make_pairs(args.pairs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    settings = {"draws": args.draws, "judge_samples": args.judge_samples}
    rows = []
    started = time.perf_counter()
    for index, pair in enumerate(pairs):
        disagree = check_anchor(pair, metrics, args.judge_samples, index)
        if disagree:
            print(f"{pair['name']}: left out, {', '.join(disagree)} do(es) not rank the anchor closer", flush=True)
            continue
        for budget in args.budgets:
            wanted = {(a, e) for a in args.attacks for e in args.epsilons}
            old = [row for row in done if row["pair"] == pair["name"] and row["budget"] == budget
                   and row.get("strengths") == pair["strengths"]
                   and all(row[key] == value for key, value in settings.items())
                   and wanted <= {(a["attack"], a["epsilon"]) for a in row["attacks"]}]
            if old:
                rows.append(old[-1])
                continue
            row = run_pair(pair, index, metrics, args, budget)
            with args.out.open("a") as stream:
                stream.write(json.dumps(row) + "\n")
            rows.append(row)
            d = row["distances"]
            print(f"{pair['name']} budget {budget}: lpips {d['lpips_vgg'][0]:.4f} (anchor {d['lpips_vgg'][1]:.4f}) "
                  f"-> {' '.join(f'{v:.4f}' for v in d['lpips_vgg'][2:])}; elpips {d['elpips_vgg'][0]:.4f} "
                  f"(anchor {d['elpips_vgg'][1]:.4f}) -> {' '.join(f'{v:.4f}' for v in d['elpips_vgg'][2:])}; "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    report(rows, args)


if __name__ == "__main__":
    main()
