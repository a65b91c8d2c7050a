"""The statistics-matching candidate for texture morphs: a middle frame synthesised from noise so that its
VGG-16 Gram matrices (Gatys et al., 2015) match interpolated statistics of the endpoints. Measured against
`geometry.paths.textures.texture_path` in docs/textures.md (it lost); kept to reproduce those numbers.

    python benchmarks/texture_gram_variant.py            # orientation and scale morphs at 64 px

Two interpolations of the statistics: ``linear``, the mean of the endpoints' Gram matrices (what matching
"interpolated statistics" means literally), and ``warped``, the mean of the Gram matrices of the endpoints
turned and scaled to the middle by `geometry.paths.textures.warped_endpoints`.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))

from texture_scenes import benchmark_scenes  # noqa: E402

import elpips  # noqa: E402
from geometry.paths.quality import highpass_contrast, spectral_ghost  # noqa: E402
from geometry.paths.textures import estimate_similarity, warped_endpoints  # noqa: E402

STEPS, LR, SEED = 300, 0.02, 0
MIDDLE = torch.tensor([0.5], dtype=torch.float64)


def grams(backbone, metric, images: torch.Tensor) -> list[torch.Tensor]:
    x = (images * 2 - 1 - metric.shift) / metric.scale
    out = []
    for f in backbone(x):
        flat = f.flatten(2)
        out.append(flat @ flat.transpose(1, 2) / flat.shape[-1])
    return out


def synthesise(target: list[torch.Tensor], backbone, metric, size: int) -> torch.Tensor:
    """Adam from 0.5 + 0.1 N(0, 1) noise (seeded) on the sum of relative squared Gram differences."""
    noise = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(SEED))
    x = (0.5 + 0.1 * noise).clamp(0, 1).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=LR)
    for _ in range(STEPS):
        optimiser.zero_grad()
        loss = sum((g - t).square().sum() / t.square().sum() for g, t in zip(grams(backbone, metric, x), target))
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def main() -> None:
    torch.set_num_threads(1)
    metric = elpips.load_metric("lpips_vgg")
    backbone = metric.backbone
    for p in backbone.parameters():
        p.requires_grad_(False)
    print(f"{'scene':16s} {'statistics':10s} {'ghost':>6s} {'contrast':>8s} {'s':>5s}")
    for scene in benchmark_scenes(64, quick=True):
        a, b, truth = scene.render(0.0), scene.render(1.0), scene.render(0.5)
        with torch.no_grad():
            a_mid, b_mid = warped_endpoints(a, b, MIDDLE, estimate_similarity(a, b))
            sources = {"linear": (a, b), "warped": (a_mid.float(), b_mid.float())}
            targets = {name: [(x + y) / 2 for x, y in zip(grams(backbone, metric, p), grams(backbone, metric, q))]
                       for name, (p, q) in sources.items()}
        for name, target in targets.items():
            started = time.perf_counter()
            middle = synthesise(target, backbone, metric, scene.size)
            ghost = min(spectral_ghost(middle, m, a, b).fraction for m in scene.middles())
            contrast = highpass_contrast(middle) / highpass_contrast(truth)
            print(f"{scene.name:16s} {name:10s} {ghost:6.3f} {contrast:8.2f} {time.perf_counter() - started:5.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
