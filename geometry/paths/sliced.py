"""Sliced optimal transport of deep feature distributions: a texture as the cloud of its VGG feature vectors.

A texture is its statistics, not its layout: at each VGG layer (`geometry.paths.features`), the feature
vectors of all its positions form a distribution, and two textures are alike when those distributions are.
Projected on a random direction, a distribution is a list of numbers whose sorted values (quantiles) say all
about it; the sliced Wasserstein distance averages the squared differences of two textures' sorted
projections over many directions (Rabin et al. 2011, Heitz et al. 2021).

The texture "between" a and b at time t has, on every direction, the quantiles (1 - t) q_a + t q_b: the
displacement interpolation of the projected distributions (McCann), ONE texture whose features lie between
the endpoints'. The cross-dissolve (1 - t) a + t b has other statistics: the features of a superposition.
:func:`superposition_score` tells the two apart on an in-between image; `geometry.paths.synthesis` makes
images with the in-between statistics.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from elpips.errors import InputError
from geometry.paths.features import features

#: Directions per layer for the measure (fixed, seeded), and its seed.
MEASURE_DIRECTIONS, MEASURE_SEED = 128, 20261205


def feature_clouds(images: torch.Tensor) -> list[torch.Tensor]:
    """Per layer, each image's feature vectors over its positions: (N, positions, C_l), float32, differentiable."""
    return [f.flatten(-2).transpose(1, 2) for f in features(images)]


def directions(clouds: list[torch.Tensor], count: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Per layer, `count` random unit directions (C_l, count) drawn from `generator` (CPU), on the clouds' device."""
    result = []
    for cloud in clouds:
        draw = torch.randn(cloud.shape[-1], count, generator=generator)
        result.append((draw / draw.norm(dim=0, keepdim=True)).to(cloud.device))
    return result


def quantiles(clouds: list[torch.Tensor], slices: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per layer, the sorted projections of each cloud on the directions: (N, positions, directions)."""
    return [(cloud @ direction).sort(dim=1).values for cloud, direction in zip(clouds, slices)]


def interpolated(first: list[torch.Tensor], second: list[torch.Tensor], times: torch.Tensor) -> list[torch.Tensor]:
    """Per layer, the quantiles (1 - t) q_first + t q_second for each time (T,): (T, positions, directions)
    (first and second: one image's quantiles, (1, positions, directions), of the same number of positions)."""
    t = times.to(first[0].device, first[0].dtype).view(-1, 1, 1)
    return [(1 - t) * u + t * v for u, v in zip(first, second)]


def layer_distances(first: list[torch.Tensor], second: list[torch.Tensor]) -> torch.Tensor:
    """The sliced Wasserstein distance per layer and image: sqrt of the mean squared quantile difference,
    (layers, N)."""
    return torch.stack([(u - v).square().mean((1, 2)).sqrt() for u, v in zip(first, second)])


class Superposition(NamedTuple):
    fraction: float          # to_single / (to_single + to_superposition): 0 one texture between a and b, 1 the dissolve
    to_single: float         # distance to the interpolated texture's statistics (layer distances over a-b's, summed)
    to_superposition: float  # distance to the dissolve's statistics, likewise


def superposition_score(image: torch.Tensor, a: torch.Tensor, b: torch.Tensor, t: float = 0.5) -> Superposition:
    """Is the in-between image (1, 3, H, W) at time t ONE texture between a and b, or both overlaid? Its VGG
    feature statistics against those of the single texture between them (the interpolated quantiles of
    a's and b's, module docstring) and those of the superposition (the dissolve (1 - t) a + t b), in sliced
    Wasserstein distance on MEASURE_DIRECTIONS fixed directions per layer, each layer's distance over its
    distance between a and b. The fraction is 1 for the dissolve itself and near 0 for a texture whose
    statistics are the interpolated ones; contrast and layout do not enter except through the statistics."""
    images = [torch.as_tensor(x).detach().float().cpu() for x in (image, a, b)]
    if any(x.dim() != 4 or x.shape[:2] != (1, 3) or x.shape != images[0].shape for x in images):
        raise InputError(f"image, a and b must be single RGB images (1, 3, H, W) of one size, got "
                         f"{[tuple(x.shape) for x in images]}")
    if min(images[0].shape[-2:]) < 32:
        raise InputError(f"images of {tuple(images[0].shape[-2:])} px are too small for texture statistics "
                         "(32 px or more)")
    x, a, b = images
    with torch.no_grad():
        clouds = feature_clouds(torch.cat([x, a, b, (1 - t) * a + t * b]))
        slices = directions(clouds, MEASURE_DIRECTIONS, torch.Generator().manual_seed(MEASURE_SEED))
        q = quantiles(clouds, slices)
        pick = [[layer[i:i + 1] for layer in q] for i in range(4)]
        single = interpolated(pick[1], pick[2], torch.tensor([t]))
        scale = layer_distances(pick[1], pick[2]).clamp_min(1e-12)
        to_single = float((layer_distances(pick[0], single) / scale).sum())
        to_superposition = float((layer_distances(pick[0], pick[3]) / scale).sum())
    total = to_single + to_superposition
    return Superposition(to_single / total if total > 0 else 0.0, to_single, to_superposition)
