"""Reading video clips and writing frame sequences: H.264 MP4 (with an audio track), GIF, animated WebP and
PNG, contact sheet, PNG frames, side-by-side montages.

The geometry tools (``elpips-geodesic``, ``elpips-batch``) produce sequences of frames; this module
turns them into files people can open. Every file is written atomically (a temporary file in the same
folder, renamed over the target only when complete), so a crash or Ctrl-C never leaves a truncated
video or image behind.

Frames are accepted as a float tensor/array ``(T, 3, H, W)`` in [0, 1] (what the engine returns) or a
``uint8`` array ``(T, H, W, 3)`` (what :func:`read_video` returns)::

    from geometry.service import video
    clip = video.read_video("clip.mp4")              # DecodedVideo(frames (T,H,W,3) uint8, fps)
    video.write_mp4("out.mp4", clip.frames, fps=clip.fps)
    video.write_mp4("out.mp4", frames, fps=24, audio="clip.mp4")  # with the audio track of clip.mp4
    video.write_webp("loop.webp", clip.frames, fps=10)  # write_apng("loop.apng", ...): full-colour loops
    video.write_montage("montage.mp4", [inputs, outputs], ["input", "output"], fps=10)
    video.write_gif("out.gif", clip.frames, fps=10, mode="pingpong")
    video.write_contact_sheet("sheet.png", clip.frames)
    video.write_png_frames("frames/", clip.frames)   # frames/frame_000.png, frame_001.png, ...
    video.write_movies("out/", frames, fps=10)        # geodesic.mp4, geodesic.gif, contact_sheet.png

MP4s are H.264 in yuv420p with the index at the front (``-movflags +faststart``), so browsers play
them while they load. yuv420p needs even dimensions: odd sizes are padded by one row/column that
repeats the edge, never rescaled. The encoder is the ffmpeg binary shipped inside the
``imageio-ffmpeg`` wheel, so no system ffmpeg is needed.
"""

from __future__ import annotations

import errno
import math
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, Sequence

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from elpips.errors import InputError
from elpips.extras import require
from elpips.io import atomic_write

__all__ = [
    "DecodedVideo",
    "VideoError",
    "read_video",
    "to_uint8_frames",
    "write_mp4",
    "write_gif",
    "write_webp",
    "write_apng",
    "write_montage",
    "side_by_side",
    "has_audio",
    "write_contact_sheet",
    "write_png_frames",
    "png_frame_name",
    "write_movies",
    "movie_name",
    "MOVIE_FORMATS",
    "remove_stale_frames",
]

#: The movies' names (`movie_name`).
MP4_SUFFIX, GIF_SUFFIX, SHEET_NAME = ".mp4", ".gif", "contact_sheet.png"
WEBP_SUFFIX, APNG_SUFFIX = ".webp", ".apng"

GifMode = Literal["forward", "pingpong"]


class VideoError(InputError):
    """A video file that cannot be read (missing, not a video, no frames)."""


@dataclass(frozen=True)
class DecodedVideo:
    """The decoded frames of a video and its frame rate."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float


def _ffmpeg():
    """imageio-ffmpeg (its ffmpeg binary), or one line naming the ``video`` extra."""
    return require("imageio_ffmpeg", "writing MP4 and reading video")


def read_video(path: str | os.PathLike) -> DecodedVideo:
    """Decode every frame of a video file as RGB ``uint8``.

    Raises :class:`VideoError` with a one-line message when the file is missing or not a video.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video not found: {path}")
    try:
        reader = _ffmpeg().read_frames(str(path), pix_fmt="rgb24")
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
    return DecodedVideo(frames=np.stack(frames), fps=fps)


def to_uint8_frames(frames) -> np.ndarray:
    """Frames as a ``(T, H, W, 3) uint8`` array.

    Accepts a float tensor/array ``(T, 3, H, W)`` in [0, 1] (rounded to the nearest level) or a
    ``uint8`` array already in ``(T, H, W, 3)`` layout.
    """
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu()
        if frames.dtype != torch.uint8:
            # in place on one new tensor (no intermediates): the same levels as clamping to [0, 1] first
            frames = frames.float().mul(255).round_().clamp_(0, 255).to(torch.uint8)
        frames = frames.permute(0, 2, 3, 1).numpy()
    else:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8:
            if frames.ndim != 4 or frames.shape[1] != 3:
                raise InputError(
                    f"float frames must be (T, 3, H, W) in [0, 1]; got shape {frames.shape}"
                )
            frames = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise InputError(f"frames must be a non-empty (T, H, W, 3) sequence; got shape {frames.shape}")
    return np.ascontiguousarray(frames)


