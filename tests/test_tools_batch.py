"""elpips-batch: job files validated up front, bad jobs reported while the rest run, finished jobs
skipped, interrupted jobs resumed from their checkpoints, one network load per distance."""

from __future__ import annotations

import json
import shutil
import threading

import imageio.v3 as iio
import numpy as np
import pytest

import elpips
from geometry.engine import distances
from geometry.service import jobs
from geometry.service.backends import make_backend
from geometry.service.backends.local import LocalBackend
from geometry.tools import batch

L2_DEFAULTS = '[settings]\ndistance = "l2"\nsize = 32\nsteps = 12\n'


@pytest.fixture
def workdir(tmp_path, data_dir):
    """A folder with two images beside the job file, as users keep them."""
    for name in ("cat64.png", "dog64.png"):
        shutil.copy(data_dir / "small" / name, tmp_path / name)
    return tmp_path


def write_jobs(folder, text, name="jobs.toml"):
    path = folder / name
    path.write_text(text)
    return path


def read_manifest(job_file):
    data = json.loads(batch.default_manifest_path(job_file).read_text())
    return data, {entry["name"]: entry for entry in data["jobs"]}


GOOD_AND_BAD = L2_DEFAULTS + """
[[jobs]]
name = "avg"
kind = "average"
inputs = ["cat64.png", "dog64.png"]
output = "out/avg"

[[jobs]]
name = "missing"
kind = "average"
inputs = ["cat64.png", "nowhere.png"]
output = "out/missing"

[[jobs]]
name = "weights"
kind = "barycenter"
inputs = ["cat64.png", "dog64.png"]
weights = [1, -1]
output = "out/weights"

[[jobs]]
name = "warp"
kind = "warp"
inputs = ["cat64.png"]
output = "out/warp"

[[jobs]]
name = "tiny"
kind = "perturbed_barycenter"
inputs = ["tiny.png"]
output = "out/tiny"
settings = { mode = "shift", size = 2 }

[[jobs]]
name = "path"
kind = "geodesic"
inputs = ["cat64.png", "dog64.png"]
output = "out/path"
settings = { frames = 4, gif = "pingpong" }
"""


def test_bad_jobs_are_reported_and_the_rest_run_then_a_rerun_skips_them(workdir, capsys):
    iio.imwrite(workdir / "tiny.png", np.zeros((2, 2, 3), np.uint8))  # too small to shift by 2 px: fails at run time
    job_file = write_jobs(workdir, GOOD_AND_BAD)
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 1
    err = capsys.readouterr().err
    for name, needle in [("missing", "nowhere.png"), ("weights", "non-negative"), ("warp", "unknown kind")]:
        assert f"job {name!r} is invalid" in err and needle in err

    manifest, entries = read_manifest(job_file)
    assert manifest["summary"] == {"done": 2, "skipped": 0, "failed": 4, "pending": 0}
    assert [e["name"] for e in manifest["jobs"]] == ["avg", "missing", "weights", "warp", "tiny", "path"]
    assert "job 'tiny' failed" in err and "too small" in entries["tiny"]["error"]
    assert entries["missing"]["status"] == "failed" and "nowhere.png" in entries["missing"]["error"]
    assert entries["avg"]["status"] == "done" and entries["avg"]["error"] is None
    assert entries["avg"]["record"]["steps"] == 12
    assert iio.imread(workdir / "out/avg/average.png").shape == (32, 32, 3)
    path_outputs = entries["path"]["outputs"]
    assert "geodesic.mp4" in path_outputs and len([o for o in path_outputs if o.startswith("frames/")]) == 4
    assert all((workdir / "out/path" / name).is_file() for name in path_outputs)
    assert not (workdir / "out/missing").exists()

    stamp = (workdir / "out/avg/average.png").stat().st_mtime_ns
    assert batch.main([str(job_file), "--no-progress"]) == 1
    manifest, entries = read_manifest(job_file)
    assert manifest["summary"] == {"done": 0, "skipped": 2, "failed": 4, "pending": 0}
    assert entries["avg"]["record"]["steps"] == 12, "a skipped job keeps its record"
    assert (workdir / "out/avg/average.png").stat().st_mtime_ns == stamp, "finished jobs are not recomputed"


