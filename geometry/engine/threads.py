"""One torch intra-op thread for the engine's pixel work (flows, warps, renders, resizes).

That work is thousands of operations on tensors of at most a few million values; split over threads it gains no
wall time, and where the cores are busy with other work (a clip's pairs run side by side, other processes) each
operation's threads wait for one another: on 2 loaded cores the flow search of a 256 px pair took 11-20 CPU s
with 2 threads and 1 s with one, the render of a 480p frame 0.6 CPU s and 0.04 s
(benchmarks/results/bench_clip_speed.txt, with benchmarks/bench_clip_cost.py before and after). The network's
convolutions keep the threads they were given.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch

Function = TypeVar("Function", bound=Callable)


def single_threaded(function: Function) -> Function:
    """`function` run with one intra-op thread in the calling thread, which then gets back the number it had (the
    setting is each thread's own: other threads keep theirs)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return run  # type: ignore[return-value]
