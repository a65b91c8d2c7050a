"""How close an in-between frame is to the true frame: the measures of benchmarks/bench_interpolation.py.

* PSNR in dB over all pixels and channels of images in [0, 1] (inf for identical images);
* SSIM as in Wang et al. 2004 (11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1), per colour
  channel over the positions where the window fits, averaged: skimage's ``structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=...)`` (equal
  to 1e-6 with scikit-image 0.26);
* LPIPS v0.1: the ``alex`` metric, equal to the ``lpips`` package's ``LPIPS(net='alex', version='0.1')``: what
  the interpolation literature reports as LPIPS;
* LPIPS-VGG: ``lpips_vgg``, the VGG LPIPS with the E-LPIPS authors' retrained weights;
* E-LPIPS: ``elpips_vgg`` (at the most scale levels the size allows), the mean over `samples` draws drawn once
  from a fixed seed, so every method of a size is measured under the very same random transformations.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from geometry.engine.distances import DistanceFamily, load_cached

DRAWS_SEED = 777
MEASURES = ("PSNR", "SSIM", "LPIPS v0.1", "LPIPS-VGG", "E-LPIPS")
#: Whether a larger value of the measure is better.
HIGHER_IS_BETTER = {"PSNR": True, "SSIM": True, "LPIPS v0.1": False, "LPIPS-VGG": False, "E-LPIPS": False}


def psnr(x: torch.Tensor, truth: torch.Tensor) -> float:
    mse = (x.double() - truth.double()).square().mean().item()
    return math.inf if mse == 0 else -10 * math.log10(mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    line = torch.exp(-offsets.square() / (2 * sigma**2))
    line = line / line.sum()
    return (line[:, None] * line[None, :])[None, None]


def ssim(x: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean SSIM of (1, C, H, W) images in [0, 1] (see the module docstring); images need 11 px per side."""
    if min(x.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 px, got {tuple(x.shape[-2:])}")
    channels = x.shape[1]
    window = _gaussian_window().expand(channels, 1, -1, -1)
    x, y = x.double(), truth.double()

    def blur(image: torch.Tensor) -> torch.Tensor:
        return F.conv2d(image, window, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.square()
    var_y = blur(y * y) - mu_y.square()
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    return index.mean().item()


class Judge:
    """Every measure of a frame against the truth, with E-LPIPS draws shared by every frame of a size."""

    def __init__(self, samples: int = 64, device: torch.device | str = "cpu"):
        self.samples = samples
        self.device = torch.device(device)
        self.elpips = DistanceFamily("elpips_vgg", self.device)
        self._draws: dict[tuple[int, int], object] = {}

    def _elpips(self, x: torch.Tensor, truth: torch.Tensor) -> float:
        size = tuple(truth.shape[-2:])
        metric = self.elpips.at_size(size)
        if size not in self._draws:
            self._draws[size] = metric.sample_draws(self.samples, torch.Generator().manual_seed(DRAWS_SEED),
                                                    stratify=8)
        images = torch.cat([x, truth]).to(self.device)
        d = metric.pair_distances(images, self._draws[size], *torch.tensor([[0], [1]], device=self.device))
        return d.mean().item()

    def scores(self, x: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        """{measure: value} for a frame x and the truth, (1, 3, H, W) in [0, 1] each."""
        x = x.detach().float().cpu().clamp(0, 1)
        truth = truth.detach().float().cpu()
        with torch.no_grad():
            on = (x.to(self.device), truth.to(self.device))
            return {"PSNR": psnr(x, truth), "SSIM": ssim(x, truth),
                    "LPIPS v0.1": load_cached("alex", self.device)(*on).item(),
                    "LPIPS-VGG": load_cached("lpips_vgg", self.device)(*on).item(),
                    "E-LPIPS": self._elpips(x, truth)}
