"""E-LPIPS and LPIPS in PyTorch: perceptual image distances made robust by random transformation ensembles.

>>> import elpips
>>> metric = elpips.load_metric("elpips_vgg")            # or lpips_vgg, vgg, alex
>>> d = metric(x, y, samples=8)                          # (N,) differentiable, x, y in [0, 1]
>>> est = elpips.estimate_adaptive(metric, x, y)         # value with a 95 % error bound
>>> where = elpips.difference_map(metric, x, y, samples=64)  # (N, 1, H, W) map, its stderr, the distances
>>> adv = elpips.attack("lpips_vgg", x, y, epsilon=8/255)  # y perturbed to look closer to x

The names are imported on first use (`elpips.lazy`).
"""

from .lazy import lazy_exports

_EXPORTS = {
    "AttackProgress": "adversarial", "AttackRecord": "adversarial", "AttackResult": "adversarial",
    "Judgement": "adversarial", "attack": "adversarial", "judge": "adversarial", "perturb": "adversarial",
    "CONFIGS": "configs", "MetricConfig": "configs", "TransformConfig": "configs", "get_config": "configs",
    "Comparison": "estimators", "Estimate": "estimators", "compare": "estimators", "estimate": "estimators",
    "estimate_adaptive": "estimators",
    "ImageError": "images", "as_image_batch": "images", "load_image": "images", "save_image": "images",
    "DifferenceMap": "maps", "difference_map": "maps", "difference_maps": "maps", "draw_maps": "maps",
    "Embedding": "metric", "Metric": "metric", "load_metric": "metric",
    "Draws": "transforms", "apply_draws": "transforms", "sample_draws": "transforms",
}
_SUBMODULES = ("io", "weights")

__all__ = [
    "AttackProgress", "AttackRecord", "AttackResult", "CONFIGS", "Comparison", "DifferenceMap", "Draws",
    "Embedding", "Estimate", "ImageError", "Judgement", "Metric", "MetricConfig", "TransformConfig",
    "apply_draws", "as_image_batch", "attack", "compare", "difference_map", "difference_maps", "draw_maps",
    "estimate", "estimate_adaptive", "get_config", "io", "judge", "load_image", "load_metric", "perturb",
    "sample_draws", "save_image",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
