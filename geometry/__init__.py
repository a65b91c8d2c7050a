"""Image geometry under perceptual distances: averages, barycenters and geodesics (E-LPIPS, LPIPS, L2).

    from geometry import pairwise_average, barycenter, perturbed_barycenter, geodesic
    res = geodesic("a.png", "b.png", frames=10, size=64)
    res.images        # (10,3,64,64) frames in [0,1], CPU
    res.record        # RunRecord: energies, steps, seconds, settings, status (JSON via to_json())

See `geometry.api` for the options, `geometry.presets` for the recipes and `geometry.inputs` for how inputs of
different sizes are cropped and resized.

The names are imported on first use (PEP 562), so that the command-line tools start without importing
torch and a Ctrl-C during their start-up reaches their own handler.
"""
import importlib

_EXPORTS = {
    "pairwise_average": "api", "barycenter": "api", "perturbed_barycenter": "api", "geodesic": "api",
    "estimate_energy": "api", "Result": "api", "RunRecord": "api", "EnergyEstimate": "api",
    "Progress": "optimize", "Preset": "presets", "Stage": "presets", "PRESETS": "presets",
}
_SUBMODULES = ("inputs", "presets")

__all__ = ["pairwise_average", "barycenter", "perturbed_barycenter", "geodesic", "estimate_energy", "Result",
           "RunRecord", "Progress", "EnergyEstimate", "Preset", "Stage", "PRESETS", "inputs", "presets"]


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
