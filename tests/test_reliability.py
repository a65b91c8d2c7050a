"""Failing before the work and losing nothing: unwritable outputs, failed writes, runs too large for the
memory, and the command-line messages that replace tracebacks.

The tools run in-process with the L2 distance (fast); a few run as subprocesses where a
process limit (ulimit -f) or a signal is the point.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import elpips
from elpips import cli
from elpips.io import writable_folder_problem
from elpips.memory import MemoryLimitError, format_bytes, parse_bytes
from geometry.engine import memory

REPO = Path(__file__).resolve().parents[1]
from geometry.tools.average import main as average_main  # noqa: E402
from geometry.tools.geodesic import main as geodesic_main  # noqa: E402

FAST = ["--distance", "l2", "--size", "32", "--steps", "6", "--no-progress"]


@pytest.fixture
def pair(data_dir):
    return data_dir / "small" / "cat64.png", data_dir / "small" / "dog64.png"


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if a tool loads a distance (the checks must come before)."""
    import geometry.engine.distances

    def refuse(*args, **kwargs):
        raise AssertionError("a distance was loaded before the check")

    monkeypatch.setattr(geometry.engine.distances, "load_cached", refuse)


def run(capsys, main, *argv):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------------------------------ 1. outputs


def test_an_unwritable_out_is_refused_before_any_network_is_loaded(tmp_path, capsys, pair, no_network):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status, err = run(capsys, geodesic_main, *pair, *FAST, "--out", blocker / "out")
    assert status == 2 and "a-file is a file, not a folder" in one_line(err) and "--out" in err


def test_a_read_only_folder_is_found_by_writing_not_by_permission_bits(tmp_path, monkeypatch):
    import tempfile

    assert writable_folder_problem(tmp_path / "new" / "deeper") is None  # its nearest existing parent is tried
    assert not (tmp_path / "new").exists()  # and nothing is created

    def read_only(*args, **kwargs):  # what a read-only mount answers, for root too
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    problem = writable_folder_problem(tmp_path / "out")
    assert problem == f"{tmp_path} is not writable (Read-only file system, errno 30 EROFS)"


def test_a_file_size_limit_too_small_for_the_checkpoint_is_refused_up_front(tmp_path, pair):
    """The issue's `prlimit --fsize=20000`: a checkpoint cannot be written, so nothing is started."""
    out = tmp_path / "X"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "geometry.tools.geodesic", *map(str, pair), "--frames", "3", "--size", "64",
         "--steps", "2", "--distance", "l2", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.RLIM_INFINITY)))
    assert done.returncode == 2, done.stderr
    assert "file size limit (ulimit -f) is 20000 bytes" in one_line(done.stderr)
    assert not out.exists() and time.perf_counter() - started < 120


class DiskFull:
    """Path.write_bytes failing with ENOSPC for checkpoint files from the `after`-th write on."""

    def __init__(self, monkeypatch, after: int):
        self.writes = 0
        self.after = after
        real = Path.write_bytes

        def write_bytes(path, data):
            if path.suffix == ".pt":
                self.writes += 1
                if self.writes >= self.after:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return real(path, data)

        monkeypatch.setattr(Path, "write_bytes", write_bytes)


def test_a_failed_checkpoint_write_keeps_the_last_one_says_why_and_resumes_to_the_same_frames(
        tmp_path, capsys, pair, monkeypatch):
    reference = tmp_path / "reference"
    assert run(capsys, geodesic_main, *pair, *FAST, "--frames", "4", "--out", reference)[0] == 0

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        DiskFull(patch, after=3)  # checkpoints after steps 1 and 2 are written, the one after step 3 fails
        status, err = run(capsys, geodesic_main, *pair, *FAST, "--frames", "4", "--checkpoint-every", "1",
                          "--out", out)
    line = one_line(err)
    assert status == 1
    assert f"cannot write the checkpoint {out / 'checkpoint.pt'}" in line
    assert "No space left on device, errno 28 ENOSPC" in line
    assert "the last checkpoint (step 2) is kept" in line and "--resume" in line
    assert "RuntimeError" not in line and "inline_container" not in line
    assert out.is_dir() and (out / "checkpoint.pt").is_file()  # the folder and the good checkpoint stay
    assert not list(out.glob(".*.tmp*"))  # no half-written temporary

    status, err = run(capsys, geodesic_main, *pair, *FAST, "--frames", "4", "--checkpoint-every", "1",
                      "--out", out, "--resume")
    assert status == 0, err
    for frame in sorted((reference / "frames").glob("*.png")):
        assert (out / "frames" / frame.name).read_bytes() == frame.read_bytes()


