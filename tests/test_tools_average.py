"""elpips-average: the snapshot series named by step, the final image, the run record; bary10; errors."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from geometry.engine import inputs
from geometry.tools import average

L2 = ["--distance", "l2", "--size", "32", "--no-progress"]


@pytest.fixture
def pair(data_dir):
    return data_dir / "small" / "cat64.png", data_dir / "small" / "dog64.png"


def run(capsys, *argv):
    status = average.main([str(a) for a in argv])
    return status, capsys.readouterr().err


def test_average_writes_snapshots_by_step_final_image_and_record(tmp_path, capsys, pair):
    out = tmp_path / "avg"
    status, err = run(capsys, *pair, *L2, "--steps", "20", "--out", out)
    assert status == 0, err
    snapshots = sorted(p.name for p in out.glob("0*.png"))
    # the reference's snapshot steps up to 20
    assert snapshots == [f"{s:06d}.png" for s in (0, 1, 2, 3, 5, 7, 10, 15, 20)]
    final = iio.imread(out / "average.png")
    assert final.shape == (32, 32, 3)
    assert np.array_equal(final, iio.imread(out / "000020.png")), "the last snapshot is the result"
    record = json.loads((out / "record.json").read_text())
    assert record["kind"] == "barycenter" and record["steps"] == 20 and record["status"] == "completed"
    assert record["settings"]["distance"] == "l2"
    assert not (out / "checkpoint.pt").exists()


def test_weighted_barycenter_under_l2_moves_towards_the_heavier_image(tmp_path, capsys, pair):
    out = tmp_path / "weighted"
    status, err = run(capsys, *pair, *L2, "--weights", "1", "3", "--steps", "60", "--snapshots", "none",
                      "--out", out)
    assert status == 0, err
    assert not list(out.glob("0*.png"))
    result = torch.from_numpy(iio.imread(out / "average.png")).float() / 255
    cat, dog = (img.permute(1, 2, 0) for img in inputs.prepare_images(list(pair), 32))
    assert (result - dog).abs().mean() < (result - cat).abs().mean()
    assert json.loads((out / "record.json").read_text())["settings"]["weights"] == pytest.approx([0.25, 0.75])


def test_perturbed_bary10_with_explicit_snapshot_steps(tmp_path, capsys, pair):
    out = tmp_path / "bary"
    status, err = run(capsys, pair[0], *L2, "--perturbed", "shift", "--count", "4", "--steps", "8",
                      "--snapshots", "0,4,8", "--out", out)
    assert status == 0, err
    assert sorted(p.name for p in out.glob("0*.png")) == ["000000.png", "000004.png", "000008.png"]
    assert iio.imread(out / "average.png").shape == (32, 32, 3)


@pytest.mark.parametrize("argv, needle", [
    (["{cat}"], "at least two"),
    (["{cat}", "{dog}", "--weights", "1"], "one weight per image"),
    (["{cat}", "{dog}", "--weights", "0", "0"], "not all zero"),
    (["{cat}", "{dog}", "--weights", "1", "-2"], "non-negative"),
    (["{cat}", "{dog}", "--perturbed", "noise"], "ONE image"),
    (["{cat}", "missing.png"], "missing.png"),
    (["{cat}", "{dog}", "--snapshots", "soon"], "--snapshots"),
    (["{cat}", "{dog}", "--preset", "slow"], "slow"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, pair, argv, needle):
    names = {"cat": pair[0], "dog": pair[1]}
    out = tmp_path / "out"
    status, err = run(capsys, *[a.format(**names) for a in argv], "--distance", "l2", "--out", out)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and needle in err
    assert not out.exists()


def test_unfinished_run_needs_resume(tmp_path, capsys, pair):
    out = tmp_path / "avg"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"left by a killed run")
    status, err = run(capsys, *pair, *L2, "--steps", "5", "--out", out)
    assert status == 2 and "--resume" in err
    status, err = run(capsys, *pair, *L2, "--steps", "5", "--out", out, "--resume")
    assert status == 2 and "corrupt" in err and len(err.strip().splitlines()) == 1
    assert (out / "checkpoint.pt").exists(), "a refused checkpoint is left for the user to inspect"
