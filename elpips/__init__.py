"""E-LPIPS and LPIPS in PyTorch: perceptual image distances made robust by random transformation ensembles.

>>> import elpips
>>> metric = elpips.load_metric("elpips_vgg")            # or lpips_vgg, vgg, alex
>>> d = metric(x, y, samples=8)                          # (N,) differentiable, x, y in [0, 1]
>>> est = elpips.estimate_adaptive(metric, x, y)         # value with a 95 % error bound

The names are imported on first use (PEP 562), so that the command-line tools start without importing
torch and a Ctrl-C during their start-up reaches their own handler.
"""

import importlib

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


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups (and monkeypatches) see a plain module attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
