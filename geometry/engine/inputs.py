"""Input policy: how images of different sizes become one batch the engine can optimise.

Policy (applied by :func:`prepare_images`):

1. Every input is loaded: a path through `elpips.load_image`, an array or tensor through
   `elpips.as_image_batch` (uint8 or float, HW/HWC/CHW/NCHW; a batch contributes all its images).
2. The target size is
   * ``size=(H, W)``: exactly that;
   * ``size=n`` (int): short side n, with the aspect ratio of the FIRST image;
   * ``size=None``: the first image's size.
3. Each image is centre-cropped to the target aspect ratio (the largest centred window of that ratio),
   then resized to the target size with antialiased bilinear filtering (no resize when it already fits).

The first image thus decides the shape: put the image whose framing matters first.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from elpips.errors import InputError
from geometry.engine.threads import single_threaded


def _load_one(item: Any, position: int) -> torch.Tensor:
    import elpips

    if isinstance(item, (str, os.PathLike)):
        return elpips.load_image(item)
    return elpips.as_image_batch(item, name=f"image {position}")


def _as_items(images: Any) -> list[Any]:
    if isinstance(images, (str, os.PathLike)):
        return [images]
    if isinstance(images, torch.Tensor) and images.dim() == 4:
        return [images[k:k + 1] for k in range(images.shape[0])]
    if isinstance(images, Sequence):
        return list(images)
    return [images]


def target_size(first_hw: tuple[int, int], size: int | Sequence[int] | None) -> tuple[int, int]:
    """The (H, W) all images are brought to (see the module docstring)."""
    height, width = first_hw
    if size is None:
        return height, width
    if isinstance(size, int):
        if size < 1:
            raise InputError(f"size must be a positive number of pixels, got {size}")
        if height <= width:
            return size, max(1, round(size * width / height))
        return max(1, round(size * height / width)), size
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise InputError(f"size must be an int (short side) or (H, W) with positive entries, got {size}")
    return size


def crop_to_aspect(image: torch.Tensor, aspect_hw: tuple[int, int]) -> torch.Tensor:
    """The largest centred crop of `image` (..., H, W) whose H:W ratio is aspect_hw[0]:aspect_hw[1]."""
    height, width = image.shape[-2:]
    want_h, want_w = aspect_hw
    if height * want_w > width * want_h:  # too tall
        new_h = max(1, round(width * want_h / want_w))
        top = (height - new_h) // 2
        return image[..., top:top + new_h, :]
    new_w = max(1, round(height * want_w / want_h))
    left = (width - new_w) // 2
    return image[..., :, left:left + new_w]


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of (N, C, H, W) in [0, 1]; returns the input when the size already fits."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    resized = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    return resized.clamp(0.0, 1.0)


@single_threaded
def prepare_images(images: Any, size: int | Sequence[int] | None = None) -> torch.Tensor:
    """Load `images` (a list of paths/arrays/tensors, or one (N,3,H,W) tensor) as one (M,3,H,W) float32
    CPU tensor in [0, 1], centre-cropped to a common aspect ratio and resized (module docstring policy)."""
    batches = [_load_one(item, k).detach().to("cpu", torch.float32) for k, item in enumerate(_as_items(images))]
    if not batches:
        raise InputError("no images given: pass at least one image, path or array")
    singles = [image.unsqueeze(0) for batch in batches for image in batch]
    size_hw = target_size(tuple(singles[0].shape[-2:]), size)
    return torch.cat([resize(crop_to_aspect(image, size_hw), size_hw) for image in singles])


def perturbed_copies(image: torch.Tensor, mode: str, count: int, generator: torch.Generator,
                     sigma: float = 0.07, max_shift: int = 2) -> torch.Tensor:
    """The reference's 'bary10' inputs: `count` copies of image (1,3,H,W) with Gaussian noise (sigma, clipped
    to [0, 1]) or shifted by a random integer offset in [-max_shift, max_shift]^2 with reflect padding."""
    if mode == "noise":
        noise = torch.randn((count,) + tuple(image.shape[1:]), generator=generator)
        return (image + sigma * noise).clamp(0, 1)
    if mode == "shift":
        height, width = image.shape[-2:]
        if min(height, width) <= max_shift:
            raise InputError(f"image of {height}x{width} px is too small for shifts of {max_shift} px")
        padded = torch.nn.functional.pad(image, (max_shift,) * 4, mode="reflect")
        offsets = torch.randint(-max_shift, max_shift + 1, (count, 2), generator=generator)
        return torch.cat([padded[..., max_shift - dy:max_shift - dy + height, max_shift - dx:max_shift - dx + width]
                          for dy, dx in offsets.tolist()])
    raise InputError(f"mode must be 'noise' or 'shift', got {mode!r}")
