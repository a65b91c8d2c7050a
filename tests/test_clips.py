"""In-between frames for real clips: the three input forms, every output form, timing, scene cuts, audio, resume.

The clips are generated: a disk moving 2 px per frame over 6 frames of 32 px (and, for the cut, a different
picture after the third frame). The runs use the L2 distance and a few steps, except where E-LPIPS is named.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import wave

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from geometry.service import clips, video
from geometry.tools.geodesic import main as geodesic_main

FAST = ["--distance", "l2", "--steps", "6", "--refine", "pixels", "--no-progress"]
SIZE, COUNT, FPS = 32, 6, 4.0


def disk_frames(count: int = COUNT, size: int = SIZE, step: int = 2) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    frames = np.full((count, size, size, 3), (40, 60, 90), np.uint8)
    for t in range(count):
        inside = (yy - size / 2) ** 2 + (xx - 8 - step * t) ** 2 < 6 ** 2
        frames[t][inside] = (230, 200, 60)
    return frames


def cut_frames() -> np.ndarray:
    """Three frames of the disk, then three of a striped picture: one scene cut, between frames 2 and 3."""
    frames = disk_frames()
    stripes = np.zeros((SIZE, SIZE, 3), np.uint8)
    stripes[:, ::4] = (250, 250, 250)
    stripes[..., 0] = 200
    frames[3:] = stripes
    return frames


def write_tone(path, seconds: float, rate: int = 8000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def run(capsys, *argv):
    status = geodesic_main([str(a) for a in argv])
    return status, capsys.readouterr().err


def pngs(out):
    return np.stack([iio.imread(f)[..., :3] for f in sorted((out / "frames").glob("frame_*.png"))])


def animation_frames(path):
    with Image.open(path) as image:
        return image.n_frames, [image.info.get("duration")] if image.n_frames == 1 else _durations(image)


def _durations(image):
    durations = []
    for index in range(image.n_frames):
        image.seek(index)
        image.load()  # WebP sets a frame's duration when it is decoded
        durations.append(image.info.get("duration"))
    return durations


@pytest.fixture
def clip_forms(tmp_path):
    """The same 6-frame clip as a video file, a folder of PNG frames and a folder of JPEG frames."""
    frames = disk_frames()
    mp4 = video.write_mp4(tmp_path / "disk.mp4", frames, fps=FPS, crf=0)
    png_folder, jpeg_folder = tmp_path / "png", tmp_path / "jpeg"
    for folder, suffix in ((png_folder, "png"), (jpeg_folder, "jpg")):
        folder.mkdir()
        for t, frame in enumerate(frames):
            iio.imwrite(folder / f"f{t}.{suffix}", frame)  # f10 would sort after f9: numeric order is tested below
    return {"video": ["--video", mp4], "png folder": ["--video", png_folder, "--input-fps", FPS],
            "jpeg folder": ["--video", jpeg_folder, "--input-fps", FPS]}


@pytest.mark.parametrize("form", ["video", "png folder", "jpeg folder"])
def test_every_input_form_gives_every_output_form(tmp_path, capsys, clip_forms, form):
    out = tmp_path / "out"
    status, err = run(capsys, *clip_forms[form], "--insert", "1", *FAST, "--formats", "mp4,gif,webp,apng,sheet",
                      "--out", out)
    assert status == 0, err
    expected = (COUNT - 1) * 2 + 1
    frames = pngs(out)
    assert frames.shape == (expected, SIZE, SIZE, 3)
    movie = video.read_video(out / "geodesic.mp4")
    assert movie.frames.shape == frames.shape and movie.fps == pytest.approx(FPS * 2)
    for name in ("geodesic.gif", "geodesic.webp", "geodesic.apng"):
        count, durations = animation_frames(out / name)
        assert count == expected, name
        step = 10 if name.endswith(".gif") else 1  # GIF stores hundredths of a second
        assert all(d == pytest.approx(1000 / (FPS * 2), abs=step) for d in durations), (name, durations)
    assert (out / "contact_sheet.png").is_file()
    assert f"{expected} frames at 8 fps, 32x32 px" in err


def test_two_images_take_insert_like_frames(tmp_path, capsys):
    frames = disk_frames()
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    iio.imwrite(a, frames[0])
    iio.imwrite(b, frames[3])
    status, err = run(capsys, a, b, "--insert", "2", *FAST, "--formats", "webp", "--out", tmp_path / "out")
    assert status == 0, err
    assert len(pngs(tmp_path / "out")) == 4
    assert animation_frames(tmp_path / "out" / "geodesic.webp")[0] == 4
    assert not (tmp_path / "out" / "geodesic.mp4").exists(), "only the formats asked for"


def test_frame_folder_is_read_in_numeric_order(tmp_path):
    frames = disk_frames(count=12)
    for t, frame in enumerate(frames):
        iio.imwrite(tmp_path / f"frame_{t}.png", frame)
    clip = clips.read_clip(tmp_path, fps=24)
    assert [p.name for p in clip.sources][9:11] == ["frame_9.png", "frame_10.png"]
    assert np.array_equal(clip.frames, frames) and clip.fps == 24 and clip.audio is None


@pytest.mark.parametrize("insert", [1, 2, 3])
def test_insert_k_frame_count_and_timing(tmp_path, capsys, clip_forms, insert):
    out = tmp_path / "out"
    status, err = run(capsys, *clip_forms["png folder"], "--insert", insert, *FAST, "--out", out)
    assert status == 0, err
    expected = (COUNT - 1) * (insert + 1) + 1
    movie = video.read_video(out / "geodesic.mp4")
    assert len(movie.frames) == expected and movie.fps == pytest.approx(FPS * (insert + 1))
    frames = pngs(out)
    assert np.array_equal(frames[::insert + 1], disk_frames()), "the clip's own frames at their own times"
    record = json.loads((out / "record.json").read_text())
    assert record["frames"] == expected and record["fps"] == pytest.approx(FPS * (insert + 1))
    # same duration up to the last frame's own display time: (T - 1) input frame intervals
    assert (expected - 1) / record["fps"] == pytest.approx((COUNT - 1) / FPS)


def test_to_fps_samples_each_pairs_geodesic_at_the_target_times(tmp_path, capsys, clip_forms):
    out = tmp_path / "out"
    status, err = run(capsys, *clip_forms["png folder"], "--to-fps", 10, *FAST, "--out", out)
    assert status == 0, err
    plan = clips.rate_plan(COUNT, FPS, 10)
    assert plan.grid == 5 and plan.max_error == 0  # 10 / 4 = 5 / 2: output frames every 2/5 of an input frame
    expected = int((COUNT - 1) * 10 / FPS) + 1
    movie = video.read_video(out / "geodesic.mp4")
    assert len(movie.frames) == expected == len(plan.positions) and movie.fps == pytest.approx(10)
    frames = pngs(out)
    originals = disk_frames()
    for n in range(0, expected, 5):  # every 5th output frame is at a whole input frame (n * 0.4 = 0, 2, 4)
        assert np.array_equal(frames[n], originals[n * 2 // 5])
    record = json.loads((out / "record.json").read_text())
    assert record["timing"]["grid"] == 5 and len(record["pairs"][0]["energies"]) > 0


def test_rate_plans_exact_rounded_and_slower():
    exact = clips.rate_plan(10, 24, 60)
    assert exact.grid == 5 and exact.max_error == 0
    assert [exact.positions[n] for n in range(6)] == [(0, 0), (0, 2), (0, 4), (1, 1), (1, 3), (2, 0)]
    assert len(exact.positions) == 9 * 60 // 24 + 1
    drifting = clips.rate_plan(300, 30000 / 1001, 60)
    assert drifting.grid <= 8 and 0 < drifting.max_error <= (30000 / 1001) / 60 / 4 + 1e-9
    slower = clips.rate_plan(9, 30, 24)  # fewer frames: times 0, 1.25, 2.5, ...
    assert slower.grid == 4 and slower.positions[:3] == ((0, 0), (1, 1), (2, 2))
    assert slower.steps_shown(0) == () and slower.steps_shown(1) == (1,)
    doubled = clips.insert_plan(4, 10, 1)
    assert clips.rate_plan(4, 10, 20).positions == doubled.positions and doubled.fps == 20


def test_a_scene_cut_is_held_not_morphed_and_reported(tmp_path, capsys):
    clip_path = video.write_mp4(tmp_path / "cut.mp4", cut_frames(), fps=FPS, crf=0)
    out = tmp_path / "out"
    status, err = run(capsys, "--video", clip_path, "--insert", "2", *FAST, "--out", out)
    assert status == 0, err
    record = json.loads((out / "record.json").read_text())
    assert record["cuts"] == [2] and len(record["pair_distances"]) == COUNT - 1
    assert record["pair_distances"][2] >= record["cut_threshold"] > max(np.delete(record["pair_distances"], 2))
    assert record["pairs"][2]["status"] == "cut" and record["pairs"][1]["status"] == "completed"
    frames = pngs(out)
    assert np.array_equal(frames[7], frames[6]) and np.array_equal(frames[8], frames[6]), "held on the first frame"
    assert not np.array_equal(frames[4], frames[3]), "the other pairs are morphed"
    assert "scene cut" in err and "pairs 2" in err and "0.0" in err

    status, err = run(capsys, "--video", clip_path, "--insert", "2", *FAST, "--cut-threshold", "inf",
                      "--out", tmp_path / "morphed")
    assert status == 0, err
    assert json.loads((tmp_path / "morphed" / "record.json").read_text())["cuts"] == []
    assert not np.array_equal(pngs(tmp_path / "morphed")[7], frames[6])


def test_consecutive_distances_under_l2_are_the_mean_squared_differences():
    frames = cut_frames()
    distances = clips.consecutive_distances(frames, "l2", "cpu")
    expected = [((frames[t + 1] / 255.0 - frames[t] / 255.0) ** 2).mean() for t in range(COUNT - 1)]
    assert distances == pytest.approx(expected, rel=1e-5)


def test_the_elpips_check_finds_the_cut_and_not_the_moving_disk_the_same_every_time():
    # E-LPIPS's scene-cut check runs its network on the frames as they are (no random draw): the disk moving 2 px a
    # frame stays below the default threshold, the change of picture is above it, and no seed changes a distance.
    frames = cut_frames()
    distances = clips.consecutive_distances(frames, "elpips_vgg", "cpu")
    threshold = clips.cut_threshold("elpips_vgg", None)
    assert [i for i, d in enumerate(distances) if d >= threshold] == [2], distances
    assert clips.consecutive_distances(frames, "elpips_vgg", "cpu", seed=7) == distances


def test_audio_is_copied_when_the_timing_is_kept_and_dropped_otherwise(tmp_path, capsys):
    tone = tmp_path / "tone.wav"
    write_tone(tone, COUNT / FPS)
    clip_path = video.write_mp4(tmp_path / "clip.mp4", disk_frames(), fps=FPS, audio=tone)
    assert video.has_audio(clip_path) and not video.has_audio(video.write_mp4(tmp_path / "mute.mp4",
                                                                             disk_frames(), fps=FPS))
    status, err = run(capsys, "--video", clip_path, "--insert", "1", *FAST, "--out", tmp_path / "kept")
    assert status == 0, err
    assert video.has_audio(tmp_path / "kept" / "geodesic.mp4") and "audio copied" in err
    assert json.loads((tmp_path / "kept" / "record.json").read_text())["audio"] == "copied"

    status, err = run(capsys, "--video", clip_path, "--insert", "1", "--fps", "4", *FAST, "--out", tmp_path / "slow")
    assert status == 0, err
    assert not video.has_audio(tmp_path / "slow" / "geodesic.mp4")
    assert "audio dropped: --fps 4 changes the timing" in err
    assert video.read_video(tmp_path / "slow" / "geodesic.mp4").fps == pytest.approx(4)


def test_montage_sets_input_dissolve_and_geodesic_side_by_side(tmp_path, capsys, clip_forms):
    out = tmp_path / "out"
    status, err = run(capsys, *clip_forms["png folder"], "--insert", "1", *FAST, "--montage", "--formats", "mp4",
                      "--out", out)
    assert status == 0, err
    montage = video.read_video(out / "montage.mp4").frames
    assert len(montage) == 11 and montage.shape[2] >= 3 * SIZE
    originals = disk_frames()
    held, dissolve = clips.montage_columns(clips.insert_plan(COUNT, FPS, 1),
                                           lambda i: video_to_tensor(originals[i]))
    assert np.array_equal(held[1], originals[0]) and np.array_equal(held[2], originals[1])
    middle = (originals[0].astype(float) + originals[1]) / 2
    assert np.abs(dissolve[1] - middle).max() <= 1


def video_to_tensor(frame):
    import torch

    return torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255


def test_the_output_is_at_the_clips_own_size_whatever_the_working_size_and_said(tmp_path, capsys, clip_forms):
    out = tmp_path / "out"
    status, err = run(capsys, *clip_forms["video"], "--insert", "1", *FAST, "--size", "16", "--out", out)
    assert status == 0, err
    assert pngs(out).shape[1:3] == disk_frames().shape[1:3] == (32, 32)
    record = json.loads((out / "record.json").read_text())
    assert record["output_size"] == [32, 32] and record["working_size"] == [16, 16]
    assert record["optimised_at"] == [[16, 16]]
    assert "32x32 px (motion found at 16x16, optimised at 16x16)" in err
    small = tmp_path / "small"
    status, err = run(capsys, *clip_forms["video"], "--insert", "1", *FAST, "--size", "16", "--output-size", "16",
                      "--out", small)
    assert status == 0 and pngs(small).shape[1:3] == (16, 16)


#: The tool, announcing on stdout the first time a pair is finished (its frames and record written) and then
#: waiting there: the test kills it at that point, whatever the machine's speed (no clock involved).
_STOP_AFTER_A_PAIR = """
import sys, threading
from geometry.service.geodesic_run import GeodesicRunner
from geometry.tools.geodesic import main
run_pair = GeodesicRunner.run_pair
def run_pair_then_wait(self, index, *args, **kwargs):
    stopped = run_pair(self, index, *args, **kwargs)
    if stopped is None:
        print("a pair is finished", flush=True)
        threading.Event().wait()
    return stopped
