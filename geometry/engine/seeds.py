"""The seeds a run derives from its one ``seed``: each random stream of a run has its own generator,
so that changing how one is used (more draws, another start) never shifts the numbers of another.

The derivations are part of what makes a run reproducible: changing one changes every seeded result
(and the checkpoints' trajectories), so they are named here once and used everywhere.
"""

from __future__ import annotations

import torch


def start_seed(seed: int) -> int:
    """The noise start's images (and StageCarry's copy of the start)."""
    return int(seed) * 2


def draw_seed(seed: int) -> int:
    """The optimiser's random transformations, one draw set per update (saved in checkpoints)."""
    return int(seed) * 2 + 1


def spacing_seed(seed: int) -> int:
    """The draws that measure the even-spacing times of a geodesic's start (geometry.paths.spacing.even_times)."""
    return int(seed) * 2 + 2


#: A prime offset: the perturbed copies of perturbed_barycenter never share a stream with the run's seeds
#: (which are seed * 2 + 0..2).
PERTURBATION_OFFSET = 7919


def perturbation_seed(seed: int) -> int:
    """The noise or shifts of perturbed_barycenter's copies."""
    return int(seed) + PERTURBATION_OFFSET


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the same numbers on CPU and CUDA runs."""
    return torch.Generator().manual_seed(seed)