def test_a_changed_job_is_recomputed_when_asked_and_a_lost_output_is_recomputed(workdir, capsys):
    text = L2_DEFAULTS + '[[jobs]]\nname = "avg"\nkind = "average"\ninputs = ["cat64.png", "dog64.png"]\noutput = "o"\n'
    job_file = write_jobs(workdir, text)
    assert batch.main([str(job_file), "--no-progress"]) == 0
    write_jobs(workdir, text.replace("steps = 12", "steps = 7"))
    assert batch.main([str(job_file), "--no-progress"]) == 1  # its finished run is not replaced silently
    assert "overwrite = true" in read_manifest(job_file)[1]["avg"]["error"]
    write_jobs(workdir, text.replace("steps = 12", "steps = 7\noverwrite = true"))
    assert batch.main([str(job_file), "--no-progress"]) == 0
    assert read_manifest(job_file)[1]["avg"]["record"]["steps"] == 7
    (workdir / "o" / "average.png").unlink()
    assert batch.main([str(job_file), "--no-progress"]) == 0
    assert read_manifest(job_file)[1]["avg"]["status"] == "done"
    assert (workdir / "o" / "average.png").is_file()


def backend_cancelled_after(step: int) -> LocalBackend:
    """A local backend whose runs are cancelled once a job reports ``step``: as if the machine went away there."""
    cancel = threading.Event()
    backend = LocalBackend(device="cpu", cancel=cancel)
    run = backend.run

    def run_until_cancelled(pending, on_event):
        def watch(event):
            if event.kind == "progress" and event.step >= step:
                cancel.set()
            on_event(event)
        return run(pending, watch)

    backend.run = run_until_cancelled
    return backend


def test_an_interrupted_job_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(workdir, capsys):
    job = ('[[jobs]]\nname = "bary"\nkind = "barycenter"\ninputs = ["cat64.png", "dog64.png"]\nweights = [1, 2]\n'
           'output = "{out}"\nsettings = {{ checkpoint_every = 4 }}\n')
    job_file = write_jobs(workdir, L2_DEFAULTS + job.format(out="interrupted"))
    straight_file = write_jobs(workdir, L2_DEFAULTS + job.format(out="straight"), "straight.toml")

    assert batch.run_batch(jobs.load_job_file(job_file), backend_cancelled_after(5), progress=False) == 1
    entry = read_manifest(job_file)[1]["bary"]
    assert entry["status"] == "failed" and "cancelled" in entry["error"]
    assert (workdir / "interrupted" / "checkpoint.pt").exists()
    leftover = workdir / "interrupted" / ".average.abc123.tmp.png"  # what a worker killed mid-write leaves
    leftover.write_bytes(b"partial")

    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 0
    entry = read_manifest(job_file)[1]["bary"]
    assert entry["status"] == "done" and entry["resumed_from_step"] == 5
    assert not (workdir / "interrupted" / "checkpoint.pt").exists() and not leftover.exists()

    assert batch.main([str(straight_file), "--device", "cpu", "--no-progress"]) == 0
    assert np.array_equal(iio.imread(workdir / "interrupted" / "average.png"),
                          iio.imread(workdir / "straight" / "average.png"))


def as_an_old_average_job(folder):
    """Rewrite the spec that ``folder``'s job.json (and done.json) store as a version that still called the kind
    "average" wrote it."""
    spec = json.loads((folder / "job.json").read_text())
    (folder / "job.json").write_text(json.dumps({**spec, "kind": "average"}))
    if (folder / "done.json").exists():
        done = json.loads((folder / "done.json").read_text())
        (folder / "done.json").write_text(json.dumps({**done, "spec": {**done["spec"], "kind": "average"}}))


