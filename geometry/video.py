"""Reading video clips and writing frame sequences: H.264 MP4, GIF, contact sheet, PNG frames.

The geometry tools (``elpips-geodesic``, ``elpips-batch``) produce sequences of frames; this module
turns them into files people can open. Every file is written atomically (a temporary file in the same
folder, renamed over the target only when complete), so a crash or Ctrl-C never leaves a truncated
video or image behind.

Frames are accepted as a float tensor/array ``(T, 3, H, W)`` in [0, 1] (what the engine returns) or a
``uint8`` array ``(T, H, W, 3)`` (what :func:`read_video` returns)::

    from geometry import video
    clip = video.read_video("clip.mp4")              # Clip(frames (T,H,W,3) uint8, fps)
    video.write_mp4("out.mp4", clip.frames, fps=clip.fps)
    video.write_gif("out.gif", clip.frames, fps=10, mode="pingpong")
    video.write_contact_sheet("sheet.png", clip.frames)
    video.write_png_frames("frames/", clip.frames)   # frames/frame_000.png, frame_001.png, ...
    video.write_sequence("out/", frames, fps=10)      # all of the above for a geodesic's frames

MP4s are H.264 in yuv420p with the index at the front (``-movflags +faststart``), so browsers play
them while they load. yuv420p needs even dimensions: odd sizes are padded by one row/column that
repeats the edge, never rescaled. The encoder is the ffmpeg binary shipped inside the
``imageio-ffmpeg`` wheel, so no system ffmpeg is needed.
"""

from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, Sequence

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from elpips.io import atomic_write

__all__ = [
    "Clip",
    "VideoError",
    "read_video",
    "to_uint8_frames",
    "write_mp4",
    "write_gif",
    "write_contact_sheet",
    "write_png_frames",
    "png_frame_name",
    "write_sequence",
    "write_movies",
    "remove_stale_frames",
    "FRAMES_DIR",
]

#: Names `write_sequence` uses inside its output folder.
FRAMES_DIR = "frames"
MP4_SUFFIX, GIF_SUFFIX, SHEET_NAME = ".mp4", ".gif", "contact_sheet.png"

GifMode = Literal["forward", "pingpong"]


class VideoError(ValueError):
    """A video file that cannot be read (missing, not a video, no frames)."""


@dataclass(frozen=True)
class Clip:
    """The decoded frames of a video and its frame rate."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float


def read_video(path: str | os.PathLike) -> Clip:
    """Decode every frame of a video file as RGB ``uint8``.

    Raises :class:`VideoError` with a one-line message when the file is missing or not a video.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video not found: {path}")
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        width, height = meta["size"]
        frames = [
            np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3) for raw in reader
        ]
    except (OSError, RuntimeError, StopIteration, KeyError) as exc:
        raise VideoError(f"cannot read video {path}: {_last_line(exc)}") from None
    if not frames:
        raise VideoError(f"video has no frames: {path}")
    fps = float(meta.get("fps") or 0)
    if not fps > 0:
        raise VideoError(f"video has no frame rate: {path}")
    return Clip(frames=np.stack(frames), fps=fps)


def to_uint8_frames(frames) -> np.ndarray:
    """Frames as a ``(T, H, W, 3) uint8`` array.

    Accepts a float tensor/array ``(T, 3, H, W)`` in [0, 1] (rounded to the nearest level) or a
    ``uint8`` array already in ``(T, H, W, 3)`` layout.
    """
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu()
        if frames.dtype != torch.uint8:
            frames = (frames.float().clamp(0, 1) * 255).round().to(torch.uint8)
        frames = frames.permute(0, 2, 3, 1).numpy()
    else:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8:
            if frames.ndim != 4 or frames.shape[1] != 3:
                raise ValueError(
                    f"float frames must be (T, 3, H, W) in [0, 1]; got shape {frames.shape}"
                )
            frames = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) sequence; got shape {frames.shape}")
    return np.ascontiguousarray(frames)


