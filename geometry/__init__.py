"""Image geometry under perceptual distances: averages, barycenters and geodesics (E-LPIPS, LPIPS, L2).

    from geometry import pairwise_average, barycenter, perturbed_barycenter, geodesic
    res = geodesic("a.png", "b.png", frames=10, size=64)
    res.images        # (10,3,64,64) frames in [0,1], CPU
    res.record        # RunRecord: energies, steps, seconds, settings, status (JSON via to_json())

A run is a problem object (`geometry.engine.problems`: `BarycenterProblem`, `GeodesicProblem`) solved with its
options (`solve`); the functions above make the problem from images and solve it.
See `geometry.api` and `geometry.options.RunOptions` for the options, `geometry.engine.presets` for the recipes and
`geometry.engine.inputs` for how inputs of different sizes are cropped and resized.

The package is laid out as its architecture: `geometry.engine` (energies, the optimiser, schedules, presets,
distances, seeds), `geometry.paths` (motion and texture starts, flows, warps, spacing, path quality),
`geometry.service` (runs into output folders: run folders, jobs, clips, video, backends) and `geometry.tools`
(the command-line tools). The names are imported on first use (`elpips.lazy`).
"""
from elpips.lazy import lazy_exports

_EXPORTS = {
    "pairwise_average": "api", "barycenter": "api", "perturbed_barycenter": "api", "geodesic": "api",
    "estimate_energy": "api", "Result": "api", "RunRecord": "api", "EnergyEstimate": "api",
    "RunOptions": "options", "Progress": "engine.optimize", "Preset": "engine.presets",
    "Recipe": "engine.presets", "Stage": "engine.presets",
    "PRESETS": "engine.presets", "BarycenterProblem": "engine.problems", "GeodesicProblem": "engine.problems",
    "Start": "engine.problems", "solve": "api", "Callbacks": "api",
}
_SUBMODULES = ("engine", "paths", "service", "tools")

__all__ = ["pairwise_average", "barycenter", "perturbed_barycenter", "geodesic", "estimate_energy", "Result",
           "RunRecord", "RunOptions", "Progress", "EnergyEstimate", "Preset", "Recipe", "Stage", "PRESETS",
           "BarycenterProblem", "GeodesicProblem", "Start", "solve", "Callbacks", "engine", "paths", "service", "tools"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
