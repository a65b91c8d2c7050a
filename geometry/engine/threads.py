"""One torch intra-op thread for the engine's pixel work (flows, warps, renders, resizes).

That work is thousands of operations on tensors of at most a few million values; split over threads it gains no
wall time, and where the cores are busy with other work (a clip's pairs run side by side, other processes) each
operation's threads wait for one another: on 2 cores under load 13 the flow search of a 256 px pair of real
footage took 7.8-10.1 CPU s with 2 threads and 0.5-0.8 s with one (12-15x; wall 8-13x), while the render of a
480p frame cost the same with either (0.91-1.03x) (benchmarks/bench_clip_threads.py,
benchmarks/results/bench_clip_threads.txt). The network's convolutions keep the threads they were given, but for
a clip's scene-cut check (one evaluation at 64 px a frame; `benchmarks/bench_clip_speed.py --stages` times it both
ways, benchmarks/results/bench_clip_speed.txt).
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