GeodesicRunner.run_pair = run_pair_then_wait
sys.exit(main(sys.argv[1:]))
"""


def test_resume_after_a_kill_between_pairs(tmp_path, capsys, clip_forms):
    """A run killed (SIGKILL) after its first pair continues with the next pair and ends as an uninterrupted one."""
    argv = [*map(str, clip_forms["png folder"]), "--insert", "1", "--distance", "l2", "--steps", "12",
            "--checkpoint-every", "1000", "--no-progress"]
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", _STOP_AFTER_A_PAIR, *argv, "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    announced = process.stdout.readline()  # returns at the announcement, or at the end of a run that never made one
    process.send_signal(signal.SIGKILL)
    _, err = process.communicate()
    assert announced == "a pair is finished\n", err
    assert process.returncode == -signal.SIGKILL
    state = _read_json(out / "run.json")
    done = {path.name for path in (out / "pairs").glob("pair_*.json")}  # each finished pair's record
    assert state["status"] == "running" and "pair_0000.json" in done and len(done) < COUNT - 1
    stamp = (out / "frames" / "frame_001.png").stat().st_mtime_ns

    status, err = run(capsys, *argv, "--out", out, "--resume")
    assert status == 0, err
    assert (out / "frames" / "frame_001.png").stat().st_mtime_ns == stamp, "the finished pair is not redone"
    status, err = run(capsys, *argv, "--out", tmp_path / "straight")
    assert status == 0, err
    assert np.array_equal(pngs(out), pngs(tmp_path / "straight"))
    assert _read_json(out / "run.json")["status"] == "done"


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@pytest.mark.slow
def test_elpips_finds_the_cut_at_32_px(tmp_path, capsys):
    clip_path = video.write_mp4(tmp_path / "cut.mp4", cut_frames(), fps=FPS, crf=0)
    out = tmp_path / "out"
    status, err = run(capsys, "--video", clip_path, "--insert", "1", "--distance", "elpips_vgg", "--steps", "2",
                      "--device", "cpu", "--no-progress", "--out", out)
    assert status == 0, err
    record = json.loads((out / "record.json").read_text())
    assert record["cuts"] == [2], record["pair_distances"]
    assert record["pairs"][0]["settings"]["distance"] == "elpips_vgg"


def test_a_job_file_runs_a_batch_of_clips_and_skips_them_once_done(tmp_path, capsys):
    from geometry.tools import batch

    frames = disk_frames()
    video.write_mp4(tmp_path / "disk.mp4", frames, fps=FPS, crf=0)
    (tmp_path / "shots" / "a").mkdir(parents=True)
    for t, frame in enumerate(frames):
        iio.imwrite(tmp_path / "shots" / "a" / f"{t}.png", frame)
    job_file = tmp_path / "jobs.toml"
    job_file.write_text(
        '[settings]\ndistance = "l2"\nsteps = 6\n'
        '[[jobs]]\nname = "video"\nkind = "clip"\ninputs = ["disk.mp4"]\noutput = "out/video"\n'
        'settings = { insert = 2, formats = ["mp4", "apng"], montage = true }\n'
        '[[jobs]]\nname = "folder"\nkind = "clip"\ninputs = ["shots/a"]\noutput = "out/folder"\n'
        'settings = { to_fps = 8, input_fps = 4 }\n'
        '[[jobs]]\nname = "bad"\nkind = "clip"\ninputs = ["shots/a"]\noutput = "out/bad"\n'
        'settings = { insert = 1, to_fps = 8, formats = ["avi"] }\n')
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "job 'bad' is invalid" in err and "insert" in err and "avi" in err
    entries = {e["name"]: e for e in json.loads(batch.default_manifest_path(job_file).read_text())["jobs"]}
    assert entries["video"]["status"] == entries["folder"]["status"] == "done"
    assert {"geodesic.mp4", "geodesic.apng", "montage.mp4", "record.json"} <= set(entries["video"]["outputs"])
    assert len(pngs(tmp_path / "out" / "video")) == (COUNT - 1) * 3 + 1
    assert video.read_video(tmp_path / "out" / "folder" / "geodesic.mp4").fps == pytest.approx(8)
    assert entries["folder"]["record"]["frames"] == (COUNT - 1) * 2 + 1

    stamp = (tmp_path / "out" / "video" / "geodesic.mp4").stat().st_mtime_ns
    (tmp_path / "out" / "folder" / "geodesic.mp4").unlink()
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 1
    entries = {e["name"]: e for e in json.loads(batch.default_manifest_path(job_file).read_text())["jobs"]}
    assert entries["video"]["status"] == "skipped" and entries["folder"]["status"] == "done"
    assert (tmp_path / "out" / "video" / "geodesic.mp4").stat().st_mtime_ns == stamp
    assert (tmp_path / "out" / "folder" / "geodesic.mp4").is_file()


def test_a_clip_job_takes_exactly_the_requests_clip_fields_and_the_run_options():
    from geometry.options import OPTION_NAMES
    from geometry.service import jobs
    from geometry.service.geodesic_run import CLIP_SETTINGS, GeodesicRequest

    request_fields = set(GeodesicRequest.__dataclass_fields__)
    assert set(CLIP_SETTINGS) <= request_fields
    clip = jobs.SETTINGS["clip"]
    assert set(CLIP_SETTINGS) <= clip and clip - set(CLIP_SETTINGS) <= set(OPTION_NAMES) | {"max_memory", "overwrite"}
