"""elpips-batch on Ray: a private 2-CPU cluster on loopback runs tiny L2 jobs to the same manifest and
images as the local backend, and a job whose worker process is killed mid-run is retried, resumes from
its checkpoint and ends bit-for-bit like an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal

# Before ray is imported: no usage statistics, and a private cluster on loopback (Ray reads this at import).
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

ray = pytest.importorskip("ray")

from geometry.service import jobs  # noqa: E402
from geometry.service.backends.ray_backend import RayBackend  # noqa: E402
from geometry.tools import batch  # noqa: E402

pytestmark = pytest.mark.slow

L2_DEFAULTS = '[settings]\ndistance = "l2"\nsize = 32\nsteps = 12\n'

MIXED = L2_DEFAULTS + """
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
name = "path"
kind = "geodesic"
inputs = ["cat64.png", "dog64.png"]
output = "out/path"
settings = { frames = 4, gif = "pingpong" }

[[jobs]]
name = "bary"
kind = "barycenter"
inputs = ["cat64.png", "dog64.png"]
weights = [1, 3]
output = "out/bary"
"""

# An L2 job long enough (a few seconds) to be killed mid-run; checkpoints every 10 steps.
LONG = ('[[jobs]]\nname = "{name}"\nkind = "barycenter"\ninputs = ["cat64.png", "dog64.png"]\nweights = [2, 1]\n'
        'output = "out/{name}"\nsettings = {{ distance = "l2", size = 64, steps = 2000, checkpoint_every = 10 }}\n')


@pytest.fixture(scope="module")
def ray_cluster():
    """One private Ray cluster (2 CPUs, loopback, no dashboard) for the module; the backend reuses it."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def job_folder(root, data_dir, text):
    """A folder holding the two images and a job file, as users keep them."""
    root.mkdir()
    for name in ("cat64.png", "dog64.png"):
        shutil.copy(data_dir / "small" / name, root / name)
    path = root / "jobs.toml"
    path.write_text(text)
    return path


def manifest_entries(job_file):
    data = json.loads(batch.default_manifest_path(job_file).read_text())
    return data, {entry["name"]: entry for entry in data["jobs"]}


def comparable(entry, folder):
    """A manifest entry without what legitimately differs between runs: its job folder, timings (at any depth: a
    geodesic's record holds each pair's)."""
    def untimed(value):
        if isinstance(value, dict):
            return {key: untimed(item) for key, item in value.items() if key != "seconds"}
        return [untimed(item) for item in value] if isinstance(value, list) else value

    return untimed(json.loads(json.dumps(entry).replace(str(folder), "<folder>")))


def test_ray_gives_the_local_backends_manifest_and_images_and_a_rerun_skips_finished_jobs(
        ray_cluster, tmp_path, data_dir, capsys):
    local_file = job_folder(tmp_path / "local", data_dir, MIXED)
    ray_file = job_folder(tmp_path / "ray", data_dir, MIXED)
    assert batch.main([str(local_file), "--device", "cpu", "--no-progress"]) == 1
    assert batch.main([str(ray_file), "--backend", "ray", "--device", "cpu", "--no-progress"]) == 1
    assert "job 'missing' is invalid" in capsys.readouterr().err

    local, local_entries = manifest_entries(local_file)
    remote, remote_entries = manifest_entries(ray_file)
    assert remote["backend"] == "ray" and local["backend"] == "local"
    assert remote["summary"] == local["summary"] == {"done": 3, "skipped": 0, "failed": 1, "pending": 0}
    assert [e["name"] for e in remote["jobs"]] == ["avg", "missing", "path", "bary"]
    for name in local_entries:
        assert comparable(remote_entries[name], ray_file.parent) == comparable(local_entries[name], local_file.parent)
    for name in ("avg", "path", "bary"):
        for output in remote_entries[name]["outputs"]:
            if output.endswith(".png"):
                assert np.array_equal(iio.imread(tmp_path / "ray/out" / name / output),
                                      iio.imread(tmp_path / "local/out" / name / output)), output

    stamp = (tmp_path / "ray/out/avg/average.png").stat().st_mtime_ns
    assert batch.main([str(ray_file), "--backend", "ray", "--no-progress"]) == 1
    rerun, rerun_entries = manifest_entries(ray_file)
    assert rerun["summary"] == {"done": 0, "skipped": 3, "failed": 1, "pending": 0}
    assert rerun_entries["bary"]["record"] == remote_entries["bary"]["record"]
    assert (tmp_path / "ray/out/avg/average.png").stat().st_mtime_ns == stamp, "finished jobs are not recomputed"


