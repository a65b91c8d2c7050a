"""The seeds a run derives from its one ``seed``: each random stream of a run has its own generator,
so that changing how one is used (more draws, another start) never shifts the numbers of another.

The derivations are part of what makes a run reproducible: changing one changes every seeded result
(and the checkpoints' trajectories), so they are named here once and used everywhere.

A run's streams are four consecutive numbers, ``2 * seed + 0..3`` modulo 2**64 (what a torch.Generator takes):
distinct for every seed from 0 to `MAX_SEED`, so no stream of a run is another of the same run's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: Seeds the geometry tools, the app and the job files accept (``--seed``, ``seed``): every derivation of each is a
#: valid torch.Generator seed (tests/test_geometry_engine.py seeds one with every derivation of the largest).
MAX_SEED = 2**63 - 1

#: A torch.Generator takes seeds from 0 to 2**64 - 1; the derivations wrap modulo this.
_GENERATOR_SEEDS = 2**64


def _stream(seed: int, index: int) -> int:
    return (2 * int(seed) + index) % _GENERATOR_SEEDS


def start_seed(seed: int) -> int:
    """The noise start's images (and StageCarry's copy of the start)."""
    return _stream(seed, 0)


def draw_seed(seed: int) -> int:
    """The optimiser's random transformations, one draw set per update (saved in checkpoints)."""
    return _stream(seed, 1)


def spacing_seed(seed: int) -> int:
    """The draws that measure the even-spacing times of a geodesic's start (geometry.paths.spacing.even_times)."""
    return _stream(seed, 2)


def perturbation_seed(seed: int) -> int:
    """The noise or shifts of perturbed_barycenter's copies (a stream of its own: the barycenter it then runs
    uses the other three of the same seed)."""
    return _stream(seed, 3)


#: Every derivation, in stream order (a run's streams: the test that each seeds a generator walks these).
DERIVATIONS = (start_seed, draw_seed, spacing_seed, perturbation_seed)


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the same numbers on CPU and CUDA runs."""
    import torch  # here: the tools read MAX_SEED before torch loads

    return torch.Generator().manual_seed(seed)
