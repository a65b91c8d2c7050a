"""What a run's distance is called (in records, job files, memory estimates) and whether it is an object rather
than a name: light (no torch), so that the options (`geometry.options`) and the engine's distances
(`geometry.engine.distances`) both take it from below."""

from __future__ import annotations

from typing import Any


def distance_name(distance: Any) -> str:
    """What records call a distance: its name, an elpips metric's config name, or "<custom>"."""
    if isinstance(distance, str):
        return distance
    config = getattr(distance, "config", None)
    return getattr(config, "name", None) or getattr(distance, "name", None) or "<custom>"


def is_distance_object(distance: Any) -> bool:
    """Whether `distance` is a distance object rather than a name (`geometry.engine.distances.DistanceFamily`)."""
    return all(callable(getattr(distance, method, None)) for method in ("sample_draws", "embed", "embedding_distance"))
