"""Image geometry under perceptual distances: averages, barycenters and geodesics (E-LPIPS, LPIPS, L2).

    from geometry import pairwise_average, barycenter, perturbed_barycenter, geodesic
    res = geodesic("a.png", "b.png", frames=10, size=64)
    res.images        # (10,3,64,64) frames in [0,1], CPU
    res.record        # RunRecord: energies, steps, seconds, settings, status (JSON via to_json())

See `geometry.api` for the options, `geometry.presets` for the recipes and `geometry.inputs` for how inputs of
different sizes are cropped and resized.
"""
from . import inputs, presets
from .api import (EnergyEstimate, Result, RunRecord, barycenter, estimate_energy, geodesic, pairwise_average,
                  perturbed_barycenter)
from .optimize import Progress
from .presets import PRESETS, Preset, Stage

__all__ = ["pairwise_average", "barycenter", "perturbed_barycenter", "geodesic", "estimate_energy", "Result",
           "RunRecord", "Progress", "EnergyEstimate", "Preset", "Stage", "PRESETS", "inputs", "presets"]
