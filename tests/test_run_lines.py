"""Issue 25 item 5: a run's refusals are one line that names the setting and what works (the smallest --size, the
most --frames that fit, the settings a --resume changed), before any network is loaded."""

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import elpips
from elpips.errors import InputError
from elpips.memory import parse_bytes
from geometry.engine.distances import DistanceFamily
from geometry.engine.memory import run_memory
from geometry.tools import geodesic

QUICK = ["--distance", "l2", "--motion", "none", "--steps", "2", "--frames", "3", "--no-progress"]


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(2)
    paths = [tmp_path / f"{name}.png" for name in ("a", "b")]
    for path in paths:
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
    return [str(p) for p in paths]


@pytest.fixture
def no_network(monkeypatch):
    import geometry.engine.distances

    def refuse(*args, **kwargs):
        raise AssertionError("a network was loaded before the check")

    monkeypatch.setattr(geometry.engine.distances, "load_cached", refuse)


def _line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_size_below_the_metrics_smallest_names_the_smallest_at_once(pair, tmp_path, capsys, no_network):
    out = tmp_path / "out"
    assert geodesic.main([*pair, "--size", "7", "--refine", "pixels", "--steps", "2", "--frames", "3",
                          "--no-progress", "--out", str(out)]) == 2
    line = _line(capsys)
    assert "7x7 px" in line and "use --size 9 or more" in line and "--refine none" in line
    assert not out.exists()


def test_the_smallest_size_named_is_the_one_that_works():
    """9 px is what E-LPIPS measures with one scale level (the engine drops levels for small images); 8 px not."""
    family = DistanceFamily("elpips_vgg", torch.device("cpu"))
    assert family.smallest_side() == 9
    images = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(0))
    metric = family.at_size((9, 9))
    assert metric(images[:1], images[1:]).item() > 0
    with pytest.raises(InputError, match="use --size 9 or more"):
        family.check_size((8, 9))
    assert elpips.load_metric("lpips_vgg", device="cpu").min_image_size == \
        DistanceFamily("lpips_vgg", torch.device("cpu")).smallest_side()


def test_too_many_frames_names_the_most_that_fit(pair, tmp_path, capsys, no_network):
    limit = "2GB"
    assert geodesic.main([*pair, "--size", "64", "--frames", "10000", "--refine", "pixels", "--max-memory", limit,
                          "--no-progress", "--out", str(tmp_path / "out")]) == 2
    line = _line(capsys)
    fits = int(re.search(r"use --frames (\d+) or fewer", line).group(1))
    needed = [run_memory("geodesic", "elpips_vgg", n, n - 2, (64, 64)) for n in (fits, fits + 1)]
    assert needed[0] <= parse_bytes(limit) < needed[1]
    assert not (tmp_path / "out").exists()


def test_resume_with_changed_settings_names_them(pair, tmp_path, capsys):
    out = tmp_path / "out"
    assert geodesic.main([*pair, *QUICK, "--size", "32", "--out", str(out)]) == 0
    before = {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(tmp_path).rglob("*")) if p.is_file()}
    capsys.readouterr()
    assert geodesic.main([*pair, *QUICK, "--size", "24", "--seed", "3", "--out", str(out), "--resume"]) == 2
    line = _line(capsys)
    assert "--size was 32, now 24" in line and "--seed was 0, now 3" in line and "use the same" in line
    assert before == {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(tmp_path.rglob("*")) if p.is_file()}


def test_a_flow_search_stopped_early_is_a_run_to_resume(pair, tmp_path, capsys):
    """Issue 25 item 6: after Ctrl-C in the flow stage only the flow file is there; the interrupt handler's test
    (`FolderLayout.resumable`) says --resume, and a new run without it is refused as unfinished instead of starting
    over."""
    from geometry.paths.motion import flow_store
    from geometry.service.run_folder import FolderLayout

    out = tmp_path / "out"
    layout = FolderLayout(out)
    store = flow_store(layout.checkpoint(), torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4), "warp")
    assert Path(store.path) == layout.flow()
    out.mkdir()
    store.save(0, torch.zeros(1, 2, 4, 4))
    assert layout.resumable()
    before = hashlib.md5(Path(store.path).read_bytes()).hexdigest()
    assert geodesic.main([*pair, *QUICK, "--size", "32", "--out", str(out)]) == 2
    line = _line(capsys)
    assert "holds an unfinished run: pass --resume" in line
    assert hashlib.md5(Path(store.path).read_bytes()).hexdigest() == before