def write_mp4(path: str | os.PathLike, frames, fps: float, *, crf: int = 18,
              audio: str | os.PathLike | None = None) -> Path:
    """Encode frames as a browser-playable H.264 MP4 (yuv420p, faststart) at ``fps`` frames/s.

    ``crf`` is x264's constant rate factor: 0 is lossless, 18 visually lossless, 23 x264's default.
    ``audio``: a media file whose first audio track goes into the MP4 (copied as it is when the MP4 container
    takes its codec, else re-encoded as AAC), whole: the caller makes sure the timing matches.
    """
    if not fps > 0:
        raise InputError(f"fps must be positive; got {fps}")
    frames = _pad_to_even(to_uint8_frames(frames))
    height, width = frames.shape[1:3]
    path = Path(path)
    command = [
        _ffmpeg().get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{width}x{height}",
        "-pix_fmt", "rgb24", "-r", str(Fraction(fps).limit_denominator()), "-i", "-", "-an",
        "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-v", "error",
        "-crf", str(crf), "-movflags", "+faststart", "-f", "mp4",
    ]
    with atomic_write(path) as tmp:
        # ffmpeg run here rather than through imageio_ffmpeg.write_frames, which does not check how ffmpeg
        # ended: a full disk or a file size limit left a truncated video that passed as complete
        done = subprocess.run([*command, str(tmp)], input=frames.tobytes(), capture_output=True)
        _check_ffmpeg(done, tmp)
        if audio is not None:
            _add_audio(tmp, Path(audio))
    return path


def _check_ffmpeg(done: subprocess.CompletedProcess, target: Path) -> None:
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["ffmpeg failed"]
        raise OSError(_ffmpeg_errno(done), lines[-1], str(target))


def _add_audio(mp4: Path, source: Path) -> None:
    """Put the first audio track of ``source`` into the video-only ``mp4`` (in place, through a temporary file)."""
    with atomic_write(mp4) as tmp:
        for codec in ("copy", "aac"):  # copy when the MP4 container takes the codec (AAC, MP3...), else encode
            done = subprocess.run(
                [_ffmpeg().get_ffmpeg_exe(), "-y", "-v", "error", "-i", str(mp4), "-i", str(source),
                 "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", codec, "-movflags", "+faststart",
                 "-f", "mp4", str(tmp)], capture_output=True)
            if done.returncode == 0:
                break
        _check_ffmpeg(done, tmp)