def test_a_job_whose_worker_is_killed_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(
        ray_cluster, tmp_path, data_dir, capsys):
    job_file = job_folder(tmp_path / "jobs", data_dir, LONG.format(name="killed") + LONG.format(name="straight"))
    backend = RayBackend(device="cpu", max_retries=2)
    killed = []

    def kill_the_worker_at_step_20(event):
        if event.job == "killed" and event.kind == "progress" and event.step >= 20 and not killed:
            killed.append(backend.worker_pids["killed"])
            os.kill(backend.worker_pids["killed"], signal.SIGKILL)

    run = backend.run
    backend.run = lambda pending, on_event: run(pending, lambda e: (kill_the_worker_at_step_20(e), on_event(e)))
    assert batch.run_batch(jobs.load_job_file(job_file), backend, progress=False) == 0

    pid, = killed
    assert backend.worker_pids["killed"] != pid, "the job finished in a restarted worker"
    _, entries = manifest_entries(job_file)
    assert entries["killed"]["status"] == entries["straight"]["status"] == "done"
    assert entries["straight"]["resumed_from_step"] is None
    resumed = entries["killed"]["resumed_from_step"]
    assert resumed is not None and resumed % 10 == 0 and 10 <= resumed < 2000, "resumed from a checkpoint"
    assert comparable(entries["killed"], "killed")["record"] == comparable(entries["straight"], "straight")["record"]
    assert np.array_equal(iio.imread(tmp_path / "jobs/out/killed/average.png"),
                          iio.imread(tmp_path / "jobs/out/straight/average.png"))
    assert not (tmp_path / "jobs/out/killed/checkpoint.pt").exists()


def test_a_job_whose_worker_dies_past_its_retries_fails_and_a_rerun_resumes_it(ray_cluster, tmp_path, data_dir,
                                                                                  capsys):
    job_file = job_folder(tmp_path / "jobs", data_dir, LONG.format(name="fragile"))
    backend = RayBackend(device="cpu", max_retries=0)
    killed = []

    def kill_at_step_20(event):
        # once: events the worker queued before it died still arrive and name its pid again (worker_pids is the
        # latest event's), and killing that pid a second time fails once the process is gone
        if event.kind == "progress" and event.step >= 20 and not killed:
            killed.append(backend.worker_pids[event.job])
            os.kill(killed[0], signal.SIGKILL)

    run = backend.run
    backend.run = lambda pending, on_event: run(pending, lambda e: (kill_at_step_20(e), on_event(e)))
    assert batch.run_batch(jobs.load_job_file(job_file), backend, progress=False) == 1
    entry = manifest_entries(job_file)[1]["fragile"]
    assert entry["status"] == "failed" and "worker died 1 time(s)" in entry["error"] and "rerun" in entry["error"]
    assert (tmp_path / "jobs/out/fragile/checkpoint.pt").exists()

    # The checkpoint does not depend on the backend: the local one (no worker to start) resumes it.
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 0
    entry = manifest_entries(job_file)[1]["fragile"]
    assert entry["status"] == "done" and entry["resumed_from_step"] >= 10


