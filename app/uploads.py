"""Turning uploaded files into the images the engine works on, with messages a user can act on.

Uploads are read by the project's own loader (`elpips.load_image`) and brought to one size by
the documented policy of `geometry.inputs` (centre crop to the first image's aspect ratio, then
an antialiased resize). `prepare_uploads` also returns a note saying what was done to each image,
which the UI shows next to the result.
"""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
import PIL.Image
import torch

import elpips
from geometry import inputs

#: Largest upload, in pixels, the app accepts (the file size is capped separately at launch).
MAX_PIXELS = 40_000_000
#: Largest upload the server accepts, passed to `launch(max_file_size=...)`.
MAX_FILE_SIZE = "25mb"


def image_input(value=None, **options) -> gr.Image:
    """A `gr.Image` (filepath) whose unreadable uploads give a clear message instead of a server error.

    Gradio opens an uploaded image with PIL before the app sees it; a broken file fails there with
    an error the browser shows without its text. This input reports it as a `gr.Error` naming the
    file. (The check wraps the instance's `preprocess`: a `gr.Image` subclass would make Gradio
    write a type-stub file into this package at import time.)
    """
    image = gr.Image(value, type="filepath", **options)
    preprocess = image.preprocess

    def checked_preprocess(payload):
        try:
            return preprocess(payload)
        except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as error:
            name = getattr(payload, "orig_name", None) or "the upload"
            raise gr.Error(
                f"Could not read {name} as an image ({_first_line(error)}). "
                "Upload a PNG, JPEG, BMP, TIFF or WebP file."
            ) from None

    image.preprocess = checked_preprocess
    return image


def display_name(path: str | os.PathLike) -> str:
    """The file name a user recognises (Gradio keeps the original name as the last component)."""
    return Path(path).name


def load_upload(path: str | os.PathLike | None, label: str) -> torch.Tensor:
    """Read one uploaded image as (1, 3, H, W) in [0, 1]; raises `gr.Error` with a one-line reason."""
    if path is None or str(path) == "":
        raise gr.Error(f"{label}: no image given. Upload an image or pick one of the examples.")
    name = display_name(path)
    try:
        with PIL.Image.open(path) as header:  # reads only the header: reject huge images cheaply
            width, height = header.size
    except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as error:
        raise gr.Error(
            f"{label}: could not read {name} as an image ({_first_line(error)}). "
            "Upload a PNG, JPEG, BMP, TIFF or WebP file."
        ) from None
    if width * height > MAX_PIXELS:
        raise gr.Error(
            f"{label}: {name} is {width}x{height} pixels, more than the {MAX_PIXELS // 1_000_000} "
            "megapixels this app accepts. Scale it down first."
        )
    try:
        return elpips.load_image(path)
    except elpips.ImageError as error:
        reason = str(error).removeprefix(f"{path}: ")
        raise gr.Error(f"{label}: {name}: {reason}") from None


def prepare_uploads(
    images: list[torch.Tensor], names: list[str], size: int
) -> tuple[torch.Tensor, str]:
    """Bring loaded images to a common size (short side `size`, the first image's aspect ratio).

    Returns the (M, 3, H, W) batch and a Markdown note of what the crop/resize policy did.
    """
    first_hw = tuple(images[0].shape[-2:])
    target = inputs.target_size(first_hw, int(size))
    batch = inputs.prepare_images(images, target)
    lines = []
    for image, name in zip(images, names):
        height, width = image.shape[-2:]
        crop_h, crop_w = inputs.crop_to_aspect(image, target).shape[-2:]
        steps = [f"{width}x{height}"]
        if (crop_h, crop_w) != (height, width):
            steps.append(f"centre-cropped to {crop_w}x{crop_h}")
        if (crop_h, crop_w) != target:
            steps.append(f"resized to {target[1]}x{target[0]}")
        if len(steps) == 1:
            steps.append("used as is")
        lines.append(f"- **{name}**: " + ", ".join(steps))
    note = (
        f"Images are brought to {target[1]}x{target[0]} px (short side {size}, aspect ratio of "
        "the first image: centre crop, then antialiased resize):\n" + "\n".join(lines)
    )
    return batch, note


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
