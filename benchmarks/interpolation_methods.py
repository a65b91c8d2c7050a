"""The in-between methods benchmarks/bench_interpolation.py compares, as a registry of names.

A method takes a :class:`Job` (the two input frames at the working size and a seed) and returns its middle
frame (1, 3, H, W) in [0, 1]. Register one with the decorator, from any module the benchmark imports
(bench_interpolation.METHOD_MODULES)::

    @method("my variant", expensive=True)
    def my_variant(job: Job) -> torch.Tensor:
        '''One line the results table prints.'''
        ...

`expensive` methods run on the first --expensive-triplets triplets only (the default geodesic costs minutes of
CPU per frame). The built-in methods:

* ``repeat``: frame repeat (the first input again);
* ``dissolve``: the cross-dissolve;
* ``DIS midpoint``: OpenCV DIS flow both ways, a midpoint warp (benchmarks/flow_baseline.py), the baseline;
* ``warp``: the engine's warp path with its own flow, unrefined;
* ``warp DIS flow``, ``warp DIS flow + visibility``: the warp path with OpenCV's DIS flow, without and with the
  forward-backward visibility;
* ``default geodesic``: the middle frame of a 3-frame geodesic with every default (expensive).

The benchmarks folder must be on sys.path (bench_interpolation.py puts it there).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Job:
    a: torch.Tensor   # (1, 3, H, W) in [0, 1]: the first input frame
    b: torch.Tensor   # the second input frame; the truth lies half way in time
    seed: int = 0


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable[[Job], torch.Tensor]
    expensive: bool
    description: str


METHODS: dict[str, Method] = {}


def method(name: str, *, expensive: bool = False) -> Callable:
    """Register the decorated function (Job -> middle frame) as method `name`."""
    def register(run: Callable[[Job], torch.Tensor]) -> Callable[[Job], torch.Tensor]:
        if name in METHODS:
            raise ValueError(f"method {name!r} is registered twice: give the second one another name")
        description = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else ""
        METHODS[name] = Method(name, run, expensive, description)
        return run
    return register


@method("repeat")
def repeat(job: Job) -> torch.Tensor:
    """frame repeat: the first input shown again"""
    return job.a.clone()


@method("dissolve")
def dissolve(job: Job) -> torch.Tensor:
    """the cross-dissolve (a + b) / 2"""
    return (job.a + job.b) / 2


@method("DIS midpoint")
def dis_midpoint(job: Job) -> torch.Tensor:
    """OpenCV DIS flow both ways on 4x upsampled frames, each input warped half way, blended (the baseline)"""
    from flow_baseline import dis_frames

    return dis_frames(job.a, job.b, [0.5])


@method("warp")
def warp_unrefined(job: Job) -> torch.Tensor:
    """the engine's warp path with its own flow, unrefined (geometry.paths.motion 'warp')"""
    from geometry.paths.motion import MOTION_STARTS

    return MOTION_STARTS["warp"](job.a, job.b)(torch.tensor([0.5], dtype=torch.float64)).float()


@method("default geodesic", expensive=True)
def default_geodesic(job: Job) -> torch.Tensor:
    """the middle of a 3-frame geodesic with every default (elpips-geodesic --insert 1)"""
    from geometry import geodesic

    return geodesic(job.a, job.b, frames=3, seed=job.seed, snapshot_steps=[]).images[1:2]


@method("warp DIS flow")
def warp_dis_flow(job: Job) -> torch.Tensor:
    """the engine's warp path with OpenCV DIS flow both ways, symmetrised on the in-between grid (motion 'dis')"""
    from geometry.paths.motion import MOTION_STARTS

    return MOTION_STARTS["dis"](job.a, job.b)(torch.tensor([0.5], dtype=torch.float64)).float()


@method("warp DIS flow + visibility")
def warp_dis_visibility(job: Job) -> torch.Tensor:
    """the warp path with DIS flow and DIS forward-backward visibility (which endpoint a pixel comes from)"""
    from geometry.paths.flows import dis_flow, dis_visibility
    from geometry.paths.render import WarpPath

    path = WarpPath(dis_flow(job.a, job.b), *dis_visibility(job.a, job.b))
    return path.frames(job.a, job.b, torch.tensor([0.5], dtype=torch.float64)).float()