def test_address_is_a_ray_option_and_an_unreachable_cluster_is_one_line_exit_2(tmp_path, data_dir, capsys,
                                                                                monkeypatch):
    job_file = job_folder(tmp_path / "jobs", data_dir, MIXED)
    assert batch.main([str(job_file), "--address", "auto"]) == 2
    assert "--address applies to --backend ray only" in capsys.readouterr().err

    def no_cluster(**options):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", no_cluster)
    assert batch.main([str(job_file), "--backend", "ray", "--address", "10.0.0.5:6379"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "cannot reach a Ray cluster at address '10.0.0.5:6379'" in err and "ray start --head" in err


# A clip of 4 frames (3 pairs, 2 frames inserted in each), L2, 40 steps checkpointed every 10; the pixel
# refinement is asked for, since after the default's warp start a pair runs no steps to checkpoint.
CLIP_JOB = ('[[jobs]]\nname = "clip"\nkind = "clip"\ninputs = ["clip"]\noutput = "out/{output}"\nsettings = '
            '{{ distance = "l2", size = 32, steps = 40, insert = 2, input_fps = 4, checkpoint_every = 10, '
            'refine = "pixels" }}\n')
CLIP_ARGS = ["--distance", "l2", "--size", "32", "--steps", "40", "--insert", "2", "--input-fps", "4",
             "--refine", "pixels", "--no-progress"]


def clip_job_files(root, *outputs):
    """A folder of 4 frames of the moving disk (tests/test_clips.py) and one job file per output folder."""
    from test_clips import disk_frames

    (root / "clip").mkdir(parents=True)
    for t, frame in enumerate(disk_frames(count=4)):
        iio.imwrite(root / "clip" / f"{t}.png", frame)
    files = []
    for output in outputs:
        files.append(root / f"{output}.toml")
        files[-1].write_text(CLIP_JOB.format(output=output))
    return files


def run_on_ray(job_file, on_progress=lambda event, pid: None):
    """Run a job file on a 2-worker Ray backend; calls on_progress(event, pid) for every progress event."""
    backend = RayBackend(device="cpu")
    run = backend.run

    def watched(event, on_event):
        if event.kind == "progress":
            on_progress(event, backend.worker_pids[event.job])
        on_event(event)

    backend.run = lambda pending, on_event: run(pending, lambda e: watched(e, on_event))
    return batch.run_batch(jobs.load_job_file(job_file), backend, progress=False)


def clip_outputs(folder):
    """Every output frame's pixels, and record.json without the pairs' timings."""
    frames = [iio.imread(p) for p in sorted((folder / "frames").glob("*.png"))]
    record = json.loads((folder / "record.json").read_text())
    for pair in record["pairs"]:
        pair.pop("seconds", None)
    return frames, record


def assert_same_outputs(folder, other):
    frames, record = clip_outputs(folder)
    other_frames, other_record = clip_outputs(other)
    assert all(np.array_equal(a, b) for a, b in zip(frames, other_frames, strict=True)), other
    assert record == other_record, other


def test_a_clips_pairs_run_on_several_workers_and_give_the_local_run_and_the_commands_outputs(
        ray_cluster, tmp_path, capsys):
    from geometry.tools.geodesic import main as geodesic_main

    ray_file, local_file = clip_job_files(tmp_path, "ray", "local")
    pids = set()
    assert run_on_ray(ray_file, lambda event, pid: pids.add(pid)) == 0
    assert batch.main([str(local_file), "--device", "cpu", "--no-progress"]) == 0
    assert geodesic_main(["--video", str(tmp_path / "clip"), *CLIP_ARGS, "--out", str(tmp_path / "out/command")]) == 0

    assert len(pids) >= 2, "the pairs ran on more than one worker process"
    ray_frames, ray_record = clip_outputs(tmp_path / "out/ray")
    assert len(ray_frames) == 3 * 3 + 1 and len(ray_record["pairs"]) == 3
    assert all(pair["status"] == "completed" for pair in ray_record["pairs"])
    for other in ("local", "command"):
        assert_same_outputs(tmp_path / "out/ray", tmp_path / "out" / other)
    ray_entry, local_entry = manifest_entries(ray_file)[1]["clip"], manifest_entries(local_file)[1]["clip"]
    assert ray_entry["status"] == local_entry["status"] == "done"
    assert ray_entry["outputs"] == local_entry["outputs"]
    for leftover in ("pairs", "checkpoints"):
        assert not (tmp_path / "out/ray" / leftover).exists(), "the per-pair files are folded into run.json"
    state = json.loads((tmp_path / "out/ray/run.json").read_text())
    assert state["status"] == "done" and sorted(state["pairs"]) == ["0", "1", "2"]


def test_a_clip_resumed_on_ray_keeps_finished_pairs_and_continues_a_checkpointed_one(ray_cluster, tmp_path, capsys):
    import threading

    from geometry.service import backends

    ray_file, local_file = clip_job_files(tmp_path, "ray", "local")
    job, = jobs.load_job_file(ray_file).jobs
    # A partial run in this process: pair 0 done, pair 1 stopped after step 20 (checkpointed), pair 2 not started.
    assert backends.start_clip(job, "cpu", lambda event: None) == [0, 1, 2]
    assert backends.run_clip_pair(job, 0, "cpu", lambda event: None) is None
    stop = threading.Event()
    stopped = backends.run_clip_pair(job, 1, "cpu", lambda e: stop.set() if e.step >= 20 else None, cancel=stop)
    assert stopped.status == "failed" and "cancelled" in stopped.error
    out = tmp_path / "out/ray"
    assert (out / "checkpoints/pair_0001.pt").is_file() and not (out / "pairs/pair_0001.json").exists()
    pair_0 = json.loads((out / "pairs/pair_0000.json").read_text())
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "frames").glob("*.png")}

    first_steps, last_steps = {}, []

    def note(event, pid):
        first_steps.setdefault(pid, event.step)
        if event.step == event.total_steps:
            last_steps.append(event.step)

    assert run_on_ray(ray_file, note) == 0
    assert len(last_steps) == 2, "pairs 1 and 2 ran, pair 0 was not redone"
    assert any(step > 10 for step in first_steps.values()), "pair 1 continued from its checkpoint"
    assert json.loads((out / "record.json").read_text())["pairs"][0] == pair_0
    frames_of_pair_0 = ["frame_000.png", "frame_001.png", "frame_002.png"]
    assert all((out / "frames" / name).stat().st_mtime_ns == stamps[name] for name in frames_of_pair_0)

    assert batch.main([str(local_file), "--device", "cpu", "--no-progress"]) == 0
    assert_same_outputs(out, tmp_path / "out/local")