def test_a_failed_frame_write_keeps_the_checkpoint_and_resume_writes_the_rest(tmp_path, capsys, pair):
    out = tmp_path / "out"
    out.mkdir()
    (out / "frames").write_text("in the way")  # writing the frames fails after the optimisation
    status, err = run(capsys, geodesic_main, *pair, *FAST, "--frames", "4", "--out", out)
    line = one_line(err)
    assert status == 1 and str(out / "frames") in line and "errno" in line and "--resume" in line
    assert (out / "checkpoint.pt").is_file()  # the finished optimisation is kept

    (out / "frames").unlink()
    status, err = run(capsys, geodesic_main, *pair, *FAST, "--frames", "4", "--out", out, "--resume")
    assert status == 0, err
    assert len(list((out / "frames").glob("*.png"))) == 4 and (out / "geodesic.mp4").is_file()


def test_a_video_cut_short_by_the_file_size_limit_is_an_error_not_a_truncated_file(tmp_path):
    code = ("import resource, sys, numpy as np; from geometry.service import video; "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (3000, resource.RLIM_INFINITY)); "
            "frames = np.random.default_rng(0).integers(0, 255, (10, 64, 64, 3), dtype=np.uint8)\n"
            "for write in (video.write_mp4, video.write_gif):\n"
            "    try: write(sys.argv[1] + write.__name__, frames, fps=10); print('written')\n"
            "    except OSError as error: print(error.errno, error.filename)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "v.")], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.stdout.split("\n")[:2] == [f"{errno.EFBIG} {tmp_path / 'v.write_mp4'}",
                                           f"{errno.EFBIG} {tmp_path / 'v.write_gif'}"], done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == [] and "Exception ignored" not in done.stderr


def test_engine_checkpoint_failures_are_os_errors_with_the_path(tmp_path, monkeypatch, pair):
    from geometry import api
    from geometry.engine.optimize import CheckpointWriteError

    DiskFull(monkeypatch, after=1)
    checkpoint = tmp_path / "c.pt"
    with pytest.raises(CheckpointWriteError) as error:
        api.geodesic(*pair, frames=3, distance="l2", size=16, steps=3, checkpoint=checkpoint, checkpoint_every=1)
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(checkpoint)
    assert error.value.saved_step is None and not checkpoint.exists()
    # the final checkpoint of a completed run may fail: the result it would protect is returned
    result = api.geodesic(*pair, frames=3, distance="l2", size=16, steps=3, checkpoint=checkpoint)
    assert result.record.status == "completed" and not checkpoint.exists()


# ------------------------------------------------------------------------------------------ 2. memory


@pytest.mark.parametrize("size", ["100000", "3000"])
def test_a_run_too_large_for_the_memory_is_refused_before_it_starts(tmp_path, capsys, pair, no_network, size):
    out = tmp_path / "out"
    status, err = run(capsys, geodesic_main, *pair, "--size", size, "--max-memory", "4GB", "--out", out)
    line = one_line(err)
    assert status == 2 and "needs about" in line and "more than the --max-memory limit of 4 GB" in line
    fits = int(line.split("use --size ")[1].split()[0])
    assert 16 <= fits < 3000 and "--max-memory" in line
    assert memory.run_memory("geodesic", "elpips_vgg", 10, 8, (fits, fits)) <= 4e9
    assert memory.run_memory("geodesic", "elpips_vgg", 10, 8, (fits + 1, fits + 1)) > 4e9
    assert not out.exists()


def test_the_limit_defaults_to_the_available_memory(tmp_path, capsys, pair, no_network, monkeypatch):
    import elpips.memory

    monkeypatch.setattr(elpips.memory, "available_bytes", lambda device: 2 * 10**9)
    status, err = run(capsys, average_main, *pair, "--size", "2000", "--out", tmp_path / "out")
    assert status == 2 and "more than the 2 GB available on cpu" in one_line(err)


