"""E-LPIPS and LPIPS in PyTorch: perceptual image distances made robust by random transformation ensembles.

>>> import elpips
>>> metric = elpips.load_metric("elpips_vgg")            # or lpips_vgg, vgg, alex
>>> d = metric(x, y, samples=8)                          # (N,) differentiable, x, y in [0, 1]
>>> est = elpips.estimate_adaptive(metric, x, y)         # value with a 95 % error bound
>>> where = elpips.difference_map(metric, x, y, samples=64)  # (N, 1, H, W) map, its stderr, the distances
>>> adv = elpips.attack("lpips_vgg", x, y, epsilon=8/255)  # y perturbed to look closer to x
"""

from . import io, weights
from .adversarial import AttackProgress, AttackRecord, AttackResult, Judgement, attack, judge, perturb
from .configs import CONFIGS, MetricConfig, TransformConfig, get_config
from .maps import DifferenceMap, difference_map, difference_maps, draw_maps
from .estimators import Comparison, Estimate, compare, estimate, estimate_adaptive
from .images import ImageError, as_image_batch, load_image, save_image
from .metric import Embedding, Metric, load_metric
from .transforms import Draws, apply_draws, sample_draws

__all__ = [
    "AttackProgress", "AttackRecord", "AttackResult", "CONFIGS", "Comparison", "DifferenceMap", "Draws",
    "Embedding", "Estimate", "ImageError", "Judgement", "Metric", "MetricConfig", "TransformConfig",
    "apply_draws", "as_image_batch", "attack", "compare", "difference_map", "difference_maps", "draw_maps",
    "estimate", "estimate_adaptive", "get_config", "io", "judge", "load_image", "load_metric", "perturb",
    "sample_draws", "save_image",
]
