"""E-LPIPS and LPIPS in PyTorch: perceptual image distances made robust by random transformation ensembles.

>>> import elpips
>>> metric = elpips.load_metric("elpips_vgg")            # or lpips_vgg, vgg, alex
>>> d = metric(x, y, samples=8)                          # (N,) differentiable, x, y in [0, 1]
>>> est = elpips.estimate_adaptive(metric, x, y)         # value with a 95 % error bound

The names are imported on first use (`elpips.lazy`).
"""

from .lazy import lazy_exports

_EXPORTS = {
    "CONFIGS": "configs", "MetricConfig": "configs", "TransformConfig": "configs", "get_config": "configs",
    "Comparison": "estimators", "Estimate": "estimators", "compare": "estimators", "estimate": "estimators",
    "estimate_adaptive": "estimators",
    "ImageError": "images", "as_image_batch": "images", "load_image": "images", "save_image": "images",
    "Embedding": "metric", "Metric": "metric", "load_metric": "metric",
    "Draws": "transforms", "apply_draws": "transforms", "sample_draws": "transforms",
}
_SUBMODULES = ("io", "weights")

__all__ = [
    "CONFIGS", "Comparison", "Draws", "Embedding", "Estimate", "ImageError", "Metric", "MetricConfig",
    "TransformConfig", "apply_draws", "as_image_batch", "compare", "estimate", "estimate_adaptive",
    "get_config", "io", "load_image", "load_metric", "sample_draws", "save_image",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
