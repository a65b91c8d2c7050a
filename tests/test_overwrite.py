"""A finished run is replaced only when asked (issue 25): the tools refuse it without ``--overwrite``, a batch job
whose settings changed after it finished refuses it without ``overwrite = true``, and the run service the app calls
refuses it; every file on disk is unchanged by a refusal (md5 of each before and after)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from elpips.errors import InputError
from geometry.options import RunOptions
from geometry.service import runs
from geometry.service.backends import run_job
from geometry.service.geodesic_run import GeodesicRequest
from geometry.service.jobs import Job, parse_jobs
from geometry.tools import average, geodesic

FAST = ["--size", "32", "--distance", "l2", "--motion", "none", "--no-progress"]


def _digests(folder: Path) -> dict:
    return {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(1)
    paths = [tmp_path / "inputs" / f"{name}.png" for name in ("a", "b")]
    paths[0].parent.mkdir()
    for path in paths:
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
    return paths


def _last_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def _steps_stored(out: Path) -> int:
    return json.loads((out / "run.json").read_text())["settings"]["steps"]


@pytest.mark.parametrize("tool, arguments", [
    (average, ["--snapshots", "none"]),
    (geodesic, ["--frames", "3", "--formats", "sheet"]),
])
def test_tool_refuses_its_finished_run_unless_overwrite(tool, arguments, pair, tmp_path, capsys):
    out = tmp_path / "out"
    command = [*map(str, pair), *arguments, *FAST, "--out", str(out)]
    assert tool.main([*command, "--steps", "2"]) == 0
    before = _digests(tmp_path)
    assert tool.main([*command, "--steps", "3"]) == 2
    line = _last_line(capsys)
    assert str(out) in line and "finished run" in line and "--overwrite" in line and "another --out" in line
    assert _digests(tmp_path) == before
    assert tool.main([*command, "--steps", "3", "--overwrite"]) == 0
    assert _steps_stored(out) == 3 and not (out / ".elpips-lock").exists()


def test_resume_and_overwrite_together_are_one_line(pair, tmp_path, capsys):
    out = tmp_path / "out"
    assert average.main([*map(str, pair), *FAST, "--steps", "2", "--snapshots", "none", "--out", str(out),
                         "--resume", "--overwrite"]) == 2
    line = _last_line(capsys)
    assert "--resume" in line and "--overwrite" in line and "not both" in line
    assert not out.exists()


def _job(pair, out: Path, **settings) -> Job:
    job = parse_jobs({"jobs": [{"name": "morph", "kind": "geodesic", "inputs": [str(p) for p in pair],
                                "output": str(out), "settings": {"distance": "l2", "size": 32, "motion": "none",
                                                                 "frames": 3, **settings}}]}, base_dir=out.parent)
    assert not job.problems, job.problems
    return job.jobs[0]


def test_batch_job_changed_after_it_finished_is_refused_unless_overwrite(pair, tmp_path):
    out = tmp_path / "job"
    assert run_job(_job(pair, out, steps=2), "cpu", lambda event: None).status == "done"
    before = _digests(tmp_path)
    refused = run_job(_job(pair, out, steps=3), "cpu", lambda event: None)
    assert refused.status == "failed"
    assert str(out) in refused.error and "finished run" in refused.error and "overwrite = true" in refused.error
    assert _digests(tmp_path) == before
    replaced = run_job(_job(pair, out, steps=3, overwrite=True), "cpu", lambda event: None)
    assert replaced.status == "done", replaced.error
    assert _steps_stored(out) == 3


def test_overwrite_is_no_part_of_a_jobs_spec_and_must_be_a_bool(pair, tmp_path):
    assert _job(pair, tmp_path / "o").spec() == _job(pair, tmp_path / "o", overwrite=True).spec()
    problems = parse_jobs({"jobs": [{"kind": "average", "inputs": [str(p) for p in pair], "output": "o",
                                     "settings": {"overwrite": "yes"}}]}, base_dir=tmp_path).problems
    assert "overwrite = 'yes': must be true or false" in problems[0].message


def test_the_apps_run_function_refuses_a_finished_run(pair, tmp_path):
    """The app writes each run into a new folder (`app.tasks.new_run_folder`); its run function refuses one that
    holds a finished run all the same."""
    out = tmp_path / "out"
    request = GeodesicRequest(images=tuple(pair), frames=3, formats=("sheet",))
    options = RunOptions(distance="l2", size=32, steps=2, motion="none")
    runs.run_geodesic(request, options, out)
    before = _digests(tmp_path)
    with pytest.raises(InputError, match="holds a finished run: pass --overwrite") as error:
        runs.run_geodesic(request, options, out)
    assert error.value.worded("app").endswith("pass overwrite to replace it, or choose another out")
    assert _digests(tmp_path) == before
