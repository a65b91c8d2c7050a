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


def test_a_frame_write_that_fails_is_one_error_and_leaves_no_frame(tmp_path):
    """A full disk (here the file size limit) while writing frames: the write's OSError, no second "Exception
    ignored in PluginV3.__del__" traceback from imageio, and no partial frame."""
    import resource
    import subprocess
    import sys

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.RLIM_INFINITY))

    script = ("import numpy as np\nfrom geometry.service.video import write_png_frames\n"
              "frames = np.random.default_rng(0).integers(0, 255, (1, 64, 64, 3), dtype=np.uint8)\n"
              f"write_png_frames({str(tmp_path)!r}, frames)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=small_files)
    assert done.returncode != 0 and "File too large" in done.stderr
    assert "Exception ignored" not in done.stderr
    assert list(tmp_path.iterdir()) == []


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