def write_mp4(path: str | os.PathLike, frames, fps: float, *, crf: int = 18) -> Path:
    """Encode frames as a browser-playable H.264 MP4 (yuv420p, faststart) at ``fps`` frames/s.

    ``crf`` is x264's constant rate factor: 0 is lossless, 18 visually lossless, 23 x264's default.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive; got {fps}")
    frames = _pad_to_even(to_uint8_frames(frames))
    height, width = frames.shape[1:3]
    path = Path(path)
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{width}x{height}",
        "-pix_fmt", "rgb24", "-r", str(Fraction(fps).limit_denominator()), "-i", "-", "-an",
        "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-v", "error",
        "-crf", str(crf), "-movflags", "+faststart", "-f", "mp4",
    ]
    with atomic_write(path) as tmp:
        # ffmpeg run here rather than through imageio_ffmpeg.write_frames, which does not check how ffmpeg
        # ended: a full disk or a file size limit left a truncated video that passed as complete
        done = subprocess.run([*command, str(tmp)], input=frames.tobytes(), capture_output=True)
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines() or ["ffmpeg failed"]
            raise OSError(_ffmpeg_errno(done), lines[-1], str(tmp))
    return path


def _ffmpeg_errno(done: subprocess.CompletedProcess) -> int:
    """The errno an unfinished ffmpeg run most likely met (killed by SIGXFSZ: the file size limit)."""
    text = done.stderr.decode(errors="replace")
    if done.returncode == -signal.SIGXFSZ or "File too large" in text:
        return errno.EFBIG
    if "No space left" in text:
        return errno.ENOSPC
    return errno.EIO


def write_gif(
    path: str | os.PathLike, frames, fps: float, *, mode: GifMode = "forward", loop: bool = True
) -> Path:
    """Write an animated GIF.

    ``mode="pingpong"`` plays the frames forward then backward (without repeating the end frames),
    so a looping morph goes a -> b -> a smoothly. Identical consecutive frames are stored once with
    their durations added (Pillow's GIF encoder does this), so the playing time is always right.
    """
    if mode not in ("forward", "pingpong"):
        raise ValueError(f"GIF mode must be 'forward' or 'pingpong'; got {mode!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive; got {fps}")
    frames = to_uint8_frames(frames)
    if mode == "pingpong" and len(frames) > 2:
        frames = np.concatenate([frames, frames[-2:0:-1]])
    path = Path(path)
    data = iio.imwrite("<bytes>", frames, extension=".gif", duration=1000.0 / fps,  # milliseconds per frame
                       loop=0 if loop else 1)
    with atomic_write(path) as tmp:  # encoded first: a failed write then leaves no encoder to complain later
        tmp.write_bytes(data)
    return path


def write_contact_sheet(
    path: str | os.PathLike,
    frames,
    *,
    columns: int | None = None,
    labels: Sequence[str] | None = None,
    gap: int = 4,
) -> Path:
    """Write all frames side by side in a grid, each captioned with its frame number, as a PNG.

    ``columns`` defaults to a near-square grid; ``labels`` replaces the frame numbers.
    """
    frames = to_uint8_frames(frames)
    count, height, width = frames.shape[:3]
    labels = [str(i) for i in range(count)] if labels is None else list(labels)
    if len(labels) != count:
        raise ValueError(f"need one label per frame: {count} frames, {len(labels)} labels")
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    font = ImageFont.load_default()
    label_height = _text_height(font) + 4
    cell_w, cell_h = width + gap, height + label_height + gap
    sheet = Image.new("RGB", (columns * cell_w + gap, rows * cell_h + gap), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for index, (frame, label) in enumerate(zip(frames, labels)):
        x = gap + (index % columns) * cell_w
        y = gap + (index // columns) * cell_h
        sheet.paste(Image.fromarray(frame), (x, y))
        draw.text((x + 1, y + height + 2), label, fill=(235, 235, 235), font=font)
    path = Path(path)
    with atomic_write(path) as tmp:
        sheet.save(tmp, format="PNG")
    return path


def png_frame_name(index: int, count: int) -> str:
    """``frame_007.png``: zero-padded to at least 3 digits, more when there are 1000+ frames."""
    digits = max(3, len(str(max(count - 1, 0))))
    return f"frame_{index:0{digits}d}.png"


def write_png_frames(folder: str | os.PathLike, frames, *, start: int = 0, count: int | None = None) -> list[Path]:
    """Write frames as ``folder/frame_000.png, frame_001.png, ...``; returns the paths in order.

    ``start`` numbers the first frame (to write part of a longer sequence); ``count`` is the length
    of the whole sequence, which fixes the zero padding (defaults to ``start + len(frames)``).
    """
    frames = to_uint8_frames(frames)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    total = count if count is not None else start + len(frames)
    paths = []
    for offset, frame in enumerate(frames):
        path = folder / png_frame_name(start + offset, total)
        with atomic_write(path) as tmp:
            iio.imwrite(tmp, frame, extension=".png")
        paths.append(path)
    return paths


def write_sequence(out: str | os.PathLike, frames, *, fps: float, gif: GifMode = "forward",
                   name: str = "geodesic") -> list[Path]:
    """Write a frame sequence every way: ``frames/frame_000.png ...``, ``<name>.mp4``, ``<name>.gif`` and
    ``contact_sheet.png`` in ``out``; returns the files written. Frame PNGs left by an earlier, longer
    sequence in the same folder are removed."""
    out = Path(out)
    frames = to_uint8_frames(frames)
    pngs = write_png_frames(out / FRAMES_DIR, frames)
    remove_stale_frames(out / FRAMES_DIR, keep=pngs)
    return pngs + write_movies(out, frames, fps=fps, gif=gif, name=name)


def write_movies(out: str | os.PathLike, frames, *, fps: float, gif: GifMode = "forward",
                 name: str = "geodesic") -> list[Path]:
    """``<name>.mp4``, ``<name>.gif`` and ``contact_sheet.png`` in ``out`` (see :func:`write_sequence`)."""
    out = Path(out)
    frames = to_uint8_frames(frames)
    return [
        write_mp4(out / f"{name}{MP4_SUFFIX}", frames, fps=fps),
        write_gif(out / f"{name}{GIF_SUFFIX}", frames, fps=fps, mode=gif),
        write_contact_sheet(out / SHEET_NAME, frames),
    ]


def remove_stale_frames(folder: str | os.PathLike, keep: Sequence[str | os.PathLike]) -> None:
    """Delete ``frame_*.png`` files in ``folder`` that are not in ``keep`` (left by a longer earlier run)."""
    names = {Path(p).name for p in keep}
    for path in Path(folder).glob("frame_*.png"):
        if path.name not in names:
            path.unlink()


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Repeat the last row/column where height/width is odd (yuv420p subsamples colour by 2)."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def _text_height(font) -> int:
    left, top, right, bottom = font.getbbox("0123456789")
    return bottom


def _last_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