#: Writes 4 frames into argv[1] on a disk with argv[2] bytes free: every binary file opened for writing there is a
#: real file whose writes past the free bytes write what fits, then fail with ENOSPC, as the kernel's do (a buffered
#: writer then fails again on close, with what it still holds: what made imageio's plugin leak a traceback).
FULL_DISK = """
import builtins, errno, io, os, sys
import numpy as np

FOLDER, free = sys.argv[1], [int(sys.argv[2])]


class FullDisk(io.FileIO):
    def write(self, data):
        if free[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        taken = super().write(bytes(data)[:free[0]])
        free[0] -= taken
        return taken


real_open = io.open


def open_on_full_disk(file, mode="r", *args, **kwargs):
    if "w" in mode and "b" in mode and os.path.abspath(os.fspath(file)).startswith(FOLDER):
        return io.BufferedWriter(FullDisk(file, "w"))
    return real_open(file, mode, *args, **kwargs)


builtins.open = io.open = open_on_full_disk
from geometry.service.video import write_png_frames

write_png_frames(FOLDER, np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8))
"""


def test_a_full_disk_while_writing_frames_is_one_error_and_leaves_no_partial_frame(tmp_path):
    """The disk fills in the second frame (a 64 px noise PNG is about 12 KB; 20 KB are free): the write's ENOSPC
    naming the frame, no second "Exception ignored in PluginV3.__del__" traceback (imageio's plugin gave one when
    it wrote the file itself), the first frame whole and no partial second one."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path), "20000"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode != 0
    assert "No space left on device" in done.stderr and "frame_001.png" in done.stderr.strip().splitlines()[-1]
    assert "Exception ignored" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame_000.png"]
    assert elpips.load_image(tmp_path / "frame_000.png").shape == (1, 3, 64, 64)


def test_a_resume_does_not_count_its_own_kept_checkpoint_against_the_free_space(tmp_path, monkeypatch):
    """After a full disk the run's checkpoint is kept; freeing room for one more checkpoint is enough to resume."""
    import shutil

    from geometry.service.run_folder import RunFolder

    size = 10_000_000
    kept = tmp_path / "checkpoint.pt"
    kept.touch()
    os.truncate(kept, size)  # sparse: its size without the disk it would take
    free = type("Usage", (), {"free": int(1.5 * size)})()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: free)
    RunFolder(tmp_path, {}, True, [kept], size)  # room for the new checkpoint beside the kept one
    with pytest.raises(InputError, match="free some space"):
        RunFolder(tmp_path / "fresh", {}, False, [tmp_path / "fresh" / "checkpoint.pt"], size)


class _Said(Exception):
    """Stops a run once it has said its expected time."""


def test_a_long_run_of_two_images_names_the_frames_that_take_less(pair, tmp_path, no_network):
    # --frames 10000 whose memory fits (at 16 px with room given) runs for hours: it says so before the network
    # loads, and names the most frames the cost model expects to take no longer than its bound.
    from geometry.options import RunOptions
    from geometry.service import cost
    from geometry.service.geodesic_run import GeodesicRequest
    from geometry.service.runs import run_geodesic

    said = []

    def report(line):
        said.append(line)
        if line.startswith("expected about"):
            raise _Said

    options = RunOptions(size=16, refine="pixels", motion="none", seed=0)
    with pytest.raises(_Said):
        run_geodesic(GeodesicRequest(images=tuple(Path(p) for p in pair), frames=10000, output_size=16), options,
                     tmp_path / "out", max_memory=parse_bytes("100TB"), report=report)
    line = said[-1]
    hours = float(re.search(r"expected about ([\d.]+) h for 10000 frames with refine pixels", line).group(1))
    fewer = int(re.search(r"use --frames (\d+) \(about", line).group(1))
    assert hours > cost.LONG_RUN_SECONDS / 3600 and "--refine none (about" in line
    seconds = [cost.clip_cost("pixels", (16, 16), (16, 16), n, 1, clip=False).seconds for n in (fewer, fewer + 1)]
    assert seconds[0] <= cost.LONG_RUN_SECONDS < seconds[1]


