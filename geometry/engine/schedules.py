"""Learning-rate schedules, as functions of the 1-based update index t within a stage.

* ``"reference"``: the E-LPIPS reference scripts' schedule (docs/geometry.md),
  lr(t) = base / (1 + 0.02 t'^0.75) with t' = sqrt(100^2 + t^2) - 100: flat for the first ~100 steps
  ("gradual start"), then decaying between 1/t and 1/sqrt(t). It suits open-ended runs.
* ``"cosine"``: base * (floor + (1 - floor) (1 + cos(pi (t-1) / total)) / 2), for runs with a known,
  short budget: large steps first, then the noise of the stochastic gradient is averaged away as the
  rate falls to `floor` * base at the end.
"""
from __future__ import annotations

import math

from elpips.errors import InputError

SCHEDULES = ("reference", "cosine")
COSINE_FLOOR = 0.05


def reference_lr(t: int, base: float) -> float:
    warped = math.sqrt(100.0 ** 2 + float(t) ** 2) - 100.0
    return base / (1.0 + 0.02 * warped ** 0.75)


def cosine_lr(t: int, total: int, base: float, floor: float = COSINE_FLOOR) -> float:
    progress = (t - 1) / max(1, total)
    return base * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def learning_rate(schedule: str, t: int, total: int, base: float) -> float:
    if schedule == "reference":
        return reference_lr(t, base)
    if schedule == "cosine":
        return cosine_lr(t, total, base)
    raise InputError(f"unknown schedule {schedule!r}: use one of {SCHEDULES}")