def test_a_clip_pair_whose_worker_is_killed_resumes_from_its_checkpoint_and_matches_a_local_run(
        ray_cluster, tmp_path, capsys):
    ray_file, local_file = clip_job_files(tmp_path, "ray", "local")
    for path in (ray_file, local_file):  # pairs long enough (a second or more) to be killed mid-run
        path.write_text(path.read_text().replace("steps = 40", "steps = 600"))
    killed, first_steps = [], {}

    def kill_at_step_20(event, pid):
        first_steps.setdefault(pid, event.step)
        if event.step >= 20 and not killed:
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    assert run_on_ray(ray_file, kill_at_step_20) == 0
    pid, = killed
    resumed = [step for worker, step in first_steps.items() if worker != pid and step > 1]
    assert resumed and min(resumed) > 10, "the killed pair continued from its checkpoint in a restarted worker"
    assert manifest_entries(ray_file)[1]["clip"]["status"] == "done"
    assert batch.main([str(local_file), "--device", "cpu", "--no-progress"]) == 0
    assert_same_outputs(tmp_path / "out/ray", tmp_path / "out/local")


def test_a_clips_folder_is_held_by_the_driver_while_its_pairs_run_and_a_dead_drivers_lock_is_taken_over(
        ray_cluster, tmp_path, capsys):
    """A clip's pairs run on several workers: the driver holds the folder's lock for the clip's lifetime, so a
    second run on it is refused while the pairs run, and a lock left by a dead driver is stale and taken over."""
    import socket
    import subprocess
    import sys

    from geometry.service.folder_claim import lock_owner
    from geometry.service.run_folder import LOCK_FILE

    ray_file, second_file = clip_job_files(tmp_path, "ray", "second")
    second_file.write_text(ray_file.read_text())  # the same clip into the same folder: a second run
    out = tmp_path / "out/ray"
    out.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    (out / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": me["host"]}))  # a driver killed earlier
    seen = []

    def second_run_while_a_pair_runs(event, pid):
        if seen:
            return
        seen.append(lock_owner(out))  # the driver waits in this call: the clip's pairs are still under way
        second = subprocess.run([sys.executable, "-m", "geometry.tools.batch", str(second_file), "--device", "cpu",
                                 "--no-progress"], capture_output=True, text=True)
        seen.append((second.returncode, second.stderr))

    assert run_on_ray(ray_file, second_run_while_a_pair_runs) == 0
    owner, (code, err) = seen
    assert owner == me, "the driver, not a worker, holds the clip's folder"
    assert code == 1 and f"{out} is in use by another run (pid {me['pid']} on {me['host']})" in err
    assert manifest_entries(ray_file)[1]["clip"]["status"] == "done"
    assert not (out / LOCK_FILE).exists()
