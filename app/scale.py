"""Where a distance stands: the reference pairs of `benchmarks/bench_distance_scale.py` (identical images, a JPEG
recompression, a 1 px shift, two different photos), measured once per metric and resolution and stored in
``distance_scale.json`` beside this module; the Distance and Compare tabs say between which of them a result falls."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCALE_FILE = Path(__file__).with_name("distance_scale.json")
#: The reference pairs in the words the tab uses, in the stored file's keys.
PAIRS = {
    "identical": "identical images",
    "jpeg": "a JPEG recompression (quality 75)",
    "shift_1px": "a 1 px shift",
    "different_photos": "two different photos",
}


@cache
def reference_distances() -> dict[str, dict[str, dict[str, float]]]:
    """metric -> resolution (str) -> pair -> distance, as measured by the benchmark."""
    return json.loads(SCALE_FILE.read_text())["distances"]


def scale_sentence(metric: str, size: int, value: float) -> str | None:
    """One sentence placing `value` among the reference pairs measured with `metric` at the nearest stored
    resolution (None for a metric without references)."""
    return scale_of(metric, size, {"": value})


def scale_of(metric: str, size: int, values: dict[str, float]) -> str | None:
    """The sentence of `scale_sentence` for several distances at once ({"A": 0.01, "B": 0.2}: the Compare tab's two
    candidates), the reference pairs listed once."""
    table = reference_distances().get(metric)
    if not table:
        return None
    nearest = min(table, key=lambda stored: abs(int(stored) - int(size)))
    pairs = sorted(table[nearest].items(), key=lambda item: item[1])
    listed = ", ".join(f"{PAIRS[name]} {distance:.4f}" for name, distance in pairs)
    placed = "; ".join(f"{name + ' ' if name else ''}{value:.4f} lies {_where(pairs, value)}"
                       for name, value in values.items())
    return (f"**Scale:** {placed}. Reference pairs under `{metric}` at {nearest} px: {listed} "
            "(benchmarks/bench_distance_scale.py).")


def _where(pairs: list[tuple[str, float]], value: float) -> str:
    below = [name for name, distance in pairs if distance <= value]
    above = [name for name, distance in pairs if distance > value]
    if not above:
        return f"at or beyond {PAIRS[below[-1]]}"
    if not below:
        return f"below {PAIRS[above[0]]}"
    return f"between {PAIRS[below[-1]]} and {PAIRS[above[0]]}"
