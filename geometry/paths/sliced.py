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
images with the in-between statistics. Where a truth exists (a turn or zoom of a photographed texture: the
photo seen at the middle angle and scale), :func:`feature_ghost` asks the same question against it: are the
in-between image's statistics those of the truth's views, or those of the dissolves of endpoint views?
"""
from __future__ import annotations

import math
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


def pooled_quantiles(clouds: list[torch.Tensor], slices: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per layer, the quantiles of the feature vectors of ALL images of a stack pooled (`feature_clouds` of
    (N, 3, H, W)), projected on the directions and read at one image's number of positions: (1, positions,
    directions), each the mean of N consecutive sorted values (the statistics of the texture the views sample,
    not of one view)."""
    result = []
    for cloud, direction in zip(clouds, slices):
        count, positions = cloud.shape[:2]
        pooled = (cloud.reshape(1, count * positions, -1) @ direction).sort(dim=1).values
        result.append(pooled.view(1, positions, count, -1).mean(2))
    return result


def pool_and_noise(clouds: list[torch.Tensor], slices: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """A stack's `pooled_quantiles` and, per layer, the mean squared distance of its single views to them
    (layers, 1): how far one view lies off its texture's statistics by sampling alone."""
    pool = pooled_quantiles(clouds, slices)
    return pool, layer_distances(quantiles(clouds, slices), pool).square().mean(1, keepdim=True)


def normalised_sum(distances: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Layer distances (layers, N) each over its layer's `scale` (layers, 1), summed over layers: (N,)."""
    return (distances / scale.clamp_min(1e-12)).sum(0)


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
        scale = layer_distances(pick[1], pick[2])
        to_single = float(normalised_sum(layer_distances(pick[0], single), scale))
        to_superposition = float(normalised_sum(layer_distances(pick[0], pick[3]), scale))
    total = to_single + to_superposition
    return Superposition(to_single / total if total > 0 else 0.0, to_single, to_superposition)


#: Where the truth's and the superposition's pooled statistics lie less than this many times further apart than
#: those of two halves of the truth's views (the pools' own noise), the feature ghost does not apply.
MIN_SEPARATION = 2.0


class FeatureGhost(NamedTuple):
    fraction: float          # to_truth / (to_truth + to_superposition): 0 the truth's statistics, 1 the dissolve's
    to_truth: float          # distance to the truth views' pooled statistics (layer distances, normalised, summed)
    to_superposition: float  # distance to the pooled statistics of the endpoint views' dissolves, likewise
    separation: float        # the truth pool's distance to the superposition pool over that between truth halves

    @property
    def applies(self) -> bool:
        """Whether the truth and the superposition differ beyond the pools' noise (`MIN_SEPARATION`)."""
        return self.separation >= MIN_SEPARATION


def feature_ghost(images: torch.Tensor, truth: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                  t: float = 0.5) -> list[FeatureGhost]:
    """Is each in-between image (N, 3, H, W) ONE texture, the truth at the middle parameter, or the endpoints
    overlaid? Its VGG feature statistics against the pooled statistics (`pooled_quantiles`) of `truth`, a stack of
    views of the texture at time t (from many places), and of the dissolves (1 - t) a_i + t b_i of the stacks `a`
    and `b` (endpoint views from many places, as many as each other), in sliced Wasserstein distance on
    MEASURE_DIRECTIONS fixed directions per layer. A single view lies off its own texture's pool by its sampling
    noise: each squared layer distance less the mean squared distance of the pool's own views to the pool (floored
    at 0), so that a view of the truth scores near 0 and a dissolve of endpoint views near 1; each layer's over its
    distance between the two pools (every layer weighs as much in telling them apart), summed. `separation`
    compares that distance with the one between the even and odd views of `truth` (mean over layers): under
    MIN_SEPARATION the fraction says nothing. Unlike a spectral measure this sees a zoom of a 1/f photo (the SIZE of
    stones and bricks) and a turn of a nearly isotropic one, where the deep features see it."""
    stacks = [torch.as_tensor(x).detach().float().cpu() for x in (images, truth, a, b)]
    if any(x.dim() != 4 or x.shape[1] != 3 or x.shape[1:] != stacks[0].shape[1:] for x in stacks) \
            or stacks[2].shape[0] != stacks[3].shape[0] or stacks[1].shape[0] < 2:
        raise InputError(f"images, truth, a and b must be stacks of RGB images of one size (truth 2 or more, a and b "
                         f"as many), got {[tuple(x.shape) for x in stacks]}")
    if min(stacks[0].shape[-2:]) < 32:
        raise InputError(f"images of {tuple(stacks[0].shape[-2:])} px are too small for texture statistics "
                         "(32 px or more)")
    images, truth, a, b = stacks
    with torch.no_grad():
        clouds = feature_clouds(images)
        slices = directions(clouds, MEASURE_DIRECTIONS, torch.Generator().manual_seed(MEASURE_SEED))
        own = quantiles(clouds, slices)
        truth_clouds = feature_clouds(truth)
        truth_pool, truth_noise = pool_and_noise(truth_clouds, slices)
        superposition, superposition_noise = pool_and_noise(feature_clouds((1 - t) * a + t * b), slices)
        halves = [pooled_quantiles([c[i::2] for c in truth_clouds], slices) for i in (0, 1)]
        scale = layer_distances(truth_pool, superposition)
        to_truth, to_superposition = (
            normalised_sum((layer_distances(own, pool).square() - noise).clamp_min(0).sqrt(), scale)
            for pool, noise in ((truth_pool, truth_noise), (superposition, superposition_noise)))
        noise = float(normalised_sum(layer_distances(*halves), scale)) / len(scale)
    separation = 1 / noise if noise > 0 else math.inf
    return [FeatureGhost(u / (u + v) if u + v > 0 else 0.0, u, v, separation)
            for u, v in zip(to_truth.tolist(), to_superposition.tolist())]
