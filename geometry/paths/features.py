"""Deep features of textures: the ImageNet VGG-16 that E-LPIPS is built on (its weights, average pooling, no
dropout), read at relu1_2, relu2_2, relu3_3 and relu4_3, for texture statistics (the zoom of
`geometry.paths.detection`).
"""
from __future__ import annotations

import functools

import torch

from elpips.networks import ARCHITECTURES, Backbone

#: The layers read (indices into the LPIPS taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
LAYERS = 4
#: E-LPIPS' input normalisation ([0, 1] images to the network's range).
SHIFT, SCALE = (-0.030, -0.088, -0.188), (0.458, 0.448, 0.450)


@functools.lru_cache(maxsize=4)
def vgg_features(device: str = "cpu") -> Backbone:
    """The frozen VGG-16 up to relu4_3 on `device` (weights resolved as the metric's, `elpips.weights`)."""
    from elpips.weights import backbone_state_dict

    backbone = Backbone(ARCHITECTURES["vgg16"], "avg", "lpips")
    backbone.load_state_dict(backbone_state_dict("vgg16"), strict=False)
    cut = backbone.tap_indices[LAYERS - 1] + 1
    backbone.features = backbone.features[:cut]
    backbone.tap_indices = backbone.tap_indices[:LAYERS]
    return backbone.requires_grad_(False).eval().to(device)


def features(images: torch.Tensor) -> list[torch.Tensor]:
    """The feature maps (N, C_l, H_l, W_l) of images (N, 3, H, W) in [0, 1], float32, differentiable."""
    network = vgg_features(str(images.device))
    shift = torch.tensor(SHIFT, device=images.device).view(1, 3, 1, 1)
    scale = torch.tensor(SCALE, device=images.device).view(1, 3, 1, 1)
    return network((2 * images.float() - 1 - shift) / scale)


def channel_statistics(images: torch.Tensor) -> list[torch.Tensor]:
    """Per layer, each image's channel means and standard deviations over space: (N, 2 C_l)."""
    return [torch.cat([f.mean((-2, -1)), f.std((-2, -1))], 1) for f in features(images)]


def statistics_distance(first: list[torch.Tensor], second: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of |s1 - s2|^2 / (|s1|^2 + |s2|^2) between `channel_statistics` (N,): 0 for equal
    statistics, about 1 per layer for unrelated ones."""
    return sum((u - v).square().sum(1) / (u.square().sum(1) + v.square().sum(1)).clamp_min(1e-12)
               for u, v in zip(first, second))
