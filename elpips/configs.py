"""The metric configurations of docs/metric.md ("The network"), as data.

A :class:`MetricConfig` names a backbone, how it pools, which feature maps are compared, which linear
weights weigh them, and (for E-LPIPS) the random transformation ensemble of section 3.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class TransformConfig:
    """The random transformation ensemble (docs/metric.md), applied identically to every image in a sample.

    ``num_scales`` is the number of downscaling levels s = 1..num_scales, drawn with P(s) ~ 1/s^2. The paper
    uses 8; each level must leave enough pixels for the network, which sets the metric's minimum image size.
    """

    num_scales: int = 8
    offset_max: int = 7
    flips: bool = True
    transpose: bool = True
    color_permutation: bool = True
    color_scale_range: tuple[float, float] = (0.2, 1.0)
    dropout_keep: float = 0.99

    def __post_init__(self):
        if self.num_scales < 1:
            raise InputError(f"num_scales must be >= 1, got {self.num_scales}")
        if self.offset_max < 0:
            raise InputError(f"offset_max must be >= 0, got {self.offset_max}")
        if not 0.0 < self.dropout_keep <= 1.0:
            raise InputError(f"dropout_keep must be in (0, 1], got {self.dropout_keep}")

    @property
    def scale_probabilities(self) -> list[float]:
        weights = [1.0 / s**2 for s in range(1, self.num_scales + 1)]
        return [w / sum(weights) for w in weights]


@dataclass(frozen=True)
class MetricConfig:
    """One metric: backbone + pooling + compared feature maps + linear weights (+ transformations).

    ``taps`` names the compared feature maps: ``"lpips"`` for the five classic LPIPS layers, ``"all"``
    for the normalised input plus every ReLU output (E-LPIPS). ``linear_weights`` is a weight file
    name from :mod:`elpips.weights` or ``"lpips:<net>"`` for the standard LPIPS v0.1 weights.
    """

    name: str
    backbone: str
    pooling: str
    taps: str
    linear_weights: str
    transforms: TransformConfig | None = None
    description: str = ""

    def with_scales(self, num_scales: int) -> "MetricConfig":
        """This config with a different number of scale levels (E-LPIPS configs only)."""
        if self.transforms is None:
            raise InputError(f"{self.name} has no random transformations, so no scale levels to set")
        return dataclasses.replace(self, transforms=dataclasses.replace(self.transforms, num_scales=num_scales))


CONFIGS: dict[str, MetricConfig] = {
    config.name: config
    for config in (
        MetricConfig(
            name="elpips_vgg",
            backbone="vgg16",
            pooling="avg",
            taps="all",
            linear_weights="vgg_full_avg.npy",
            transforms=TransformConfig(),
            description="E-LPIPS-VGG, the paper's metric: average-pooled VGG16, 14 feature maps, "
                        "random transformations",
        ),
        MetricConfig(
            name="lpips_vgg",
            backbone="vgg16",
            pooling="max",
            taps="lpips",
            linear_weights="vgg_maxpool.npy",
            description="LPIPS-VGG with the linear weights retrained by the E-LPIPS authors (their baseline)",
        ),
        MetricConfig(
            name="vgg",
            backbone="vgg16",
            pooling="max",
            taps="lpips",
            linear_weights="lpips:vgg",
            description="standard LPIPS v0.1 VGG, equal to the lpips package's net='vgg'",
        ),
        MetricConfig(
            name="alex",
            backbone="alexnet",
            pooling="max",
            taps="lpips",
            linear_weights="lpips:alex",
            description="standard LPIPS v0.1 AlexNet, equal to the lpips package's net='alex'",
        ),
    )
}


#: The metric names, in the table's order (what every CLI, UI and engine list of metrics is made of).
METRIC_NAMES: tuple[str, ...] = tuple(CONFIGS)


def get_config(name: str) -> MetricConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise InputError(f"unknown metric {name!r}; choose one of {', '.join(CONFIGS)}") from None
