"""Backbone convolution stacks, described as data and built with torchvision's layer indices.

Building ``features`` as torchvision does means a torchvision state dict (``features.0.weight`` ...) loads
as it is. The classifier heads are never built: LPIPS and E-LPIPS only read feature maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .errors import InputError


@dataclass(frozen=True)
class Conv:
    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 1


@dataclass(frozen=True)
class Pool:
    kernel: int
    stride: int


@dataclass(frozen=True)
class Architecture:
    """A convolution stack: ``layers`` in order, each Conv implicitly followed by a ReLU."""

    layers: tuple[Conv | Pool, ...]
    lpips_taps: tuple[int, ...]  # torchvision indices of the ReLUs the classic LPIPS compares


def _vgg16() -> Architecture:
    layers: list[Conv | Pool] = []
    channels = 3
    for block, (width, depth) in enumerate(zip((64, 128, 256, 512, 512), (2, 2, 3, 3, 3))):
        if block:
            layers.append(Pool(2, 2))
        for _ in range(depth):
            layers.append(Conv(channels, width, 3))
            channels = width
    return Architecture(tuple(layers), lpips_taps=(3, 8, 15, 22, 29))


ARCHITECTURES: dict[str, Architecture] = {
    "vgg16": _vgg16(),
    "alexnet": Architecture(
        (
            Conv(3, 64, 11, stride=4, padding=2),
            Pool(3, 2),
            Conv(64, 192, 5, padding=2),
            Pool(3, 2),
            Conv(192, 384, 3),
            Conv(384, 256, 3),
            Conv(256, 256, 3),
        ),
        lpips_taps=(1, 4, 7, 9, 11),
    ),
}


def activation_elements(architecture: Architecture, height: int, width: int) -> int:
    """Values the stack's layer outputs hold for one input of ``height`` x ``width`` (each conv output and
    its ReLU's, each pooled map): the unit of the memory estimates in `elpips.memory`."""
    channels, total = 3, 0
    for layer in architecture.layers:
        if isinstance(layer, Conv):
            height = (height + 2 * layer.padding - layer.kernel) // layer.stride + 1
            width = (width + 2 * layer.padding - layer.kernel) // layer.stride + 1
            channels = layer.out_channels
            total += 2 * channels * max(height, 0) * max(width, 0)
        else:
            height = (height - layer.kernel) // layer.stride + 1
            width = (width - layer.kernel) // layer.stride + 1
            total += channels * max(height, 0) * max(width, 0)
    return total


def output_side(architecture: Architecture, side: int) -> int:
    """Side of the stack's last feature map for a square input of ``side`` px (0 when it vanishes on the way)."""
    for layer in architecture.layers:
        padding = layer.padding if isinstance(layer, Conv) else 0
        side = (side + 2 * padding - layer.kernel) // layer.stride + 1 if side + 2 * padding >= layer.kernel else 0
    return side


def _dropout(x: torch.Tensor, keep: float, generator: torch.Generator, groups: int) -> torch.Tensor:
    """Inverted dropout whose mask is shared by all images of a group (one group = one random draw)."""
    grouped = x.unflatten(0, (groups, -1))
    noise = torch.rand((groups, 1, *x.shape[1:]), generator=generator, device=x.device)
    mask = (noise < keep).to(x.dtype) / keep
    return (grouped * mask).flatten(0, 1)


class Backbone(nn.Module):
    """A frozen convolution stack that returns the feature maps at chosen layer indices.

    ``pooling`` selects max (as trained) or average pooling (as E-LPIPS uses, which makes the
    features vary smoothly under small shifts).
    """

    def __init__(self, architecture: Architecture, pooling: str, taps: str):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise InputError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        modules: list[nn.Module] = []
        for layer in architecture.layers:
            if isinstance(layer, Conv):
                modules.append(nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, layer.stride,
                                         layer.padding))
                modules.append(nn.ReLU())
            elif pooling == "max":
                modules.append(nn.MaxPool2d(layer.kernel, layer.stride))
            else:
                modules.append(nn.AvgPool2d(layer.kernel, layer.stride))
        relus = [i for i, m in enumerate(modules) if isinstance(m, nn.ReLU)]
        self.tap_input = taps == "all"
        self.tap_indices = tuple(relus) if taps == "all" else architecture.lpips_taps
        self.features = nn.Sequential(*modules[: self.tap_indices[-1] + 1])
        self.channels = ([3] if self.tap_input else []) + [
            modules[i - 1].out_channels for i in self.tap_indices  # the conv before each tapped ReLU
        ]

    def forward(
        self,
        x: torch.Tensor,
        dropout_keep: float = 1.0,
        generator: torch.Generator | None = None,
        groups: int = 1,
    ) -> list[torch.Tensor]:
        """Feature maps at the taps. With ``dropout_keep < 1`` every conv input is dropped out, the
        mask drawn from ``generator`` and shared within each of ``groups`` equal slices of the batch."""
        taps = [x] if self.tap_input else []
        for index, layer in enumerate(self.features):
            if dropout_keep < 1.0 and isinstance(layer, nn.Conv2d):
                x = _dropout(x, dropout_keep, generator, groups)
            x = layer(x)
            if index in self.tap_indices:
                taps.append(x)
        return taps
