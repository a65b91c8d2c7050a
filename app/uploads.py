"""Turning uploaded files into the images the engine works on, with messages a user can act on.

Uploads are read by the project's own loader (`elpips.load_image`) and brought to one size by
the documented policy of `geometry.engine.inputs` (centre crop to the first image's aspect ratio, then
an antialiased resize). `prepare_uploads` also returns a note saying what was done to each image
(cropped, shrunk or enlarged, grey levels or transparency converted), which the UI shows next to the result.
Images smaller than MIN_SIDE are refused: enlarged to any working size they hold no detail to measure.
"""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
import PIL.Image
import torch

import elpips
from geometry.engine import inputs

#: Largest upload, in pixels, the app accepts (the file size is capped separately at launch).
MAX_PIXELS = 40_000_000
#: Largest upload the server accepts, passed to `launch(max_file_size=...)`.
MAX_FILE_SIZE = "25mb"
#: Smallest side, in pixels, of an upload the app accepts (the smallest working resolution it offers).
MIN_SIDE = 16
#: PIL modes without colour: their one grey channel is copied into red, green and blue.
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


class UnreadableUpload(str):
    """An upload Gradio could not open, in place of its path: the file name the user gave, and why.

    `load_upload` turns it into the tab's error, so the message lands in the tab's status area like every
    other error (an exception in Gradio's preprocessing would only show a toast and a bare "Error" pill)."""

    def __new__(cls, name: str, reason: str):
        upload = super().__new__(cls, name)
        upload.reason = reason
        return upload


def image_input(value=None, **options) -> gr.Image:
    """A `gr.Image` (filepath) whose unreadable uploads reach the tab's function as `UnreadableUpload`.

    Gradio opens an uploaded image with PIL before the app sees it; a broken file fails there with
    an error the browser shows without its text. `image_mode=None` hands the app the uploaded file itself
    (Gradio's default converts it to 8-bit RGB first, clipping 16-bit grey levels and dropping alpha), so
    `load_upload` reads exactly what the tools read. (The check wraps the instance's `preprocess`: a `gr.Image`
    subclass would make Gradio write a type-stub file into this package at import time.)
    """
    image = gr.Image(value, type="filepath", image_mode=None, **options)
    preprocess = image.preprocess

    def checked_preprocess(payload):
        try:
            return preprocess(payload)
        except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as error:
            path = getattr(payload, "path", None)
            name = getattr(payload, "orig_name", None) or (display_name(path) if path else "the upload")
            return UnreadableUpload(name, _reason(error, path, name))

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
    if isinstance(path, UnreadableUpload):
        raise gr.Error(_unreadable(label, name, path.reason))
    try:
        with PIL.Image.open(path) as header:  # reads only the header: reject huge images cheaply
            width, height = header.size
    except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as error:
        raise gr.Error(_unreadable(label, name, _reason(error, path, name))) from None
    if width * height > MAX_PIXELS:
        raise gr.Error(
            f"{label}: {name} is {width}x{height} pixels, more than the {MAX_PIXELS // 1_000_000} "
            "megapixels this app accepts. Scale it down first."
        )
    if min(width, height) < MIN_SIDE:
        raise gr.Error(
            f"{label}: {name} is {width}x{height} pixels; the app needs at least {MIN_SIDE} px on each side "
            "(enlarged, a smaller image holds no detail to measure). Upload a larger image."
        )
    try:
        return elpips.load_image(path)
    except elpips.ImageError as error:
        reason = str(error).removeprefix(f"{path}: ")
        raise gr.Error(f"{label}: {name}: {_reason(reason, path, name)}") from None


