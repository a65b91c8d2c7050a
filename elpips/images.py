"""Turning what users hold (arrays, tensors, files) into the metric's input: (N, 3, H, W) float32 in [0, 1].

Layout rules, in order:
- 2-D: H x W grayscale.
- 3-D: a torch tensor is read as C x H x W when its first dimension is 1, 3 or 4, else as H x W x C;
  a NumPy array the other way round (H x W x C first), as images are usually stored.
- 4-D: a torch tensor is N x C x H x W; a NumPy array is N x H x W x C when its last dimension is
  1, 3 or 4 and its second is not, else N x C x H x W.
Channels: 1 is replicated to RGB; 4 (RGBA) and 2 (gray + alpha) are composited onto white (`BACKGROUND`),
the background image viewers and the web app's preview show under transparent pixels, so what is measured is
what is seen (never the colour stored under a transparent pixel).
Values: uint8 is divided by 255, uint16 by 65535, bool maps to {0, 1}; floats must already lie in [0, 1].
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import torch

from .errors import InputError
from .io import atomic_write

# Slack for floats produced by resampling or colour conversion that overshoot [0, 1] by rounding: values
# within it are clamped, values beyond it refused (here and in `Metric`).
RANGE_TOLERANCE = 1e-3
#: The grey level transparent pixels are composited onto (white, as the web app's preview shows them).
BACKGROUND = 1.0


class ImageError(InputError):
    """An image that cannot be used, with a message that says why and what to do."""


def _channels_last_to_first(t: torch.Tensor) -> torch.Tensor:
    return t.movedim(-1, -3)


def _to_nchw(x: torch.Tensor, is_numpy: bool, name: str) -> torch.Tensor:
    rgb_like = (1, 2, 3, 4)
    if x.ndim == 2:
        return x[None, None]
    if x.ndim == 3:
        channels_first = x.shape[0] in rgb_like
        channels_last = x.shape[-1] in rgb_like
        if is_numpy:
            return (_channels_last_to_first(x) if channels_last else x)[None]
        return (x if channels_first or not channels_last else _channels_last_to_first(x))[None]
    if x.ndim == 4:
        if is_numpy and x.shape[-1] in rgb_like and x.shape[1] not in rgb_like:
            return _channels_last_to_first(x)
        return x
    raise ImageError(f"{name} has {x.ndim} dimensions {tuple(x.shape)}; expected HxW, HxWxC, CxHxW or NxCxHxW")


def _to_rgb(x: torch.Tensor, name: str) -> torch.Tensor:
    """Unit-range (N, C, H, W) to RGB: grey replicated, alpha composited onto `BACKGROUND`."""
    channels = x.shape[1]
    if channels == 3:
        return x
    if channels in (2, 4):
        alpha = x[:, -1:]
        x = x[:, :-1] * alpha + BACKGROUND * (1.0 - alpha)
        return x if channels == 4 else x.expand(-1, 3, -1, -1)
    if channels == 1:
        return x.expand(-1, 3, -1, -1)
    raise ImageError(f"{name} has {channels} channels (shape {tuple(x.shape)}); expected 1 (gray), 3 (RGB) or 4 (RGBA)")


def _to_unit_float(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if x.dtype == getattr(torch, "uint16", None):
        return x.float() / 65535.0
    if x.dtype == torch.bool:
        return x.float()
    if not x.is_floating_point():
        raise ImageError(f"{name} has dtype {x.dtype}; use uint8, uint16 or float values in [0, 1]")
    x = x.float()
    if not torch.isfinite(x).all():
        raise ImageError(f"{name} contains NaN or Inf values; every pixel must be a finite number in [0, 1]")
    lo, hi = float(x.detach().min()), float(x.detach().max())  # the range check is no part of the graph
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        hint = " (images in [-1, 1]? map them with (x + 1) / 2)" if lo >= -1 - RANGE_TOLERANCE else ""
        raise ImageError(f"{name} has values in [{lo:.3g}, {hi:.3g}]; float images must lie in [0, 1]{hint}")
    return x.clamp(0.0, 1.0)


def as_image_batch(x, name: str = "image") -> torch.Tensor:
    """Return ``x`` as an (N, 3, H, W) float32 tensor in [0, 1] on ``x``'s device (CPU for arrays).

    Raises :class:`ImageError` (an ``elpips.errors.InputError``, a ``ValueError``) for empty batches, unsupported
    shapes, dtypes or channel counts, and non-finite or out-of-range values.
    """
    is_numpy = not isinstance(x, torch.Tensor)
    if is_numpy:
        arr = np.asarray(x)
        if arr.dtype == np.uint16:  # torch's uint16 support is partial: rescale here
            arr = arr.astype(np.float32) / 65535.0
        elif arr.dtype.kind not in "buf":
            raise ImageError(f"{name} has dtype {arr.dtype}; use uint8, uint16 or float values in [0, 1]")
        x = torch.from_numpy(np.ascontiguousarray(arr))
    if x.numel() == 0:
        raise ImageError(f"{name} is empty (shape {tuple(x.shape)}); pass at least one image with pixels")
    if x.is_meta:
        raise ImageError(f"{name} is on the meta device (a shape without pixels): create it on 'cpu' or 'cuda'")
    return _to_rgb(_to_unit_float(_to_nchw(x, is_numpy, name), name), name).contiguous()


def load_image(path: str | os.PathLike, alpha: str = "composite") -> torch.Tensor:
    """Read an image file as a (1, 3, H, W) float32 tensor in [0, 1] (first frame of animations).

    Args:
        path: the image file.
        alpha: "composite" (default: transparent pixels composited onto `BACKGROUND`, what a viewer shows) or
            "drop" (the alpha channel ignored, as the reference implementation reads its inputs: its published
            numbers are reproduced so, docs/metric.md).
    """
    if alpha not in ("composite", "drop"):
        raise InputError(f"alpha must be 'composite' or 'drop', got {alpha!r}", field="alpha")
    import imageio.v3 as iio

    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file; give the path of an image in it")
    if not path.is_file():
        try:
            path.stat()
        except OSError as error:  # a symlink loop is not "no such file"
            if error.errno == errno.ELOOP:
                raise ImageError(f"{path} is a symbolic link loop: point it at an image file") from None
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path.name} is empty (0 bytes): give an image file with its pixels ({path})")
    try:
        pixels = iio.imread(path, index=0)
    except Exception as error:  # imageio raises many types; the user needs one line either way
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ImageError(f"{path}: not a readable image ({reason}); use PNG, JPEG, BMP, TIFF or WebP") from None
    if alpha == "drop" and pixels.ndim == 3 and pixels.shape[-1] in (2, 4):
        pixels = pixels[..., :-1]
    return as_image_batch(pixels, name=str(path))


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) float in [0, 1] -> H x W x 3 uint8, rounding to nearest."""
    if image.ndim == 4:
        if image.shape[0] != 1:
            raise InputError(f"expected one image, got a batch of {image.shape[0]}")
        image = image[0]
    pixels = (image.detach().float().clamp(0, 1) * 255.0 + 0.5).floor().to(torch.uint8)
    return pixels.permute(1, 2, 0).cpu().numpy()


def save_image(path: str | os.PathLike, image: torch.Tensor) -> None:
    """Write a (3, H, W) or (1, 3, H, W) image in [0, 1] atomically; the format follows the extension."""
    import imageio.v3 as iio

    with atomic_write(path) as tmp:
        iio.imwrite(tmp, to_uint8(image))