def test_memory_estimates_grow_with_what_a_step_keeps():
    one = memory.run_memory("barycenter", "elpips_vgg", 3, 1, (256, 256))
    assert memory.run_memory("geodesic", "elpips_vgg", 10, 8, (256, 256)) > 4 * one  # 10 frames x 4 draws
    assert memory.run_memory("barycenter", "elpips_vgg", 3, 1, (512, 512)) > 3.5 * one  # 4x the pixels
    assert memory.run_memory("barycenter", "l2", 3, 1, (256, 256)) < one / 50


def test_elpips_distance_refuses_images_too_large_and_names_a_size_that_fits(capsys, tmp_path):
    large = tmp_path / "large.png"
    elpips.save_image(large, torch.rand(3, 512, 512, generator=torch.Generator().manual_seed(0)))
    status = cli.main(["distance", str(large), str(large), "--max-memory", "1GB", "--device", "cpu"])
    line = one_line(capsys.readouterr().err)
    assert status == cli.EXIT_USAGE and "needs about" in line and "--max-memory limit of 1 GB" in line
    side = int(line.split("downscale the images to ")[1].split()[0])
    metric = elpips.load_metric("elpips_vgg")
    assert metric.pass_memory(2, side, side, 10) <= 1e9 < metric.pass_memory(2, side + 1, side + 1, 10)


def test_estimates_report_progress_per_network_pass(metric_elpips, small_images):
    seen = []
    estimate = elpips.estimate(metric_elpips, *small_images, samples=20, generator=torch.Generator().manual_seed(0),
                               progress=seen.append)
    assert sum(seen) == 20 == estimate.samples and len(seen) >= 1
    seen.clear()
    adaptive = elpips.estimate_adaptive(metric_elpips, *small_images, max_samples=30, max_error=1e-9,
                                        generator=torch.Generator().manual_seed(0), progress=seen.append)
    assert sum(seen) == adaptive.samples == 30


def test_memory_sizes_parse_and_print():
    assert parse_bytes("12GB") == 12 * 10**9 and parse_bytes("2GiB") == 2**31 and parse_bytes("500m") == 5 * 10**8
    with pytest.raises(ValueError, match="12GB or 500MB"):
        parse_bytes("lots")
    assert format_bytes(1.5e9) == "1.5 GB" and format_bytes(2.5e12) == "2,500 GB" and format_bytes(999) == "999 bytes"
    assert issubclass(MemoryLimitError, ValueError)


def test_batch_jobs_are_checked_for_output_seed_and_memory_before_their_network_loads(tmp_path, data_dir, capsys,
                                                                                   monkeypatch):
    import shutil

    from geometry.engine import distances
    from geometry.tools import batch

    for name in ("cat64.png", "dog64.png"):
        shutil.copy(data_dir / "small" / name, tmp_path / name)
    (tmp_path / "a-file").write_text("")
    job_file = tmp_path / "jobs.toml"
    job_file.write_text("""[settings]
distance = "elpips_vgg"
steps = 2

[[jobs]]
name = "unwritable"
kind = "average"
inputs = ["cat64.png", "dog64.png"]
output = "a-file/out"

[[jobs]]
name = "seed"
kind = "average"
inputs = ["cat64.png", "dog64.png"]
output = "out/seed"
settings = { seed = 99999999999999999999, max_memory = "lots" }

[[jobs]]
name = "huge"
kind = "geodesic"
inputs = ["cat64.png", "dog64.png"]
output = "out/huge"
settings = { size = 3000, max_memory = "4GB" }
""")

    def refuse(*args, **kwargs):
        raise AssertionError("a network was loaded before the memory check")

    monkeypatch.setattr(distances, "load_cached", refuse)
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 1
    err = capsys.readouterr().err
    entries = {e["name"]: e for e in json.loads(batch.default_manifest_path(job_file).read_text())["jobs"]}
    assert "a-file is a file, not a folder" in entries["unwritable"]["error"]
    assert "seed = 99999999999999999999: must be an integer from 0 to" in entries["seed"]["error"]
    assert "max_memory = 'lots'" in entries["seed"]["error"]
    huge = entries["huge"]["error"]
    assert "needs about" in huge and "the max_memory limit of 4 GB" in huge and "use size = " in huge, huge
    assert "Traceback" not in err


