"""geometry.service.video: what is written can be read back with the frame count, size and rate asked for."""

from __future__ import annotations

import subprocess

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from geometry.service import video


def moving_square(count: int = 4, height: int = 32, width: int = 32) -> np.ndarray:
    """A white square moving right on black: frames that differ, as uint8 (T, H, W, 3)."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    for t in range(count):
        frames[t, 8:16, 4 + 4 * t:12 + 4 * t] = 255
    return frames


def no_temp_files(folder):
    return not [p for p in folder.rglob("*") if ".tmp" in p.name]


def test_mp4_round_trip_keeps_frame_count_size_and_rate(tmp_path):
    frames = moving_square(5, 32, 48)
    path = video.write_mp4(tmp_path / "clip.mp4", frames, fps=7.5)
    clip = video.read_video(path)
    assert clip.frames.shape == (5, 32, 48, 3)
    assert clip.fps == pytest.approx(7.5)
    # H.264 is lossy, but a clean square must survive at the default quality
    assert np.abs(clip.frames.astype(int) - frames.astype(int)).mean() < 6
    assert no_temp_files(tmp_path)


def test_mp4_is_browser_playable_h264_yuv420p_with_index_first(tmp_path):
    path = video.write_mp4(tmp_path / "clip.mp4", moving_square(), fps=10)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "faststart puts the index before the media data"
    assert b"avc1" in data  # H.264


def test_mp4_pads_odd_sizes_to_even_without_rescaling(tmp_path):
    frames = torch.rand(3, 3, 33, 31)
    clip = video.read_video(video.write_mp4(tmp_path / "odd.mp4", frames, fps=5))
    assert clip.frames.shape == (3, 34, 32, 3)


def test_gif_forward_and_pingpong_frame_counts(tmp_path):
    frames = moving_square(4)
    forward = iio.imread(video.write_gif(tmp_path / "f.gif", frames, fps=10), index=None)
    pingpong = iio.imread(video.write_gif(tmp_path / "p.gif", frames, fps=10, mode="pingpong"), index=None)
    assert forward.shape[:3] == (4, 32, 32)
    assert pingpong.shape[0] == 4 + 2  # a b c d c b: the end frames are not repeated
    assert np.array_equal(pingpong[4, ..., :3], frames[2])


def test_contact_sheet_holds_every_frame_in_a_grid(tmp_path):
    frames = moving_square(5)
    sheet = iio.imread(video.write_contact_sheet(tmp_path / "sheet.png", frames))
    # 5 frames -> 3 columns x 2 rows of 32 px tiles plus gaps and caption strips
    assert sheet.shape[1] > 3 * 32 and sheet.shape[0] > 2 * 32
    assert sheet.shape[1] < 4 * 32 and sheet.shape[0] < 3 * 32 + 2 * 32


def test_png_frames_are_numbered_and_exact(tmp_path):
    frames = torch.rand(3, 3, 16, 16)
    paths = video.write_png_frames(tmp_path / "frames", frames)
    assert [p.name for p in paths] == ["frame_000.png", "frame_001.png", "frame_002.png"]
    assert np.array_equal(np.stack([iio.imread(p) for p in paths]), video.to_uint8_frames(frames))
    assert video.png_frame_name(7, 1200) == "frame_0007.png"


def test_float_frames_become_the_nearest_level_clamped_to_the_range():
    levels = torch.arange(256.0) / 255
    frames = torch.cat([levels, levels + 0.4 / 255, levels - 0.6 / 255, torch.tensor([-0.3, 1.7, 1.0 + 1e-7])])
    expected = (frames.clamp(0, 1) * 255).round().to(torch.uint8)
    converted = video.to_uint8_frames(frames.view(1, 1, 1, -1).expand(1, 3, 1, -1))
    assert np.array_equal(converted[0, 0, :, 0], expected.numpy())


def test_movies_are_named_by_format_and_frames_of_a_longer_earlier_run_are_dropped(tmp_path):
    video.write_png_frames(tmp_path / "frames", moving_square(5))
    kept = video.write_png_frames(tmp_path / "frames", moving_square(3))
    video.remove_stale_frames(tmp_path / "frames", keep=kept)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["frame_000.png", "frame_001.png",
                                                                       "frame_002.png"]
    written = video.write_movies(tmp_path, moving_square(3), fps=10, gif="pingpong", formats=("mp4", "gif", "sheet"))
    assert [p.name for p in written] == [video.movie_name(kind) for kind in ("mp4", "gif", "sheet")]
    assert [p.name for p in written] == ["geodesic.mp4", "geodesic.gif", "contact_sheet.png"]
    assert all(p.is_file() for p in written)


@pytest.mark.parametrize("content", [None, b"not a video at all"])
def test_unreadable_video_is_one_line_video_error(tmp_path, content):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(video.VideoError) as info:
        video.read_video(path)
    assert len(str(info.value).splitlines()) == 1
    assert "clip.mp4" in str(info.value)


def test_failed_write_leaves_the_previous_file_untouched(tmp_path, monkeypatch):
    path = video.write_mp4(tmp_path / "clip.mp4", moving_square(), fps=10)
    before = path.read_bytes()

    def encoder_dies_midway(command, *args, **kwargs):
        with open(command[-1], "wb") as partial:
            partial.write(b"half a video")
        return subprocess.CompletedProcess(command, 1, b"", b"ffmpeg died")

    monkeypatch.setattr(video.subprocess, "run", encoder_dies_midway)
    with pytest.raises(OSError, match="clip.mp4"):
        video.write_mp4(path, moving_square(), fps=10)
    assert path.read_bytes() == before
    assert no_temp_files(tmp_path)
