"""elpips-geodesic: frames, MP4, GIF and contact sheet from two images or a clip; one-line errors; --resume.

The command runs in-process (fast) except once as ``python -m geometry.tools.geodesic``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import types

import imageio.v3 as iio
import numpy as np
import pytest

from geometry import api
from geometry.engine import inputs
from geometry.service import video
from geometry.tools.geodesic import main as geodesic_main  # noqa: E402

FAST = ["--distance", "l2", "--size", "32", "--steps", "12"]


@pytest.fixture
def pair(data_dir):
    return data_dir / "small" / "cat64.png", data_dir / "small" / "dog64.png"


def run(capsys, *argv):
    status = geodesic_main([str(a) for a in argv])
    return status, capsys.readouterr().err


def frame_files(out):
    return sorted((out / "frames").glob("frame_*.png"))


def test_two_images_give_frames_mp4_gif_and_contact_sheet(tmp_path, capsys, pair):
    out = tmp_path / "morph"
    status, err = run(capsys, *pair, *FAST, "--frames", "5", "--gif", "pingpong", "--fps", "8", "--out", out)
    assert status == 0, err

    frames = frame_files(out)
    assert [f.name for f in frames] == [f"frame_00{i}.png" for i in range(5)]
    pngs = np.stack([iio.imread(f) for f in frames])
    assert pngs.shape == (5, 64, 64, 3)  # worked at --size 32, written at the inputs' own size
    start = video.to_uint8_frames(inputs.prepare_images([pair[0]]))[0]
    assert np.array_equal(pngs[0], start), "the first frame is the first image"

    clip = video.read_video(out / "geodesic.mp4")
    assert clip.frames.shape == (5, 64, 64, 3) and clip.fps == pytest.approx(8)
    gif = iio.imread(out / "geodesic.gif", index=None)
    assert gif.shape[:3] == (5 + 3, 64, 64)  # ping-pong: 0 1 2 3 4 3 2 1
    assert iio.imread(out / "contact_sheet.png").shape[1] > 3 * 64

    record = json.loads((out / "record.json").read_text())
    assert record["frames"] == 5 and record["pairs"][0]["status"] == "completed"
    assert json.loads((out / "run.json").read_text())["status"] == "done"
    assert not (out / "checkpoint.pt").exists()
    assert "12/12 [" in err, "a progress bar over the steps, with elapsed<ETA"


def test_video_insert_multiplies_frame_count_and_rate(tmp_path, capsys):
    source = np.zeros((4, 32, 32, 3), np.uint8)
    for t in range(4):
        source[t, 8:16, 4 + 6 * t:12 + 6 * t] = 255
    clip_path = video.write_mp4(tmp_path / "clip.mp4", source, fps=8)
    decoded = video.read_video(clip_path).frames
    out, insert = tmp_path / "smooth", 2

    status, err = run(capsys, "--video", clip_path, "--insert", insert, *FAST, "--no-progress", "--out", out)
    assert status == 0, err

    expected = (4 - 1) * insert + 4
    result = video.read_video(out / "geodesic.mp4")
    assert result.frames.shape == (expected, 32, 32, 3)
    assert result.fps == pytest.approx(8 * (insert + 1))
    pngs = np.stack([iio.imread(f) for f in frame_files(out)])
    assert len(pngs) == expected
    assert np.array_equal(pngs[::insert + 1], decoded), "the clip's own frames are kept between the new ones"
    assert not (out / "checkpoints").exists()


def bad_cases(pair, tmp_path):
    cat, dog = pair
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    two_frames = tmp_path / "two_frames"
    two_frames.mkdir()
    for name in ("a.png", "b.png"):
        iio.imwrite(two_frames / name, np.zeros((32, 32, 3), np.uint8))
    return {
        "missing image": ([cat, tmp_path / "nope.png"], "nope.png"),
        "one image": ([cat], "two images"),
        "unreadable video": (["--video", junk, "--insert", "1"], "junk.mp4"),
        "video without insert": (["--video", junk], "--insert"),
        "two frames": ([cat, dog, "--frames", "2"], "--frames"),
        "unknown distance": ([cat, dog, "--distance", "ssim"], "ssim"),
        "bad size": ([cat, dog, "--size", "0"], "size"),
        "to-fps with two images": ([cat, dog, "--to-fps", "30"], "--to-fps"),
        "insert and to-fps": (["--video", junk, "--insert", "1", "--to-fps", "30"], "--to-fps"),
        "folder without its rate": (["--video", two_frames, "--insert", "1"], "--input-fps"),
        "input rate of a video": (["--video", junk, "--insert", "1", "--input-fps", "5"], "--input-fps"),
        "unknown format": ([cat, dog, "--formats", "mp4,avi"], "avi"),
        "frames with video": (["--video", junk, "--frames", "4"], "--frames"),
        "start frames not a folder": ([cat, dog, "--init", cat], "--start-frames"),  # --init: its former name
        "start frames count": ([cat, dog, "--frames", "5", "--start-frames", two_frames], "holds 2 image files"),
        "start frames with video": (["--video", junk, "--insert", "1", "--start-frames", two_frames],
                                    "--start-frames"),
    }


@pytest.mark.parametrize("case", ["missing image", "one image", "unreadable video", "video without insert",
                                  "two frames", "unknown distance", "bad size", "to-fps with two images",
                                  "insert and to-fps", "folder without its rate", "input rate of a video",
                                  "unknown format", "frames with video",
                                  "start frames not a folder", "start frames count", "start frames with video"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, pair, case):
    argv, needle = bad_cases(pair, tmp_path)[case]
    out = tmp_path / "out"
    status, err = run(capsys, *argv, "--out", out)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and needle in err
    assert not out.exists()


def test_start_frames_are_where_the_path_starts(tmp_path, capsys, pair):
    """--start-frames puts another interpolator's in-betweens in place of the cross-dissolve (here: black frames, which
    two small L2 steps barely move), and the record ties the run to them."""
    start = tmp_path / "start"
    start.mkdir()
    for k in range(3):
        iio.imwrite(start / f"in_between_{k}.png", np.zeros((40, 40, 3), np.uint8))  # resized like the inputs
    common = [*pair, "--distance", "l2", "--size", "32", "--steps", "2", "--frames", "5", "--no-progress"]
    status, err = run(capsys, *common, "--start-frames", start, "--out", tmp_path / "from_start")
    assert status == 0, err
    status, err = run(capsys, *common, "--out", tmp_path / "from_dissolve")
    assert status == 0, err
    middle = {name: iio.imread(frame_files(tmp_path / name)[2]).mean() / 255
              for name in ("from_start", "from_dissolve")}
    assert middle["from_start"] < 0.05 < 0.2 < middle["from_dissolve"]
    settings = json.loads((tmp_path / "from_start" / "run.json").read_text())["settings"]
    assert len(settings["start_sha256"]) == 3


def test_too_small_for_the_metric_fails_in_the_engine_and_leaves_nothing(tmp_path, capsys, pair):
    out = tmp_path / "out"
    status, err = run(capsys, *pair, "--distance", "elpips_vgg", "--size", "4", "--steps", "2", "--refine", "pixels",
                      "--out", out)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "4x4" in err and "use --size 9 or more" in err
    assert not out.exists()


def test_resume_continues_a_cancelled_run_and_matches_an_uninterrupted_one(tmp_path, capsys, pair):
    out = tmp_path / "resumed"
    out.mkdir()
    cancel = threading.Event()

    def stop_after_5(progress):
        if progress.step >= 5:
            cancel.set()

    cancelled = api.geodesic(*pair, frames=4, distance="l2", size=32, steps=12, seed=0, callback=stop_after_5,
                             cancel=cancel, checkpoint=out / "checkpoint.pt", snapshot_steps=())
    assert cancelled.record.status == "cancelled" and (out / "checkpoint.pt").exists()

    argv = [*pair, *FAST, "--frames", "4", "--no-progress", "--out"]
    status, err = run(capsys, *argv, out)
    assert status == 2 and "--resume" in err and len(err.strip().splitlines()) == 1

    status, err = run(capsys, *argv, out, "--resume")
    assert status == 0, err
    status, err = run(capsys, *argv, tmp_path / "straight")
    assert status == 0, err
    resumed = [iio.imread(f) for f in frame_files(out)]
    straight = [iio.imread(f) for f in frame_files(tmp_path / "straight")]
    assert len(resumed) == 4 and all(np.array_equal(r, s) for r, s in zip(resumed, straight))
    assert not (out / "checkpoint.pt").exists()


def test_resume_refuses_other_settings(tmp_path, capsys, pair):
    out = tmp_path / "run"
    assert run(capsys, *pair, *FAST, "--frames", "3", "--no-progress", "--out", out)[0] == 0
    status, err = run(capsys, *pair, *FAST, "--frames", "3", "--seed", "1", "--no-progress", "--out", out, "--resume")
    assert status == 2 and "seed" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_module_entry_point_with_elpips(tmp_path, pair):
    """`python -m geometry.tools.geodesic` end to end, under E-LPIPS at a tiny size."""
    out = tmp_path / "elpips"
    done = subprocess.run(
        [sys.executable, "-m", "geometry.tools.geodesic", *map(str, pair), "--distance", "elpips_vgg", "--size", "32",
         "--steps", "3", "--frames", "3", "--refine", "pixels", "--output-size", "32", "--device", "cpu",
         "--no-progress", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    assert len(frame_files(out)) == 3
    assert video.read_video(out / "geodesic.mp4").frames.shape == (3, 32, 32, 3)
    record = json.loads((out / "record.json").read_text())
    assert record["pairs"][0]["settings"]["distance"] == "elpips_vgg"


def test_video_resume_keeps_finished_pairs_and_redoes_the_unfinished_one(tmp_path, capsys):
    source = np.zeros((3, 32, 32, 3), np.uint8)
    for t, level in enumerate((0, 90, 180)):  # l2 steps of 0.03, below the cut threshold
        source[t, 8:24, 8:24] = level
    clip_path = video.write_mp4(tmp_path / "clip.mp4", source, fps=4)
    out = tmp_path / "smooth"
    argv = ["--video", clip_path, "--insert", "1", *FAST, "--no-progress", "--out", out]
    assert run(capsys, *argv)[0] == 0
    before = [iio.imread(f) for f in frame_files(out)]

    # as if the run had died during the second pair: its frame and record are missing
    run_state = json.loads((out / "run.json").read_text())
    del run_state["pairs"]["1"]
    (out / "run.json").write_text(json.dumps({**run_state, "status": "running"}))
    (out / "frames" / "frame_003.png").unlink()
    first_pair_stamp = (out / "frames" / "frame_001.png").stat().st_mtime_ns

    status, err = run(capsys, *argv)
    assert status == 2 and "--resume" in err
    status, err = run(capsys, *argv, "--resume")
    assert status == 0, err
    assert (out / "frames" / "frame_001.png").stat().st_mtime_ns == first_pair_stamp
    after = [iio.imread(f) for f in frame_files(out)]
    assert len(after) == 5 and all(np.array_equal(a, b) for a, b in zip(after, before))
    assert json.loads((out / "run.json").read_text())["status"] == "done"


def test_the_command_module_leaves_the_engine_function_in_place():
    """The tool lives in geometry.tools, so importing it never rebinds `geometry.geodesic` (the engine)."""
    import geometry
    import geometry.tools.geodesic as tool

    assert callable(geometry.geodesic) and not isinstance(geometry.geodesic, types.ModuleType)
    assert geometry.geodesic is api.geodesic and tool.main is geodesic_main


def test_the_largest_seed_runs(tmp_path, capsys, pair):
    # Its derived seeds once overflowed a generator (2 * seed + 2 = 2**64), reported as "your input is wrong".
    from geometry.engine.seeds import MAX_SEED

    status, err = run(capsys, *pair, *FAST, "--frames", "3", "--seed", MAX_SEED, "--no-progress",
                      "--out", tmp_path / "out")
    assert status == 0, err


def test_a_bug_in_the_run_layer_propagates_with_its_traceback(tmp_path, capsys, pair, monkeypatch):
    # Only an InputError is the user's: any other exception, a ValueError included, is the program's and keeps
    # its traceback rather than being printed as one line and exit code 2.
    from geometry.service import geodesic_run

    def broken(request):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(geodesic_run, "read_source", broken)
    with pytest.raises(ValueError, match="an internal invariant broke"):
        geodesic_main([str(p) for p in pair] + FAST + ["--out", str(tmp_path / "out")])
    assert "error:" not in capsys.readouterr().err


def test_verbose_shows_where_an_input_error_was_raised(tmp_path, capsys, pair):
    argv = [*pair, *FAST, "--frames", "3", "--video", pair[0], "--out", tmp_path / "out"]
    status, err = run(capsys, *argv)
    assert status == 2 and "Traceback" not in err
    assert err.strip().splitlines() == ["elpips-geodesic: error: give either two images or --video, not both"]
    status, err = run(capsys, "-v", *argv)
    assert status == 2 and "Traceback (most recent call last)" in err and "InputError" in err
    assert err.strip().splitlines()[-1] == "elpips-geodesic: error: give either two images or --video, not both"
