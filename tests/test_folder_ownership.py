"""Nothing lost (issue 25): a run refuses an output folder over its inputs, another run's folder, or one a live
run holds, in the tool, a batch job and the run service the app calls, with every file on disk unchanged."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from elpips.errors import InputError
from geometry.options import RunOptions
from geometry.service import runs
from geometry.service.backends import run_job
from geometry.service.folder_claim import FolderRefused
from geometry.service.jobs import Job
from geometry.service.run_folder import LOCK_FILE
from geometry.tools import geodesic


def _digests(folder: Path) -> dict:
    return {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def frames(tmp_path):
    """Three 32 px frames in ``tmp_path/frames``, as a user keeps a clip's frames."""
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"frame_{index:03d}.png")
    return folder


def test_tool_refuses_out_above_its_input_frames(frames, capsys):
    before = _digests(frames.parent)
    code = geodesic.main(["--video", str(frames), "--input-fps", "4", "--insert", "1", "--size", "32",
                          "--steps", "2", "--distance", "l2", "--out", str(frames.parent)])
    assert code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(frames.parent) in line and "holds the input" in line and "choose an --out folder outside" in line
    assert _digests(frames.parent) == before


def _job(frames: Path, output: Path) -> Job:
    images = sorted(frames.glob("*.png"))[:2]
    return Job(name="avg", kind="barycenter", inputs=tuple(images), output=output,
               settings={"distance": "l2", "size": 32, "steps": 2})


def test_batch_job_refuses_a_folder_holding_another_runs_checkpoint(frames, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "checkpoint.pt").write_bytes(b"an unfinished elpips-geodesic run's checkpoint")
    (other / "run.json").write_text(json.dumps({"settings": {}, "status": "running"}))
    before = _digests(tmp_path)
    result = run_job(_job(frames, other), "cpu", lambda event: None)
    assert result.status == "failed"
    assert str(other) in result.error and "not this job's" in result.error and "choose another" in result.error
    assert _digests(tmp_path) == before


def test_batch_job_refuses_an_output_above_its_inputs(frames, tmp_path):
    before = _digests(tmp_path)
    result = run_job(_job(frames, tmp_path), "cpu", lambda event: None)
    assert result.status == "failed" and "holds the input" in result.error
    assert _digests(tmp_path) == before


def test_service_run_refused_while_another_live_run_holds_the_folder_then_allowed(frames, tmp_path):
    """The app's run function (`runs.run_average`): refused while the lock's owner lives, run once it died."""
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from geometry.service.folder_claim import claim_folder\n"
         f"claim_folder({str(out)!r}).acquire(); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    request = runs.AverageRequest(tuple(sorted(frames.glob("*.png"))[:2]), None, None, 10)
    options = RunOptions(distance="l2", size=32, steps=2)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _digests(tmp_path)
        with pytest.raises(FolderRefused, match="in use by another run") as error:
            runs.run_average(request, options, out)
        assert isinstance(error.value, InputError)
        assert _digests(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()
    artefacts = runs.run_average(request, options, out)  # its owner died: the lock is stale
    assert (out / runs.AVERAGE_NAME).is_file() and artefacts.record_json["status"] != "cancelled"
    assert not (out / LOCK_FILE).exists()


def test_tool_refuses_a_folder_holding_frames_no_run_wrote(frames, tmp_path, capsys):
    """Frames in ``--out/frames`` with no run.json are the user's: never replaced nor removed as stale."""
    a, b = sorted(frames.glob("*.png"))[:2]
    out = tmp_path / "out"
    (out / "frames").mkdir(parents=True)
    for index in range(6):
        (out / "frames" / f"frame_{index:03d}.png").write_bytes(b"the user's frame %d" % index)
    before = _digests(tmp_path)
    code = geodesic.main([str(a), str(b), "--frames", "3", "--size", "32", "--steps", "2", "--distance", "l2",
                          "--out", str(out)])
    assert code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(out) in line and "no run here wrote" in line and "choose another --out" in line
    assert _digests(tmp_path) == before


def test_a_clip_job_holds_its_folder_and_is_refused_while_another_run_holds_it(frames, tmp_path):
    """A clip job's parts run under one hold of its folder (`backends.run_clip`): refused, with nothing changed,
    while a live run holds the folder; run once that run died."""
    out = tmp_path / "clip"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from geometry.service.folder_claim import claim_folder\n"
         f"claim_folder({str(out)!r}).acquire(); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    job = Job(name="clip", kind="clip", inputs=(frames,), output=out, input_digests=("x",),
              settings={"distance": "l2", "size": 32, "insert": 1, "input_fps": 4, "refine": "none",
                        "formats": ["sheet"]})
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _digests(tmp_path)
        result = run_job(job, "cpu", lambda event: None)
        assert result.status == "failed" and f"{out} is in use by another run (pid {holder.pid}" in result.error
        assert _digests(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()
    result = run_job(job, "cpu", lambda event: None)
    assert result.status == "done", result.error
    assert not (out / LOCK_FILE).exists()
