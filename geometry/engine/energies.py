"""Energies the engine minimises, as sums over pairs of images.

Both problems are one form: images (M,3,H,W), pairs (i_p, j_p) with weights w_p, and

    E = sum_p w_p f(d(images[i_p], images[j_p])),   f(d) = d^2 ("squared") or d ("linear").

* barycenter of y_1..y_N with weights w: images [x, y_1, ..., y_N], pairs (0, k), weights w_k.
  Kettunen et al. (2019) minimise sum_i w_i d(x, y_i)^2 ("squared"; docs/geometry.md).
* discrete path x_0 = a, ..., x_N = b: images in order, pairs (k, k+1), weights 1.
  "squared" is the classic discrete path energy sum d^2; "linear" sums d. E-LPIPS has no square root
  (it behaves like a squared feature distance), so "linear" is the path energy of its square root.

One evaluation draws `count` random transformations and embeds ALL images under each of them in a single
`embed` call, so each image's features are computed once per draw and every term sees the same draw.
The distance of a pair is the mean over the draws; f is applied to that mean (with one draw per step this
is the reference's loss).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from elpips.errors import InputError

ENERGY_FORMS = ("squared", "linear")


def check_form(form: str) -> str:
    if form not in ENERGY_FORMS:
        raise InputError(f"energy must be one of {ENERGY_FORMS}, got {form!r}")
    return form


@dataclass(frozen=True)
class PairEnergy:
    i: torch.Tensor        # (P,) long
    j: torch.Tensor        # (P,) long
    weights: torch.Tensor  # (P,) float, >= 0
    form: str

    def to(self, device: torch.device) -> "PairEnergy":
        return PairEnergy(self.i.to(device), self.j.to(device), self.weights.to(device), self.form)

    def pair_distances(self, metric: Any, images: torch.Tensor, draws: Any) -> torch.Tensor:
        """(count, P) per-draw distances of every pair, all images embedded once per draw."""
        embedding = metric.embed(images, draws)
        return metric.embedding_distance(embedding, self.i, self.j)

    def combine(self, distances: torch.Tensor) -> torch.Tensor:
        """Energy from the (P,) pair distances."""
        terms = distances.square() if self.form == "squared" else distances
        return (self.weights.to(terms.dtype) * terms).sum()

    def estimate(self, per_draw: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Energy and its per-draw linearisation from (n, P) per-draw distances (n independent draws).

        The energy is combine(mean). Its error follows the delta method: the per-draw linearisation
        g_s = sum_p w_p f'(mean_p) d_{s,p} has the same variance as the energy to first order, so the standard
        error is std(g) / sqrt(n), and that of a difference of two energies under the same draws is
        std(g_a - g_b) / sqrt(n).
        """
        per_draw = per_draw.double()
        mean = per_draw.mean(0)
        weights = self.weights.double().to(mean.device)
        slope = 2 * weights * mean if self.form == "squared" else weights
        return self.combine(mean).item(), per_draw @ slope


def barycenter_energy(weights: torch.Tensor, form: str = "squared") -> PairEnergy:
    """Energy of x against N targets; images are laid out as [x, y_1..y_N]."""
    count = weights.numel()
    targets = torch.arange(1, count + 1)
    return PairEnergy(torch.zeros(count, dtype=torch.long), targets, weights.double().float(), check_form(form))


def path_energy(frames: int, form: str = "squared") -> PairEnergy:
    """Energy of a path of `frames` images (both endpoints included), laid out in order."""
    if frames < 2:
        raise InputError(f"a path needs at least 2 frames (its endpoints), got {frames}")
    steps = torch.arange(frames - 1)
    return PairEnergy(steps, steps + 1, torch.ones(frames - 1), check_form(form))