def test_an_old_average_jobs_folder_resumes_and_is_skipped_as_the_same_job(workdir):
    job_file = write_jobs(workdir, L2_DEFAULTS + '[[jobs]]\nname = "avg"\nkind = "average"\n'
                          'inputs = ["cat64.png", "dog64.png"]\noutput = "o"\nsettings = { checkpoint_every = 4 }\n')
    assert jobs.load_job_file(job_file).jobs[0].kind == "barycenter"
    assert batch.run_batch(jobs.load_job_file(job_file), backend_cancelled_after(5), progress=False) == 1
    as_an_old_average_job(workdir / "o")  # an unfinished run of the old kind name: resumed, not restarted
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 0
    entry = read_manifest(job_file)[1]["avg"]
    assert entry["status"] == "done" and entry["resumed_from_step"] == 5

    as_an_old_average_job(workdir / "o")  # a finished one: skipped, not refused as a changed job
    stamp = (workdir / "o" / "average.png").stat().st_mtime_ns
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 0
    entry = read_manifest(job_file)[1]["avg"]
    assert entry["status"] == "skipped" and entry["record"]["steps"] == 12
    assert (workdir / "o" / "average.png").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_one_network_load_serves_every_job_of_a_distance(workdir, capsys, monkeypatch):
    """Two E-LPIPS jobs (tiny: 64 px, 2 steps of the single-stage reference preset) share one load."""
    loads = []
    real_load = elpips.load_metric

    def counting_load(name, *args, **kwargs):
        loads.append((name, kwargs.get("num_scales")))
        return real_load(name, *args, **kwargs)

    monkeypatch.setattr(elpips, "load_metric", counting_load)
    text = ('[settings]\ndistance = "elpips_vgg"\nsize = 64\nsteps = 2\npreset = "reference"\n'
            '[[jobs]]\nkind = "average"\ninputs = ["cat64.png", "dog64.png"]\noutput = "avg"\n'
            '[[jobs]]\nkind = "geodesic"\ninputs = ["cat64.png", "dog64.png"]\noutput = "path"\n'
            'settings = { frames = 3 }\n')
    job_file = write_jobs(workdir, text)
    loaded = {}
    monkeypatch.setattr(distances, "_LOADED", loaded)  # as a fresh worker process: nothing loaded yet
    code = batch.run_batch(jobs.load_job_file(job_file), LocalBackend(device="cpu"), progress=False)
    assert code == 0, capsys.readouterr().err
    assert loads == [("elpips_vgg", None)]
    assert list(loaded) == [("elpips_vgg", "cpu", None)]
    manifest, entries = read_manifest(job_file)
    assert manifest["summary"]["done"] == 2
    assert entries["avg"]["record"]["settings"]["distance"] == "elpips_vgg"
    assert len(iio.imread(workdir / "path" / "geodesic.gif", index=None)) == 3


def test_job_file_validation_collects_every_problem(workdir):
    text = """
[settings]
size = 0

[[jobs]]
kind = "geodesic"
inputs = ["cat64.png"]
output = "a"
settings = { frames = 2, colour = "red" }

[[jobs]]
kind = "perturbed_barycenter"
inputs = ["cat64.png"]
output = "a"
weights = [1]
settings = { mode = "rotate" }
"""
    parsed = jobs.load_job_file(write_jobs(workdir, text))
    assert parsed.jobs == ()
    first, second = (p.message for p in parsed.problems)
    for needle in ("exactly 2 input", "frames = 2", "colour", "size = 0"):
        assert needle in first
    for needle in ("used by another job", "'weights' apply to kind 'barycenter' only", "mode = 'rotate'"):
        assert needle in second


def test_toml_and_json_job_files_mean_the_same_with_paths_relative_to_the_file(workdir, monkeypatch):
    (workdir / "sub").mkdir()
    toml = write_jobs(workdir / "sub", '[settings]\nseed = 3\n[[jobs]]\nkind = "barycenter"\n'
                      'inputs = ["../cat64.png", "../dog64.png"]\nweights = [1, 3]\noutput = "res"\n')
    json_file = write_jobs(workdir / "sub", json.dumps({
        "settings": {"seed": 3},
        "jobs": [{"kind": "barycenter", "inputs": ["../cat64.png", "../dog64.png"], "weights": [1, 3],
                  "output": "res"}]}), "jobs.json")
    monkeypatch.chdir(workdir.parent)
    from_toml, from_json = jobs.load_job_file(toml).jobs[0], jobs.load_job_file(json_file).jobs[0]
    assert from_toml == from_json
    assert from_toml.inputs == ((workdir / "cat64.png").resolve(), (workdir / "dog64.png").resolve())
    assert from_toml.output == (workdir / "sub" / "res").resolve()
    assert from_toml.name == "res" and from_toml.settings == {"seed": 3} and from_toml.weights == (1.0, 3.0)


@pytest.mark.parametrize("content, needle", [
    (None, "not found"),
    ("[[jobs]\nkind =", "cannot parse"),
    ("[[other]]\nx = 1\n", "'jobs' list"),
])
def test_unusable_job_file_is_one_line_exit_2(workdir, capsys, content, needle):
    path = workdir / "jobs.toml"
    if content is not None:
        path.write_text(content)
    assert batch.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_backends_are_looked_up_by_name():
    assert make_backend("local", device="cpu").name == "local"
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend("carrier-pigeon")