def test_a_clips_forecast_counts_its_checks():
    # A clip's scene-cut check runs on every pair before the pairs start, in the first process (workers do not
    # share it), and auto's flow verdict on every pair; two images have no scene-cut check.
    from geometry.service import cost

    working, output = (256, 455), (480, 854)
    clip = {workers: cost.clip_cost("none", working, output, 3, 124, workers) for workers in (1, 2)}
    for workers, forecast in clip.items():
        pairs = cost.CLIP_SECONDS + forecast.pair_seconds * -(-124 // workers)
        assert forecast.seconds == pytest.approx(pairs + 124 * cost.CUT_CHECK_SECONDS)
    alone = cost.pair_seconds("none", working, output, 3) - cost.flow_seconds(working)
    assert alone > cost.VERDICT_SECONDS_PER_PIXEL * working[0] * working[1] > 0
    assert cost.clip_cost("none", working, output, 3, 1, clip=False).seconds == pytest.approx(
        cost.CLIP_SECONDS + clip[1].pair_seconds)
    assert "of scene-cut checks" in cost.forecast_line(clip[1], cost.clip_cost("pixels", working, output, 3, 124))


def test_a_clips_forecast_bounds_autos_texture_checks():
    # auto runs its texture checks only on the pairs the flow does not align: the forecast is the time where it aligns
    # every pair and says the most it can be, where it aligns none; a fixed motion has no texture checks.
    from geometry.service import cost

    working, output = (256, 455), (480, 854)
    for workers in (1, 2):
        auto = cost.clip_cost("none", working, output, 3, 124, workers)
        warp = cost.clip_cost("none", working, output, 3, 124, workers, motion="warp")
        assert auto.seconds == pytest.approx(warp.seconds) and warp.most_seconds == pytest.approx(warp.seconds)
        assert auto.most_seconds == pytest.approx(
            auto.seconds + cost.texture_check_seconds(working) * -(-124 // workers))
    line = cost.forecast_line(auto, cost.clip_cost("pixels", working, output, 3, 124, 2))
    assert f"up to {cost.describe(auto.most_seconds)} where the flow does not align the pairs" in line
    assert "up to" not in cost.forecast_line(warp, cost.clip_cost("pixels", working, output, 3, 124, 2, motion="warp"))


def test_no_expected_time_for_a_short_run_or_an_unmeasured_distance(pair, tmp_path):
    # The refinement's cost was measured for E-LPIPS on the CPU: under L2 the same long run says nothing.
    from geometry.options import RunOptions
    from geometry.service import cost
    from geometry.service.geodesic_run import GeodesicRequest
    from geometry.service.runs import run_geodesic

    assert cost.long_run_line("pixels", (16, 16), (16, 16), 3) is None
    assert cost.long_run_line("pixels", (16, 16), (16, 16), 2000) is not None
    said = []

    def stop(*args):
        raise _Said

    with pytest.raises(_Said):
        run_geodesic(GeodesicRequest(images=tuple(Path(p) for p in pair), frames=2000, output_size=16),
                     RunOptions(size=16, distance="l2", refine="pixels", motion="none", seed=0), tmp_path / "out",
                     max_memory=parse_bytes("100TB"), report=said.append, callback=stop)
    assert not [line for line in said if line.startswith("expected about")]


@pytest.mark.slow
def test_ctrl_c_in_the_flow_search_says_resume_and_the_resume_finishes_it(tmp_path):
    """Issue 25 item 6 with a real Ctrl-C: SIGINT to the tool once the flow search has saved its first level (its
    flow file appears; the finer levels of a 768 px search take seconds more) says --resume, not "nothing to
    resume", and the same command with --resume finishes it with the frames of a run never stopped."""
    import signal
    import subprocess
    import sys
    import time

    from geometry.service.run_folder import FolderLayout

    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 24, 26, generator=torch.Generator().manual_seed(4)),
                                             size=(768, 832), mode="bicubic", align_corners=False).clamp(0, 1)
    pair = [tmp_path / "a.png", tmp_path / "b.png"]
    for path, image in zip(pair, (smooth[..., :, :768], smooth[..., :, 64:])):
        Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)
    out, whole = tmp_path / "out", tmp_path / "whole"
    command = [sys.executable, "-m", "geometry.tools.geodesic", *map(str, pair), "--size", "768", "--frames", "3",
               "--motion", "warp", "--refine", "none", "--distance", "l2", "--formats", "sheet", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.Popen([*command, "--out", str(out)], stderr=subprocess.PIPE, text=True, env=env,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    saved = FolderLayout(out).flow()
    while not saved.is_file() and run.poll() is None:  # the event: the first level saved
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    said = run.communicate(timeout=300)[1]
    assert run.returncode == 130, said
    assert saved.is_file() and not (out / "frames").exists(), "the Ctrl-C landed outside the flow search"
    line = said.strip().splitlines()[-1]
    assert "--resume" in line and "nothing to resume" not in line, line
    resumed = subprocess.run([*command, "--out", str(out), "--resume"], capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert not saved.exists()
    assert subprocess.run([*command, "--out", str(whole)], capture_output=True, env=env).returncode == 0
    frames = sorted(p.name for p in (whole / "frames").iterdir())
    assert len(frames) == 3
    for name in frames:
        assert (out / "frames" / name).read_bytes() == (whole / "frames" / name).read_bytes()


def test_a_run_that_refines_nothing_is_not_refused_for_the_networks_memory():
    """A --refine none run optimises nothing and runs no network (the warp-only mode for clips): the memory check
    sized its refinement anyway and refused 768 px runs as needing tens of GB. Its render is checked on its own."""
    from elpips.memory import MemoryLimitError
    from geometry.options import RunOptions
    from geometry.service.memory_check import check_memory

    def check(refine: str) -> None:
        check_memory("geodesic", RunOptions(refine=refine, device="cpu"), 10, 8, (768, 768),
                     limit=parse_bytes("2GB"))

    with pytest.raises(MemoryLimitError, match="use --size"):
        check("pixels")
    check("none")
