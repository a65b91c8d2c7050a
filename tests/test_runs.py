"""The run service (`geometry.service.runs`): the command-line tool, the batch runner and the app's run function run the
same job through it, so they write the same files, byte for byte."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import elpips
from geometry.options import RunOptions
from geometry.service import runs
from geometry.service.geodesic_run import GeodesicRequest

STEPS = 3
SIZE = 32


@pytest.fixture
def small_pair(tmp_path, data_dir):
    """Two 32 px images: at the working size already, so that no front end resizes them."""
    from geometry.engine.inputs import prepare_images

    paths = []
    for name in ("cat64", "dog64"):
        path = tmp_path / "inputs" / f"{name[:3]}.png"
        path.parent.mkdir(exist_ok=True)
        elpips.save_image(path, prepare_images([data_dir / "small" / f"{name}.png"], SIZE))
        paths.append(path)
    return paths


def _batch(tmp_path, kind: str, pair, settings: str, distance: str = "elpips_vgg"):
    from geometry.tools import batch

    job_file = tmp_path / "jobs.toml"
    job_file.write_text(f'[settings]\ndistance = "{distance}"\nsteps = {STEPS}\nseed = 0\n'
                        f'[[jobs]]\nname = "job"\nkind = "{kind}"\ninputs = ["{pair[0]}", "{pair[1]}"]\n'
                        f'output = "batch"\nsettings = {{ {settings} }}\n')
    assert batch.main([str(job_file), "--device", "cpu", "--no-progress"]) == 0
    entry = json.loads(batch.default_manifest_path(job_file).read_text())["jobs"][0]
    assert entry["status"] == "done", entry
    return tmp_path / "batch", entry["outputs"]


def _app(tmp_path, prepare, *arguments):
    from app import runs as app_runs
    from app.tasks import DeviceSlot

    ctx = app_runs.AppContext(tmp_path / "app", torch.device("cpu"), DeviceSlot("cpu"))
    spec, _ = getattr(app_runs, prepare)(ctx, *arguments)
    views = list(app_runs.stream_run(ctx, spec, "session"))
    artefacts = views[-1].outcome.artefacts
    assert artefacts.status == "completed" and artefacts.steps == STEPS
    return artefacts


def _same_bytes(names, *folders):
    for name in names:
        first = (folders[0] / name).read_bytes()
        for folder in folders[1:]:
            assert (folder / name).read_bytes() == first, f"{folder / name} differs from {folders[0] / name}"


@pytest.mark.slow
def test_a_geodesic_writes_the_same_files_from_the_tool_the_batch_runner_and_the_app(tmp_path, small_pair, capsys):
    from geometry.tools.geodesic import main as geodesic_main

    tool = tmp_path / "tool"
    argv = [*small_pair, "--frames", "4", "--steps", STEPS, "--distance", "elpips_vgg", "--seed", 0,
            "--gif", "pingpong", "--device", "cpu", "--no-progress", "--out", tool]
    assert geodesic_main([str(a) for a in argv]) == 0, capsys.readouterr().err
    batch, batch_outputs = _batch(tmp_path, "geodesic", small_pair, 'frames = 4, fps = 10, gif = "pingpong"')
    app = _app(tmp_path, "prepare_geodesic", str(small_pair[0]), str(small_pair[1]), 4, "elpips_vgg", "squared",
               SIZE, STEPS, 0, 10)

    assert batch_outputs == app.files
    outputs = [name for name in app.files if name != runs.RECORD_NAME]
    assert {"frames/frame_000.png", "frames/frame_003.png", "geodesic.mp4", "geodesic.gif",
            "contact_sheet.png"} <= set(outputs)
    _same_bytes(outputs, tool, batch, app.out)
    records = [json.loads((folder / runs.RECORD_NAME).read_text()) for folder in (tool, batch, app.out)]
    assert len({json.dumps(r["pairs"][0]["energies"]) for r in records}) == 1
    assert len({json.dumps(r["settings"]["input_sha256"]) for r in records}) == 1


def test_an_average_writes_the_same_image_from_the_tool_the_batch_runner_and_the_app(tmp_path, small_pair, capsys):
    from geometry.tools.average import main as average_main

    tool = tmp_path / "tool"
    argv = [*small_pair, "--steps", STEPS, "--distance", "l2", "--seed", 0, "--snapshots", "none",
            "--device", "cpu", "--no-progress", "--out", tool]
    assert average_main([str(a) for a in argv]) == 0, capsys.readouterr().err
    batch, batch_outputs = _batch(tmp_path, "average", small_pair, "", distance="l2")
    app = _app(tmp_path, "prepare_average", [str(p) for p in small_pair], [1.0, 1.0], "l2", SIZE, STEPS, 0)

    assert batch_outputs == [runs.AVERAGE_NAME, runs.RECORD_NAME]
    assert {runs.AVERAGE_NAME, runs.RECORD_NAME} <= set(app.files)  # and the live preview's snapshots
    _same_bytes([runs.AVERAGE_NAME], tool, batch, app.out)
    energies = {json.dumps(json.loads((f / runs.RECORD_NAME).read_text())["energies"]) for f in (tool, batch, app.out)}
    assert len(energies) == 1


def test_a_cancelled_average_keeps_its_image_and_checkpoint_and_resumes_to_the_uninterrupted_result(tmp_path,
                                                                                                   small_pair):
    import threading

    options = RunOptions(distance="l2", steps=20, checkpoint_every=5, device="cpu")
    request = runs.AverageRequest(tuple(small_pair))
    cancel = threading.Event()

    def stop_at_step_8(progress):
        if progress.step == 8:
            cancel.set()

    stopped = runs.run_average(request, options, tmp_path / "a", callback=stop_at_step_8, cancel=cancel)
    assert stopped.status == "cancelled" and (tmp_path / "a" / runs.CHECKPOINT_NAME).is_file()
    assert json.loads((tmp_path / "a" / "run.json").read_text())["status"] == "cancelled"
    with pytest.raises(ValueError, match="unfinished run"):
        runs.run_average(request, options, tmp_path / "a")
    resumed = runs.run_average(request, options, tmp_path / "a", resume=True)
    straight = runs.run_average(request, options, tmp_path / "b")
    assert resumed.status == "completed" and not (tmp_path / "a" / runs.CHECKPOINT_NAME).exists()
    assert np.array_equal(elpips.load_image(tmp_path / "a" / runs.AVERAGE_NAME),
                          elpips.load_image(tmp_path / "b" / runs.AVERAGE_NAME))
    assert straight.files == [runs.AVERAGE_NAME, runs.RECORD_NAME]


def test_a_request_that_does_not_hold_together_is_refused_before_anything_is_written(tmp_path, small_pair):
    options = RunOptions(distance="l2", steps=2, device="cpu")
    with pytest.raises(ValueError, match="--frames applies to two images"):
        runs.run_geodesic(GeodesicRequest(video=small_pair[0], frames=4), options, tmp_path / "g")
    with pytest.raises(ValueError, match="ONE image"):
        runs.run_average(runs.AverageRequest(tuple(small_pair), perturbed="noise"), options, tmp_path / "a")
    assert not (tmp_path / "g").exists() and not (tmp_path / "a").exists()
