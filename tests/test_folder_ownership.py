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
from geometry.service.geodesic_run import GeodesicRequest
from geometry.service.jobs import Job
from geometry.service.run_folder import LOCK_FILE
from geometry.tools import average, geodesic


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


def _over_inputs(frames: Path, tmp_path: Path) -> tuple[dict, Path]:
    """A clip of the user's frames with its output folder the one that holds them."""
    return {"video": frames}, frames.parent


def _foreign_frames(frames: Path, tmp_path: Path) -> tuple[dict, Path]:
    """Two images into a folder whose frames/ holds frames no run wrote."""
    out = tmp_path / "out"
    (out / "frames").mkdir(parents=True)
    for index in range(6):
        (out / "frames" / f"frame_{index:03d}.png").write_bytes(b"the user's frame %d" % index)
    return {"images": tuple(sorted(frames.glob("*.png"))[:2])}, out


def _unfinished_other_run(frames: Path, tmp_path: Path) -> tuple[dict, Path]:
    """Two images into a folder holding another run's unfinished state (its checkpoint and run.json)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"an unfinished elpips-geodesic run's checkpoint")
    (out / "run.json").write_text(json.dumps({"settings": {"size": 48}, "status": "running"}))
    return {"images": tuple(sorted(frames.glob("*.png"))[:2])}, out


def _refused_by_tool(inputs: dict, out: Path, capsys) -> str:
    given = (["--video", str(inputs["video"]), "--input-fps", "4", "--insert", "1"] if "video" in inputs
             else [*map(str, inputs["images"]), "--frames", "3"])
    assert geodesic.main([*given, "--size", "32", "--steps", "2", "--distance", "l2", "--refine", "none",
                          "--formats", "sheet", "--no-progress", "--out", str(out)]) == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def _refused_by_batch_job(inputs: dict, out: Path, capsys) -> str:
    settings = {"distance": "l2", "size": 32, "steps": 2, "refine": "none", "formats": ["sheet"]}
    job = (Job(name="j", kind="clip", inputs=(inputs["video"],), output=out, input_digests=("x",),
               settings={**settings, "insert": 1, "input_fps": 4}) if "video" in inputs
           else Job(name="j", kind="geodesic", inputs=inputs["images"], output=out, settings={**settings, "frames": 3}))
    result = run_job(job, "cpu", lambda event: None)
    assert result.status == "failed"
    return result.error


def _refused_by_the_apps_run_function(inputs: dict, out: Path, capsys) -> str:
    request = (GeodesicRequest(video=inputs["video"], input_fps=4, insert=1, formats=("sheet",)) if "video" in inputs
               else GeodesicRequest(images=inputs["images"], frames=3, formats=("sheet",)))
    with pytest.raises(InputError) as error:
        runs.run_geodesic(request, RunOptions(distance="l2", size=32, steps=2, refine="none"), out)
    return error.value.worded("app")


@pytest.mark.parametrize("front_end", [_refused_by_tool, _refused_by_batch_job, _refused_by_the_apps_run_function])
@pytest.mark.parametrize("case, needle", [(_over_inputs, "holds the input"), (_foreign_frames, "no run here wrote"),
                                          (_unfinished_other_run, "unfinished run")])
def test_each_data_loss_case_is_refused_with_every_file_unchanged_in_every_front_end(front_end, case, needle, frames,
                                                                                    tmp_path, capsys):
    """Issue 25's three cases of data loss (its finished-run case: tests/test_overwrite.py) in the tool, a batch
    job and the run function the app calls: one line naming the folder, and the md5 of every file unchanged."""
    inputs, out = case(frames, tmp_path)
    before = _digests(tmp_path)
    line = front_end(inputs, out, capsys)
    assert str(out) in line and (needle in line or "not this job's" in line), line
    assert _digests(tmp_path) == before


@pytest.mark.parametrize("front_end", ["tool", "batch job", "app's run function"])
def test_an_average_refuses_a_folder_holding_an_average_no_run_wrote(front_end, frames, tmp_path, capsys):
    a, b = sorted(frames.glob("*.png"))[:2]
    out = tmp_path / "out"
    out.mkdir()
    (out / "average.png").write_bytes(b"the user's own average")
    before = _digests(tmp_path)
    if front_end == "tool":
        assert average.main([str(a), str(b), "--size", "32", "--steps", "2", "--distance", "l2", "--snapshots",
                             "none", "--no-progress", "--out", str(out)]) == 2
        line = capsys.readouterr().err.strip().splitlines()[-1]
    elif front_end == "batch job":
        line = run_job(_job(frames, out), "cpu", lambda event: None).error
    else:
        with pytest.raises(InputError) as error:
            runs.run_average(runs.AverageRequest((a, b)), RunOptions(distance="l2", size=32, steps=2), out)
        line = str(error.value)
    assert str(out) in line and "average.png that no run here wrote" in line, line
    assert _digests(tmp_path) == before
