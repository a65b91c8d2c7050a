"""What the browser shows of an upload, and which file a run reads behind it.

Browsers display PNG, JPEG, GIF, WebP and BMP but not TIFF (nor the other formats `elpips.load_image` reads):
an image input holding such a file showed a broken-image icon. For those the app renders a preview of its own, a PNG
of what the loader makes of the file (transparency composited onto white, 8 bits, at most `PREVIEW_SIDE` px), and
shows it in place of the file. The input then holds the preview; `Shown` remembers the uploaded file behind it, so
that the run reads that file itself (16-bit grey levels and all), never the preview.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import PIL.Image

import elpips
from elpips.images import to_uint8
from elpips.io import atomic_write

#: The formats (PIL's names) a browser displays in an <img>; for any other the app shows its own preview.
BROWSER_FORMATS = frozenset({"PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "ICO"})
#: The longest side of a preview the app renders (the inputs show at 200 px; the run reads the file itself).
PREVIEW_SIDE = 1024
#: What a preview's file name adds to the upload's ("scan.tif" -> "scan.tif.preview.png").
PREVIEW_SUFFIX = ".preview.png"


def file_digest(path) -> str:
    """The SHA-256 of a file's bytes: the same picture whatever folder Gradio copied it into."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def image_format(path: str | os.PathLike) -> str | None:
    """The format of the image file at `path` (PIL's name: "PNG", "TIFF"), read from its contents."""
    with PIL.Image.open(path) as image:
        return image.format


def browser_shows(path: str | os.PathLike) -> bool:
    """Whether a browser displays the image file at `path` as it is (by its format, not its name)."""
    return image_format(path) in BROWSER_FORMATS


def preview_of(path: str | os.PathLike) -> str:
    """A picture of the readable image at `path` that a browser displays: the file itself in a format browsers show,
    else a PNG rendering of `elpips.load_image`'s reading of it, written beside it (once)."""
    if browser_shows(path):
        return str(path)
    preview = Path(f"{path}{PREVIEW_SUFFIX}")
    if not preview.exists():
        picture = PIL.Image.fromarray(to_uint8(elpips.load_image(path)))
        picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), PIL.Image.Resampling.LANCZOS)
        with atomic_write(preview) as tmp:
            picture.save(tmp, format="PNG")
    return str(preview)


@dataclass(frozen=True)
class Shown:
    """An image input that shows the app's preview of an upload: the preview's digest and the uploaded file."""

    preview_digest: str
    upload: str

    @classmethod
    def of(cls, upload: str | os.PathLike, preview: str | os.PathLike) -> Shown:
        return cls(file_digest(preview), str(upload))


def measured_file(value, shown: Shown | None):
    """The file a run reads for an image input holding `value`: the upload behind it where the input still shows the
    app's preview of that upload (`shown`), else `value` itself (an example, another upload, nothing)."""
    if shown is None or value is None or str(value) == "" or not Path(value).is_file():
        return value
    return shown.upload if file_digest(value) == shown.preview_digest else value
