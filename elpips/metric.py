"""The metric: transformations + backbone + unit-normalised feature differences + linear weights.

Per compared feature map, each pixel's channel vector is scaled to unit length, the two images'
maps are subtracted and squared, averaged over positions and weighed per channel; the distance is
the sum over maps, with no square root (docs/metric.md). E-LPIPS is the expectation of that
over random transformations and dropout: :meth:`Metric.forward` averages ``samples`` draws.

For optimisation in image space the work splits in two: :meth:`Metric.embed` computes every image's
features under every draw once, and :meth:`Metric.embedding_distance` compares any pairs of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from .configs import MetricConfig, get_config
from .errors import InputError
from .images import RANGE_TOLERANCE
from .memory import RUNTIME_BYTES, evaluation_bytes, network_input, smallest_side
from .networks import ARCHITECTURES, Backbone
from .transforms import Draws, apply_draws, sample_draws

# LPIPS' input scaling layer, applied after mapping [0, 1] to [-1, 1].
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)

# Default limits of one network pass: (draw, image) evaluations, and their input pixels. Batching draws pays
# at small sizes, where one evaluation leaves the cores idle, and only costs memory at large ones: the pixel
# limit keeps a pass's features bounded (benchmarks/bench_metric.py part 2 measures the batch sizes; docs/metric.md).
_PASS_LIMITS = {"cpu": (64, 64 * 71 * 71), "cuda": (256, 256 * 263 * 263)}


def _unit_channels(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return features / (features.square().sum(dim=1, keepdim=True).sqrt() + eps)


class Embedding:
    """Unit-normalised features of M images under a set of draws, grouped as they were computed.

    ``groups`` holds (draw indices, [per-map tensors of shape (k, M, C, h, w)]); a group whose
    features have k = 1 but several indices stands for draws that are all the same (no transforms).
    """

    def __init__(self, count: int, groups: list[tuple[torch.Tensor, list[torch.Tensor]]]):
        self.count = count
        self.groups = groups


class Metric(nn.Module):
    """An LPIPS-family distance as a frozen ``nn.Module``; usable as a loss (differentiable in both inputs).

    Images are (N, 3, H, W) floats in [0, 1] (``input_range="[-1,1]"`` for images in [-1, 1], like the
    lpips package's default). Values outside the range by more than ``RANGE_TOLERANCE`` (1e-3, a
    resampling overshoot, clamped) raise ValueError; float16/float64 images are converted to the
    network's float32 (for reduced precision use autocast). ``max_batch`` bounds the (draw, image)
    evaluations per network pass (default: a per-device number of evaluations and of input pixels);
    larger is faster for small images and costs memory. Numbers are reproducible for a given seed,
    device and ``max_batch`` (on CPU bit for bit, whatever the number of threads' timing; docs/reliability.md).
    """

    def __init__(
        self,
        config: MetricConfig,
        backbone_state: dict[str, torch.Tensor],
        linear_weights: list[torch.Tensor],
        input_range: str = "[0,1]",
        max_batch: int | None = None,
    ):
        super().__init__()
        if input_range not in ("[0,1]", "[-1,1]"):
            raise InputError(f"input_range must be '[0,1]' or '[-1,1]', got {input_range!r}")
        self.config = config
        self.input_range = input_range
        self._max_batch = max_batch
        self.backbone = Backbone(ARCHITECTURES[config.backbone], config.pooling, config.taps)
        missing = self.backbone.load_state_dict(backbone_state, strict=False).missing_keys
        if missing:
            raise InputError(f"backbone weights for {config.backbone} lack {', '.join(missing)}")
        if [len(w) for w in linear_weights] != self.backbone.channels:
            raise InputError(
                f"{config.linear_weights} has layers of {[len(w) for w in linear_weights]} channels; "
                f"{config.name} compares maps of {self.backbone.channels}"
            )
        for index, weight in enumerate(linear_weights):
            self.register_buffer(f"lin{index}", weight.detach().float().clone())
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()
        self.min_image_size = smallest_side(self.config)

    @property
    def linear(self) -> list[torch.Tensor]:
        return [getattr(self, f"lin{i}") for i in range(len(self.backbone.channels))]

    @property
    def device(self) -> torch.device:
        return self.shift.device

    def _draws_per_pass(self, images: int, height: int, width: int) -> int:
        """How many draws of ``images`` images, at a network input of ``height`` x ``width``, make one pass."""
        if self._max_batch is not None:
            evaluations = self._max_batch
        else:
            count, pixels = _PASS_LIMITS.get(self.device.type, _PASS_LIMITS["cuda"])
            evaluations = min(count, pixels // (height * width))
        return max(1, evaluations // images)

    def _network_input(self, height: int, width: int, scale: int) -> tuple[int, int]:
        return network_input(self.config, height, width, scale)

    def pass_memory(self, images: int, height: int, width: int, draws: int = 1) -> int:
        """Peak bytes (an estimate, see `elpips.memory`) of evaluating ``images`` images of ``height`` x
        ``width`` under ``draws`` draws without gradients, as `pair_distances` does: a pass at a time."""
        per_pass = 1 if self.config.transforms is None else min(draws, self._draws_per_pass(
            images, *self._network_input(height, width, scale=1)))
        inputs = images * 3 * height * width * self.shift.element_size()
        return per_pass * images * evaluation_bytes(self.config, height, width, grad=False) + inputs + RUNTIME_BYTES

    def min_image_size_with_scales(self, num_scales: int) -> int:
        """The smallest image side this metric's network would accept with ``num_scales`` scale levels."""
        return smallest_side(self.config, num_scales)

    # Checks ----------------------------------------------------------------------------------------

    def _check_images(self, images: torch.Tensor, name: str) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise InputError(f"{name} must be an (N, 3, H, W) tensor, got {shape}; "
                             "elpips.as_image_batch converts arrays and files")
        if images.shape[0] == 0:
            raise InputError(f"{name} is an empty batch; pass at least one image")
        if images.is_meta:
            raise InputError(f"{name} is on the meta device (a shape without pixels): create it with its pixels, "
                             f"e.g. on the metric's device {str(self.device)!r}")
        height, width = images.shape[-2:]
        if min(height, width) < self.min_image_size:
            hint = ""
            if self.config.transforms:
                hint = " or a config with fewer scale levels (load_metric(..., num_scales=...))"
            raise InputError(
                f"{name} is {height}x{width} pixels; {self.config.name} needs at least "
                f"{self.min_image_size}x{self.min_image_size}: upscale the images{hint}"
            )
        if not images.is_floating_point():
            raise InputError(f"{name} has dtype {images.dtype}; pass floats (elpips.as_image_batch converts uint8)")
        images = images.to(device=self.device, dtype=self.shift.dtype)  # float16/64 -> the network's float32
        with torch.no_grad():  # one device sync for the three checks
            checks = [images.amin(), images.amax(), torch.isfinite(images).all().to(images.dtype)]
            low, high, finite = torch.stack(checks).tolist()
        if not finite:
            raise InputError(f"{name} contains NaN or Inf values")
        lo_bound, hi_bound = (0.0, 1.0) if self.input_range == "[0,1]" else (-1.0, 1.0)
        if low < lo_bound - RANGE_TOLERANCE or high > hi_bound + RANGE_TOLERANCE:
            hint = ""
            if self.input_range == "[0,1]" and low >= -1 - RANGE_TOLERANCE:
                hint = " (images in [-1, 1]? load the metric with input_range='[-1,1]' or map them with (x + 1) / 2)"
            raise InputError(f"{name} has values in [{low:.4g}, {high:.4g}]; with input_range={self.input_range!r} "
                             f"they must lie in {self.input_range} "
                             f"(overshoots up to {RANGE_TOLERANCE:g} are clamped){hint}")
        if low < lo_bound or high > hi_bound:  # a resampling overshoot within the tolerance
            images = images.clamp(lo_bound, hi_bound)
        return images

    # The two halves of the computation ------------------------------------------------------------

    def sample_draws(self, count: int, generator: torch.Generator | None = None, *, stratify: int = 1) -> Draws:
        """``count`` random transformations (identity draws for metrics without transformations).

        ``generator`` is a CPU ``torch.Generator`` (None: torch's global one); the draws are device-free.
        ``stratify=B`` balances consecutive blocks of B draws (see :func:`elpips.sample_draws`).
        """
        if self.config.transforms is None:
            return Draws.identities(count)
        return sample_draws(self.config.transforms, count, generator, stratify)

    def _features(self, x: torch.Tensor, seed: int, groups: int) -> list[torch.Tensor]:
        x = (x * 2 - 1 - self.shift) / self.scale
        keep = self.config.transforms.dropout_keep if self.config.transforms else 1.0
        generator = None
        if keep < 1.0:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(seed)
        features = self.backbone(x, keep, generator, groups)
        # Reduced-precision (autocast) features are normalised in float32; float64 stays float64.
        return [_unit_channels(f if f.dtype == torch.float64 else f.float()) for f in features]

    def embed(self, images: torch.Tensor, draws: Draws) -> Embedding:
        """Features of every image (M, 3, H, W) under every draw; one draw = one transformation and one
        dropout mask shared by all M images."""
        images = self._check_images(images, "images")
        if self.input_range == "[-1,1]":
            images = (images + 1) / 2
        m = images.shape[0]
        if draws.identity:
            features = self._features(images, 0, 1)
            return Embedding(len(draws), [(torch.arange(len(draws)), [f[None] for f in features])])
        height, width = images.shape[-2:]
        groups = []
        for group in draws.groups(square=height == width):
            per_pass = self._draws_per_pass(m, *self._network_input(height, width, int(draws.scale[group[0]])))
            for chunk in group.split(per_pass):
                chunk_draws = draws[chunk]
                x = apply_draws(images, chunk_draws, self.config.transforms)
                features = self._features(x.flatten(0, 1), int(chunk_draws.seed[0]), len(chunk))
                groups.append((chunk, [f.unflatten(0, (len(chunk), m)) for f in features]))
        return Embedding(len(draws), groups)

    def embedding_distance(self, embedding: Embedding, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Per-draw distances between embedded images i[p] and j[p]: a (draws, P) tensor.

        ``index_select`` rather than ``f[:, i]``: an image that appears in several pairs (a barycenter's x)
        gets its gradients summed, which advanced indexing does with thread-timing-dependent atomics on CPU.
        """
        i = torch.as_tensor(i, device=self.device)
        j = torch.as_tensor(j, device=self.device)
        indices, values = [], []
        for draw_indices, features in embedding.groups:
            distance = 0
            for f, weight in zip(features, self.linear):
                distance = distance + (f.index_select(1, i) - f.index_select(1, j)).square().mean(dim=(-2, -1)) @ weight
            indices.append(draw_indices)
            values.append(distance.expand(len(draw_indices), -1))
        order = torch.cat(indices).argsort().to(self.device)
        return torch.cat(values)[order]

    def embed_in_passes(self, images: torch.Tensor, draws: Draws) -> Iterator[tuple[slice, Embedding]]:
        """``embed(images, draws)`` a network pass at a time: (the draws' slice, its embedding), so that
        only one pass's features need be alive. The split depends only on the images' shape, the device and
        ``max_batch``."""
        per_pass = self._draws_per_pass(images.shape[0], *self._network_input(*images.shape[-2:], scale=1))
        for start in range(0, len(draws), per_pass):
            part = slice(start, start + per_pass)
            yield part, self.embed(images, draws[part])

    def pair_distances(self, images: torch.Tensor, draws: Draws, i, j,
                       progress: Callable[[int], object] | None = None) -> torch.Tensor:
        """``embedding_distance(embed(images, draws), i, j)`` computed a network pass at a time (see
        :meth:`embed_in_passes`): the way to evaluate many draws (wrap it in ``no_grad``).
        ``progress(k)`` is called after each pass with the number of draws it evaluated."""
        chunks = []
        for part, embedding in self.embed_in_passes(images, draws):
            chunks.append(self.embedding_distance(embedding, i, j))
            if progress is not None:
                progress(len(draws[part]))
        return torch.cat(chunks)

    def forward(self, x: torch.Tensor, y: torch.Tensor, samples: int = 1,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Distances between x[n] and y[n], each the mean over ``samples`` draws: an (N,) tensor.

        All N pairs see the same draws (each pair's estimate is unbiased; draws are shared for speed),
        stratified as one block: the mean is unbiased and less noisy than that of independent draws.
        """
        x = self._check_images(x, "x")
        y = self._check_images(y, "y")
        if x.shape != y.shape:
            raise InputError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        n = x.shape[0]
        draws = self.sample_draws(samples, generator, stratify=samples)
        embedding = self.embed(torch.cat([x, y]), draws)
        pairs = torch.arange(n)
        return self.embedding_distance(embedding, pairs, pairs + n).mean(dim=0)


def checked_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device ("auto": CUDA when there is one), or an InputError in one line naming it."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device {device!r} is not a device: use 'cpu', 'cuda', 'cuda:0' or 'auto'",
                         field="device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {str(device)!r} needs a CUDA GPU and there is none here: use 'cpu' or 'auto'",
                         field="device")
    return device


def load_metric(
    name: str = "elpips_vgg",
    device: str | torch.device = "cpu",
    *,
    num_scales: int | None = None,
    weights_dir: str | None = None,
    input_range: str = "[0,1]",
    max_batch: int | None = None,
    download: bool = True,
) -> Metric:
    """Build a metric by name (``elpips_vgg``, ``lpips_vgg``, ``vgg``, ``alex``), weights resolved by
    :mod:`elpips.weights`. ``num_scales`` overrides E-LPIPS' number of scale levels (smaller images).
    ``download=False`` keeps it offline: only the local folders are searched, and a missing file raises
    `elpips.weights.WeightsError` in one line naming ``elpips weights fetch`` and ``ELPIPS_WEIGHTS_DIR``."""
    from . import weights

    device = checked_device(device)
    config = get_config(name)
    if num_scales is not None:
        config = config.with_scales(num_scales)
    backbone = weights.backbone_state_dict(config.backbone, weights_dir, download=download)
    if config.linear_weights.startswith("lpips:"):
        linear = weights.lpips_linear_weights(config.linear_weights.split(":", 1)[1], weights_dir, download=download)
    else:
        linear = weights.linear_weights(config.linear_weights, weights_dir, download=download)
    return Metric(config, backbone, linear, input_range=input_range, max_batch=max_batch).to(device)
