"""Distances the geometry engine optimises under.

The engine needs three things from a distance, the same trio `elpips.Metric` offers:

* ``sample_draws(count, generator)`` -> draws (random transformations; identity ones for
  deterministic distances),
* ``embed(images, draws)`` -> the features of every image under every draw, computed in ONE call so
  that every image shares each draw's transformation and dropout mask,
* ``embedding_distance(embedding, i, j)`` -> ``(count, P)`` per-draw distances between images i[p], j[p].

Two kinds are provided: the E-LPIPS/LPIPS metrics by name (loaded through `elpips.load_metric`), and
:class:`SquaredL2`, the mean squared pixel difference, whose optimal averages and paths are known in
closed form and therefore test the engine itself.

Coarse-to-fine optimisation evaluates the same distance at several image sizes. E-LPIPS with its 8
scale levels only accepts images of at least ``metric.min_image_size`` pixels, so
:meth:`DistanceFamily.at_size` hands out, per size, the metric with the most scale levels that fits
(``elpips.load_metric(name, num_scales=...)``).
"""
from __future__ import annotations

import threading
from typing import Any, NamedTuple

import torch

from elpips.configs import METRIC_NAMES, get_config
from elpips.errors import InputError
from geometry.engine.distance_names import distance_name, is_distance_object


class IdentityDraws(NamedTuple):
    """`count` draws of the identity transformation (for distances without randomness)."""

    count: int


class L2Embedding(NamedTuple):
    pixels: torch.Tensor  # (M, D) flattened images
    count: int