def has_audio(path: str | os.PathLike) -> bool:
    """Whether the media file has an audio stream (read from ffmpeg's description of its streams)."""
    done = subprocess.run([_ffmpeg().get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return re.search(r"Stream #\S+.*: Audio:", done.stderr.decode(errors="replace")) is not None


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
        raise InputError(f"GIF mode must be 'forward' or 'pingpong'; got {mode!r}")
    if not fps > 0:
        raise InputError(f"fps must be positive; got {fps}")
    frames = to_uint8_frames(frames)
    if mode == "pingpong" and len(frames) > 2:
        frames = np.concatenate([frames, frames[-2:0:-1]])
    path = Path(path)
    data = iio.imwrite("<bytes>", frames, extension=".gif", duration=1000.0 / fps,  # milliseconds per frame
                       loop=0 if loop else 1)
    with atomic_write(path) as tmp:  # encoded first: a failed write then leaves no encoder to complain later
        tmp.write_bytes(data)
    return path


def write_webp(path: str | os.PathLike, frames, fps: float, *, loop: bool = True, quality: int = 90) -> Path:
    """Write an animated WebP (lossy at ``quality``; full colour, unlike GIF), looping by default."""
    return _write_pillow_animation(path, frames, fps, "WEBP", loop, quality=quality)


def write_apng(path: str | os.PathLike, frames, fps: float, *, loop: bool = True) -> Path:
    """Write an animated PNG (lossless, full colour), looping by default."""
    return _write_pillow_animation(path, frames, fps, "PNG", loop)


def _write_pillow_animation(path, frames, fps: float, format: str, loop: bool, **options) -> Path:
    if not fps > 0:
        raise InputError(f"fps must be positive; got {fps}")
    images = [Image.fromarray(frame) for frame in to_uint8_frames(frames)]
    path = Path(path)
    with atomic_write(path) as tmp:
        images[0].save(tmp, format=format, save_all=True, append_images=images[1:], duration=1000.0 / fps,
                       loop=0 if loop else 1, **options)
    return path


def side_by_side(columns: Sequence, labels: Sequence[str], *, gap: int = 4) -> np.ndarray:
    """Frame sequences of one length and size placed side by side, each under its label: (T, H', W', 3) uint8."""
    columns = [to_uint8_frames(c) for c in columns]
    if len(labels) != len(columns) or len({c.shape for c in columns}) != 1:
        raise InputError(f"side_by_side needs one label per column and columns of one shape, got "
                         f"{[c.shape for c in columns]} and {len(labels)} labels")
    count, height, width = columns[0].shape[:3]
    font = ImageFont.load_default()
    bar = Image.new("RGB", (len(columns) * (width + gap) + gap, _text_height(font) + 6), (32, 32, 32))
    draw = ImageDraw.Draw(bar)
    for index, label in enumerate(labels):
        draw.text((gap + index * (width + gap) + 1, 2), label, fill=(235, 235, 235), font=font)
    canvas = np.full((count, bar.height + height + gap, bar.width, 3), 32, np.uint8)
    canvas[:, :bar.height] = np.asarray(bar)
    for index, column in enumerate(columns):
        left = gap + index * (width + gap)
        canvas[:, bar.height:bar.height + height, left:left + width] = column
    return canvas


def write_montage(path: str | os.PathLike, columns: Sequence, labels: Sequence[str], fps: float) -> Path:
    """An MP4 of frame sequences side by side under their labels (:func:`side_by_side`)."""
    return write_mp4(path, side_by_side(columns, labels), fps=fps)


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
        raise InputError(f"need one label per frame: {count} frames, {len(labels)} labels")
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


#: zlib level of the PNG frames (the pixels are the same at every level): 1 rather than Pillow's default 6 costs a
#: clip's frames a fraction of the CPU for slightly larger files (benchmarks/bench_clip_speed.py --stages).
PNG_COMPRESS_LEVEL = 1


def write_png_frames(folder: str | os.PathLike, frames, *, start: int = 0, count: int | None = None,
                     compress_level: int = PNG_COMPRESS_LEVEL) -> list[Path]:
    """Write frames as ``folder/frame_000.png, frame_001.png, ...`` (each atomically: a frame file is whole or
    absent); returns the paths in order.

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
        # encoded in memory: a full disk fails the write below, not an imageio plugin's (whose __del__ then
        # printed a second, ignored traceback)
        data = iio.imwrite("<bytes>", frame, extension=".png", compress_level=compress_level)
        with atomic_write(path) as tmp:
            Path(tmp).write_bytes(data)
        paths.append(path)
    return paths


#: What :func:`write_movies` can write, and what it writes by default.
MOVIE_FORMATS = ("mp4", "gif", "webp", "apng", "sheet")
DEFAULT_MOVIE_FORMATS = ("mp4", "gif", "sheet")


def write_movies(out: str | os.PathLike, frames, *, fps: float, gif: GifMode = "forward",
                 name: str = "geodesic", formats: Sequence[str] = DEFAULT_MOVIE_FORMATS,
                 audio: str | os.PathLike | None = None) -> list[Path]:
    """``<name>.mp4``, ``<name>.gif``, ``<name>.webp``, ``<name>.apng`` (the loops play like the GIF:
    ``gif="pingpong"`` too) and ``contact_sheet.png`` in ``out`` (`movie_name`), those of ``formats``;
    ``audio`` goes into the MP4 (:func:`write_mp4`)."""
    unknown = set(formats) - set(MOVIE_FORMATS)
    if unknown:
        raise InputError(f"unknown formats {sorted(unknown)}: use {', '.join(MOVIE_FORMATS)}")
    out = Path(out)
    frames = to_uint8_frames(frames)
    loop = np.concatenate([frames, frames[-2:0:-1]]) if gif == "pingpong" and len(frames) > 2 else frames
    writers = {
        "mp4": lambda: write_mp4(out / movie_name("mp4", name), frames, fps=fps, audio=audio),
        "gif": lambda: write_gif(out / movie_name("gif", name), frames, fps=fps, mode=gif),
        "webp": lambda: write_webp(out / movie_name("webp", name), loop, fps=fps),
        "apng": lambda: write_apng(out / movie_name("apng", name), loop, fps=fps),
        "sheet": lambda: write_contact_sheet(out / movie_name("sheet", name), frames),
    }
    return [writers[kind]() for kind in MOVIE_FORMATS if kind in formats]


def movie_name(kind: str, name: str = "geodesic") -> str:
    """The file :func:`write_movies` writes for format ``kind``: ``<name>.mp4`` ..., or ``contact_sheet.png``."""
    if kind == "sheet":
        return SHEET_NAME
    return f"{name}{dict(mp4=MP4_SUFFIX, gif=GIF_SUFFIX, webp=WEBP_SUFFIX, apng=APNG_SUFFIX)[kind]}"


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
