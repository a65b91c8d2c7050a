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

:meth:`Judge.scores_many` scores every method's frame of a triplet against one truth and computes what depends on
the truth alone once: its SSIM statistics, its LPIPS-VGG features and, a draw (network pass) at a time, its E-LPIPS
features; frames equal to one scored already take its scores. The passes are split as for one frame and its truth
(so every draw keeps its dropout mask), and the values are those of :meth:`Judge.scores` to float rounding
(tests/test_bench_interpolation.py): a triplet of n methods costs n + 1 network evaluations a draw instead of 2n,
which is what E-LPIPS scoring costs at 720p (docs/results.md).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from elpips.metric import Embedding
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


def _blur(image: torch.Tensor) -> torch.Tensor:
    """The SSIM window's weighted means of a (1, C, H, W) float64 image where the window fits, as two 1-D passes
    (the Gaussian window is separable: the same values to float64 rounding, a fifth of the work of 11x11)."""
    channels = image.shape[1]
    line = _gaussian_window()[0, 0].sum(dim=0)
    rows = F.conv2d(image, line.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(rows, line.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def _ssim_truth(truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What SSIM needs of the truth alone: the image in float64, its local means and variances."""
    if min(truth.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 px, got {tuple(truth.shape[-2:])}")
    y = truth.double()
    mu_y = _blur(y)
    return y, mu_y, _blur(y * y) - mu_y.square()


def ssim(x: torch.Tensor, truth: torch.Tensor, of_truth: tuple | None = None) -> float:
    """Mean SSIM of (1, C, H, W) images in [0, 1] (see the module docstring); images need 11 px per side.
    `of_truth`: `_ssim_truth(truth)`, when several images are compared with one truth."""
    y, mu_y, var_y = of_truth or _ssim_truth(truth)
    x = x.double()
    mu_x = _blur(x)
    var_x = _blur(x * x) - mu_x.square()
    cov = _blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    return index.mean().item()


class Judge:
    """Every measure of a frame against the truth, with E-LPIPS draws shared by every frame of a size."""

    def __init__(self, samples: int = 64, device: torch.device | str = "cpu", measures: tuple[str, ...] = MEASURES):
        unknown = [m for m in measures if m not in MEASURES]
        if unknown:
            raise ValueError(f"unknown measure(s) {unknown}: choose among {', '.join(MEASURES)}")
        self.measures = tuple(m for m in MEASURES if m in measures)
        self.samples = samples
        self.device = torch.device(device)
        self.elpips = DistanceFamily("elpips_vgg", self.device)
        self._draws: dict[tuple[int, int], object] = {}

    def _elpips_draws(self, size: tuple[int, int]):
        metric = self.elpips.at_size(size)
        if size not in self._draws:
            self._draws[size] = metric.sample_draws(self.samples, torch.Generator().manual_seed(DRAWS_SEED),
                                                    stratify=8)
        return metric, self._draws[size]

    def _elpips(self, x: torch.Tensor, truth: torch.Tensor) -> float:
        metric, draws = self._elpips_draws(tuple(truth.shape[-2:]))
        images = torch.cat([x, truth]).to(self.device)
        d = metric.pair_distances(images, draws, *torch.tensor([[0], [1]], device=self.device))
        return d.mean().item()

    def _elpips_many(self, frames: list[torch.Tensor], truth: torch.Tensor) -> list[float]:
        """`_elpips(x, truth)` of every x in `frames`, the truth embedded once a pass: each pass holds the draws
        `pair_distances` of one frame and its truth would hold (2 images), so every draw keeps its dropout mask."""
        metric, draws = self._elpips_draws(tuple(truth.shape[-2:]))
        height, width = truth.shape[-2:]
        truth = truth.to(self.device)
        per_frame: list[list[torch.Tensor]] = [[] for _ in frames]
        pair = torch.tensor([0], device=self.device), torch.tensor([1], device=self.device)
        for group in draws.groups(square=height == width):
            per_pass = metric._draws_per_pass(2, *metric._network_input(height, width, int(draws.scale[group[0]])))
            for chunk in group.split(per_pass):
                part = draws[chunk]
                of_truth = metric.embed(truth, part)
                for k, x in enumerate(frames):
                    of_x = metric.embed(x.to(self.device), part)
                    joint = Embedding(of_x.count, [(ix, [torch.cat([fx, ft], dim=1) for fx, ft in zip(gx, gt)])
                                                   for (ix, gx), (_, gt) in zip(of_x.groups, of_truth.groups)])
                    per_frame[k].append(metric.embedding_distance(joint, *pair))
                    del of_x, joint
                del of_truth
        return [torch.cat(d).mean().item() for d in per_frame]

    def _lpips_vgg_many(self, frames: list[torch.Tensor], truth: torch.Tensor) -> list[float]:
        """LPIPS-VGG of every x in `frames` to the truth, whose features are computed once."""
        metric = load_cached("lpips_vgg", self.device)
        draws = metric.sample_draws(1)
        of_truth = metric.embed(truth.to(self.device), draws)
        values = []
        for x in frames:
            of_x = metric.embed(x.to(self.device), draws)
            joint = Embedding(1, [(ix, [torch.cat([fx, ft], dim=1) for fx, ft in zip(gx, gt)])
                                  for (ix, gx), (_, gt) in zip(of_x.groups, of_truth.groups)])
            values.append(metric.embedding_distance(joint, torch.tensor([0]), torch.tensor([1])).mean().item())
        return values

    def scores(self, x: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        """{measure: value} for a frame x and the truth, (1, 3, H, W) in [0, 1] each (every measure)."""
        x = x.detach().float().cpu().clamp(0, 1)
        truth = truth.detach().float().cpu()
        with torch.no_grad():
            on = (x.to(self.device), truth.to(self.device))
            return {"PSNR": psnr(x, truth), "SSIM": ssim(x, truth),
                    "LPIPS v0.1": load_cached("alex", self.device)(*on).item(),
                    "LPIPS-VGG": load_cached("lpips_vgg", self.device)(*on).item(),
                    "E-LPIPS": self._elpips(x, truth)}

    def scores_many(self, frames: list[torch.Tensor], truth: torch.Tensor) -> list[dict[str, float]]:
        """`scores(x, truth)` of every x in `frames` (see the module docstring: the truth's part computed once)."""
        truth = truth.detach().float().cpu()
        frames = [x.detach().float().cpu().clamp(0, 1) for x in frames]
        distinct: list[torch.Tensor] = []
        which = []
        for x in frames:
            same = next((k for k, y in enumerate(distinct) if torch.equal(x, y)), None)
            if same is None:
                distinct.append(x)
                same = len(distinct) - 1
            which.append(same)
        with torch.no_grad():
            of_truth = _ssim_truth(truth) if "SSIM" in self.measures else None
            alex = load_cached("alex", self.device) if "LPIPS v0.1" in self.measures else None
            scored = [{} for _ in distinct]
            for score, x in zip(scored, distinct):
                score["PSNR"] = psnr(x, truth)
                if of_truth is not None:
                    score["SSIM"] = ssim(x, truth, of_truth)
                if alex is not None:
                    score["LPIPS v0.1"] = alex(x.to(self.device), truth.to(self.device)).item()
            for measure, many in (("LPIPS-VGG", self._lpips_vgg_many), ("E-LPIPS", self._elpips_many)):
                if measure in self.measures:
                    for score, value in zip(scored, many(distinct, truth)):
                        score[measure] = value
            scored = [{m: score[m] for m in self.measures} for score in scored]
        return [dict(scored[k]) for k in which]