class SquaredL2:
    """d(x, y) = mean over pixels and channels of (x - y)^2 (no square root, like E-LPIPS).

    Known optima, used as exact tests of the engine (see `geometry.engine.energies`):

    * barycenter with the ``"linear"`` energy sum_i w_i d(x, y_i): the weighted pixel mean
      sum_i w_i y_i / sum_i w_i, for any non-negative weights;
    * barycenter with the ``"squared"`` energy sum_i w_i d(x, y_i)^2 (a 4th power of the pixel
      distance): the midpoint for two equally weighted images (by symmetry), but NOT the weighted mean
      in general;
    * geodesic with either energy, sum_i d(x_i, x_{i+1}) or sum_i d(x_i, x_{i+1})^2: the
      cross-dissolve x_i = a + (i/N)(b - a). Both are convex, symmetric functions of the steps
      x_{i+1} - x_i whose sum is fixed to b - a, so equal steps are optimal (Jensen).
    """

    name = "l2"
    min_image_size = 1

    def sample_draws(self, count: int, generator: torch.Generator | None = None) -> IdentityDraws:
        return IdentityDraws(int(count))

    def embed(self, images: torch.Tensor, draws: IdentityDraws) -> L2Embedding:
        return L2Embedding(images.flatten(1), draws.count)

    def embedding_distance(self, embedding: L2Embedding, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        pixels = embedding.pixels
        # as Metric.embedding_distance
        d = (pixels.index_select(0, i) - pixels.index_select(0, j)).square().mean(dim=1)
        return d.unsqueeze(0).expand(embedding.count, -1)

    def to(self, device: torch.device | str) -> "SquaredL2":
        return self


#: Every name a run accepts as its distance: the metrics of `elpips.configs`, and the pixel distance.
DISTANCE_NAMES = METRIC_NAMES + (SquaredL2.name,)

#: The process's metrics by (name, device, scale levels), least recently used first: the one metric cache of the
#: engine, the batch workers and the app (metrics are frozen, so every run and request shares them).
_LOADED: dict[tuple[str, str, int | None], Any] = {}
_LOADING = threading.Lock()
#: Metrics kept at most (a long-lived app asked for many sizes and devices must not hold every network it ever
#: loaded); a run holds its own reference, so one evicted while in use stays alive until the run ends.
MAX_LOADED = 8


def load_cached(name: str, device: torch.device | str, num_scales: int | None = None) -> Any:
    """`elpips.load_metric(name, device, num_scales=...)`, loaded once per process (and once when threads ask
    at the same time); the least recently used of more than `MAX_LOADED` are let go."""
    key = (name, str(device), num_scales)
    with _LOADING:
        if key in _LOADED:
            _LOADED[key] = _LOADED.pop(key)  # the most recently used last
        else:
            import elpips

            kwargs = {} if num_scales is None else {"num_scales": num_scales}
            _LOADED[key] = elpips.load_metric(name, device=device, **kwargs)
            while len(_LOADED) > MAX_LOADED:
                del _LOADED[next(iter(_LOADED))]
        return _LOADED[key]


def is_loaded(name: str, device: torch.device | str) -> bool:
    """Whether this process has loaded the metric `name` on `device` already (at any scale levels): a run of it
    then pays no loading (`app.forecast`)."""
    with _LOADING:
        return any(key[:2] == (name, str(device)) for key in _LOADED)


def _module_device(obj: Any) -> torch.device | None:
    if isinstance(obj, torch.nn.Module):
        for tensor in list(obj.parameters()) + list(obj.buffers()):
            return tensor.device
    return None


class DistanceFamily:
    """One distance, available at every image size the run needs.

    `name` is what the run record stores ("<custom>" for objects that are not elpips metrics).
    """

    def __init__(self, distance: str | Any, device: torch.device):
        self.device = device
        if isinstance(distance, str):
            if distance not in DISTANCE_NAMES:
                raise InputError(
                    f"unknown distance {distance!r}: use one of {', '.join(DISTANCE_NAMES)} "
                    "or an object with sample_draws/embed/embedding_distance")
            self.name = distance
            self._base = SquaredL2() if distance == "l2" else None
        elif is_distance_object(distance):
            self.name = distance_name(distance)
            self._base = distance
        else:
            raise InputError(
                f"distance must be a name ({', '.join(DISTANCE_NAMES)}) or an object with "
                f"sample_draws/embed/embedding_distance methods, got {type(distance).__name__}")

    @property
    def base(self) -> Any:
        """The distance at its default configuration (loaded on first use)."""
        if self._base is None:
            self._base = self._load(None)
        return self._base

    def _load(self, num_scales: int | None) -> Any:
        return load_cached(self.name, self.device, num_scales)

    def at_size(self, size: tuple[int, int]) -> Any:
        """The distance to use for images of `size` = (H, W)."""
        short = min(size)
        base = self.base
        if short >= getattr(base, "min_image_size", 1):
            return base
        config = self.config_at_size(size)
        if config is not None and config.transforms is not None and short >= _smallest_side(config):
            return self._load(config.transforms.num_scales)
        raise self._too_small(size)

    def config_at_size(self, size: tuple[int, int]) -> Any:
        """The config (`elpips.configs.MetricConfig`) of the metric `at_size` hands out for images of `size`, known
        without loading a network (the forecast samples its draws: `app.forecast`): the most scale levels that
        fit (one where none does); None for a distance that is no elpips metric."""
        if self.name not in METRIC_NAMES:
            return None
        config = get_config(self.name)
        if config.transforms is None or min(size) >= _smallest_side(config):
            return config
        fitting = (scales for scales in range(config.transforms.num_scales - 1, 1, -1)
                   if min(size) >= _smallest_side(config, scales))
        return config.with_scales(next(fitting, 1))

    def smallest_side(self) -> int:
        """The smallest image side this distance works at, known without loading a network: a metric's with one
        scale level (`at_size` drops scale levels for smaller images, a loaded metric's too), another object's
        ``min_image_size``."""
        if self.name in METRIC_NAMES:
            return _smallest_side(get_config(self.name), 1)
        return getattr(self._base, "min_image_size", 1)

    def check_size(self, size: tuple[int, int]) -> None:
        """Raise InputError (naming the smallest size that works) when images of ``size`` are too small for it."""
        if min(size) < self.smallest_side():
            raise self._too_small(size)

    def _too_small(self, size: tuple[int, int]) -> InputError:
        return InputError(f"images of {size[0]}x{size[1]} px are smaller than {self.name!r} works at: use --size "
                          f"{self.smallest_side()} or more (its smallest), or --refine none (no network)", field="size")


def _smallest_side(config: Any, num_scales: int | None = None) -> int:
    """`elpips.memory.smallest_side`, imported when first needed (as the metrics are)."""
    from elpips.memory import smallest_side

    return smallest_side(config, num_scales)


def resolve_device(device: str | torch.device | None, distance: Any = None) -> torch.device:
    """None or "auto": the distance object's device if it is a module, else cuda when available, else cpu."""
    if device is None or device == "auto":
        found = _module_device(distance)
        if found is not None:
            return found
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from elpips.metric import checked_device

    return checked_device(device)  # one line for a name that is no device, or CUDA without a GPU