def colour_handling(path: str | os.PathLike | None) -> str | None:
    """How the loader turned the file at `path` into RGB, when it changed anything: grey levels copied into
    the three channels, transparency composited onto white (None for plain RGB files and for images given as arrays)."""
    if path is None or isinstance(path, UnreadableUpload):
        return None
    try:
        with PIL.Image.open(path) as header:
            mode, transparent = header.mode, "transparency" in header.info
    except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError):
        return None
    notes = []
    if mode in GREY_MODES:
        notes.append("grey levels copied into red, green and blue")
    if mode in ("LA", "RGBA", "PA", "La", "RGBa") or transparent:
        notes.append("transparency composited onto white, as the preview shows it")
    return "; ".join(notes) or None


def not_an_image(path) -> bool:
    """Whether the upload at `path` is no image the loader can open (what the browser shows as a broken icon)."""
    if path is None or str(path) == "":
        return False
    if isinstance(path, UnreadableUpload):
        return True
    try:
        with PIL.Image.open(path):
            return False
    except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError):
        return True


def upload_problem(path, label: str) -> str | None:
    """The error a run would give for this upload (`load_upload`), or None: checked as soon as it is uploaded.
    An empty input is no problem yet (the run says so if it is still empty)."""
    if path is None or str(path) == "":
        return None
    try:
        load_upload(path, label)
    except gr.Error as error:
        return error.message
    return None


def prepare_uploads(
    images: list[torch.Tensor], names: list[str], size: int, paths: list | None = None
) -> tuple[torch.Tensor, str]:
    """Bring loaded images to a common size (short side `size`, the first image's aspect ratio).

    Returns the (M, 3, H, W) batch and a Markdown note of what the crop/resize policy did to each image, and,
    given the uploads' `paths`, how their grey levels or transparency were converted (`colour_handling`).
    """
    first_hw = tuple(images[0].shape[-2:])
    target = inputs.target_size(first_hw, int(size))
    batch = inputs.prepare_images(images, target)
    lines = []
    for image, name, path in zip(images, names, paths or [None] * len(images)):
        height, width = image.shape[-2:]
        crop_h, crop_w = inputs.crop_to_aspect(image, target).shape[-2:]
        steps = [f"{width}x{height}"]
        if (crop_h, crop_w) != (height, width):
            steps.append(crop_words(width, height, crop_w, crop_h))
        if (crop_h, crop_w) != target:
            factor = target[0] / crop_h
            if factor > 1:
                steps.append(f"**enlarged {factor:.3g}x** to {target[1]}x{target[0]} (softer than the file: "
                             f"a resolution of {min(crop_h, crop_w)} px keeps its own pixels)")
            else:
                steps.append(f"resized to {target[1]}x{target[0]}")
        if len(steps) == 1:
            steps.append("used as is")
        colour = colour_handling(path)
        if colour:
            steps.append(colour)
        lines.append(f"- **{name}**: " + ", ".join(steps))
    note = (
        f"Images are brought to {target[1]}x{target[0]} px (short side {size}, aspect ratio of "
        "the first image: centre crop, then antialiased resize):\n" + "\n".join(lines)
    )
    return batch, note


def crop_words(width: int, height: int, crop_w: int, crop_h: int) -> str:
    """What the centre crop did: a trim of a pixel or two (rounding the frame to the target's whole pixels) in
    those words, not as a crop to a size that looks like the original ("480x300, centre-cropped to 480x299")."""
    cut = (width - crop_w, "width") if crop_w != width else (height - crop_h, "height")
    if cut[0] <= 2:
        return f"{cut[0]} px trimmed from its {cut[1]} (rounding to whole pixels at the target size)"
    return f"centre-cropped to {crop_w}x{crop_h} (the first image's aspect ratio)"


def _unreadable(label: str, name: str, reason: str) -> str:
    return f"{label}: could not read {name} as an image ({reason}). Upload a PNG, JPEG, BMP, TIFF or WebP file."


def _reason(error: BaseException | str, path: str | os.PathLike | None, name: str) -> str:
    """The first line of an error about the file at `path`, naming it `name`: never the server's temporary
    upload path (PIL's messages quote the full path)."""
    text = str(error).strip()
    text = text.splitlines()[0] if text else type(error).__name__
    return text.replace(os.fspath(path), name) if path else text