def test_the_app_refuses_a_run_too_large_for_the_memory_before_measuring_it(tmp_path, pair, monkeypatch):
    import gradio as gr

    import elpips.memory

    from app import runs
    from app.tasks import DeviceSlot

    monkeypatch.setattr(elpips.memory, "available_bytes", lambda device: 8 * 10**9)
    ctx = runs.AppContext(tmp_path, torch.device("cpu"), DeviceSlot("cpu"))
    refusal = r"needs about .* more than the 8 GB available on cpu: use a resolution of \d+ px"
    with pytest.raises(gr.Error, match=refusal):
        runs.prepare_geodesic(ctx, str(pair[0]), str(pair[1]), 64, "elpips_vgg", "squared", 512, 60, 0, 10)
    spec, _ = runs.prepare_geodesic(ctx, str(pair[0]), str(pair[1]), 5, "elpips_vgg", "squared", 64, 60, 0, 10)
    assert spec.kind == "geodesic"  # a run that fits is prepared as before


# ------------------------------------------------------------------------------------------ 5. messages


@pytest.mark.parametrize("device, needle", [
    ("banana", "unknown device 'banana': use auto, cpu, cuda or cuda:N"),
    ("mps", "unknown device 'mps'"),
    pytest.param("cuda", "no CUDA device is available here; use --device cpu",
                  marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")),
    pytest.param("cuda:99", "CUDA device(s)",
                 marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")),
])
def test_device_is_a_validated_choice(tmp_path, capsys, pair, no_network, device, needle):
    status, err = run(capsys, geodesic_main, *pair, *FAST, "--device", device, "--out", tmp_path / "out")
    assert status == 2 and needle in one_line(err) and "device=" not in err


def test_a_huge_seed_is_a_usage_error(tmp_path, capsys, pair, no_network):
    status, err = run(capsys, average_main, *pair, *FAST, "--seed", str(2**70), "--out", tmp_path / "out")
    assert status == 2 and "invalid seed" in one_line(err) and "Overflow" not in err
    status = cli.main(["distance", str(pair[0]), str(pair[1]), "--seed", "-1"])
    assert status == 2 and "invalid seed" in capsys.readouterr().err


def test_a_folder_given_as_an_image_is_named_as_a_folder(tmp_path, capsys, pair):
    status, err = run(capsys, geodesic_main, tmp_path, pair[1], *FAST, "--out", tmp_path / "out")
    assert status == 2 and f"{tmp_path} is a folder, not an image file" in one_line(err)


def test_a_checkpoint_of_another_run_says_what_to_do_in_the_tool_s_terms(tmp_path, capsys, pair):
    import threading

    from geometry.api import geodesic

    out = tmp_path / "out"
    stop = threading.Event()  # set after the first step: the run stops there and leaves its checkpoint
    geodesic(*pair, frames=5, distance="l2", size=32, steps=6, checkpoint=out / "checkpoint.pt", cancel=stop,
             checkpoint_every=1, callback=lambda progress: stop.set(), motion="none")
    status, err = run(capsys, geodesic_main, *pair, *FAST, "--frames", "4", "--out", out, "--resume")
    line = one_line(err)
    assert status == 2 and "belongs to a different run" in line
    assert "resume with the same inputs and settings, or delete it to start afresh" in line
    assert "checkpoint path" not in line


def test_the_app_checks_its_device_and_output_folder_before_starting(tmp_path, capsys):
    from app.__main__ import main, parse_args

    with pytest.raises(SystemExit):
        parse_args(["--device", "banana"])
    assert "unknown device 'banana'" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SystemExit, match="a-file is a file, not a folder; choose another folder"):
        main(["--output-dir", str(tmp_path / "a-file" / "outputs")])


def test_the_tools_start_without_importing_torch():
    """What makes Ctrl-C during start-up reach the tools' handler instead of printing a traceback."""
    code = ("import sys, geometry.tools.geodesic, geometry.tools.average, geometry.tools.batch, elpips.cli, "
            "app.__main__; "
            "print(sorted(m for m in ('torch', 'numpy.core', 'imageio') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _ctrl_c_as_in_a_terminal():
    """A test run started in the background (`cmd &` in a script) ignores SIGINT, and children inherit that;
    restore the default so the child Python raises KeyboardInterrupt as it would in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_start_up_exits_130_without_a_traceback(tmp_path, pair):
    process = subprocess.Popen(
        [sys.executable, "-m", "geometry.tools.geodesic", *map(str, pair), "--out", str(tmp_path / "out")],
        stderr=subprocess.PIPE, text=True, cwd=REPO, preexec_fn=_ctrl_c_as_in_a_terminal)
    time.sleep(1.0)  # inside the imports of torch and the network
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "interrupted" in err
