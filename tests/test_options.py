"""RunOptions: one validation for the API, the job files and the tools; to_dict/from_dict; the --metric alias."""

from __future__ import annotations

import json

import pytest
import torch

from elpips import cli
from geometry import api
from geometry.engine.presets import FAST
from geometry.options import OPTION_NAMES, RunOptions, option_problems, weights_problem
from geometry.service import jobs


@pytest.mark.parametrize("settings, needle", [
    ({"distance": "ssim"}, "distance = 'ssim': use one of elpips_vgg"),
    ({"preset": "slow"}, "preset = 'slow': use one of reference, fast"),
    ({"steps": 0}, "steps = 0: must be an integer >= 1"),
    ({"steps": 2.5}, "steps = 2.5: must be an integer >= 1"),
    ({"seed": -1}, "seed = -1: must be an integer from 0 to"),
    ({"seed": 2**64}, "must be an integer from 0 to 9223372036854775807"),
    ({"seed": True}, "seed = True: must be an integer"),
    ({"size": 0}, "size = 0: must be a positive int (short side) or [H, W]"),
    ({"size": (32, 0)}, "size = (32, 0)"),
    ({"size": [1, 2, 3]}, "size = [1, 2, 3]"),
    ({"energy": "cubic"}, "energy = 'cubic': use one of squared, linear"),
    ({"init": "zeros"}, "init = 'zeros': use one of noise, mean, even"),
    ({"dtype": "float16"}, "dtype = 'float16': use one of float32, bfloat16"),
    ({"draws_per_step": 0}, "draws_per_step = 0: must be an integer >= 1"),
    ({"checkpoint_every": -5}, "checkpoint_every = -5: must be an integer >= 1"),
])
def test_an_invalid_option_is_one_line_naming_the_key_and_the_fix(settings, needle):
    with pytest.raises(ValueError) as caught:
        RunOptions(**settings)
    message = str(caught.value)
    assert needle in message and "\n" not in message
    assert option_problems(settings) == [message]  # the job files' check says the same


def test_every_problem_is_reported_at_once():
    problems = option_problems({"distance": "x", "steps": 0, "size": -1})
    assert [p.split(" = ")[0] for p in problems] == ["distance", "steps", "size"]
    with pytest.raises(ValueError, match="distance = 'x'.*; steps = 0.*; size = -1"):
        RunOptions(distance="x", steps=0, size=-1)


def test_valid_options_are_normalised():
    import numpy as np

    options = RunOptions(steps=np.int64(5), size=[48, 64], seed=2**63 - 1, preset=FAST)
    assert options.steps == 5 and type(options.steps) is int
    assert options.size == (48, 64) and options.seed == 2**63 - 1
    assert RunOptions(size=np.int32(32)).size == 32


def test_to_dict_and_from_dict_round_trip_through_json():
    options = RunOptions(distance="l2", preset="reference", steps=7, seed=3, size=(48, 64), device="cpu",
                         dtype="float32", energy="linear", init="even", draws_per_step=2, checkpoint_every=5)
    data = json.loads(json.dumps(options.to_dict()))
    assert data["size"] == [48, 64] and set(data) == set(OPTION_NAMES)
    assert RunOptions.from_dict(data) == options
    assert RunOptions.from_dict({}) == RunOptions()
    assert "device" not in options.result_settings() and "checkpoint_every" not in options.result_settings()


def test_objects_are_written_by_name(metric_lpips):
    data = RunOptions(distance=metric_lpips, preset=FAST, device=torch.device("cpu")).to_dict()
    assert data["distance"] == "lpips_vgg" and data["preset"] == "fast" and data["device"] == "cpu"


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown run option.*stepz"):
        RunOptions.from_dict({"stepz": 3})
    with pytest.raises(TypeError, match="unknown run option.*stepz"):
        RunOptions.build(stepz=3)
    with pytest.raises(TypeError, match="stepz"):
        api.geodesic(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), frames=3, distance="l2", stepz=3)


def test_build_replaces_fields_and_keeps_the_rest():
    base = RunOptions(distance="l2", seed=4)
    assert RunOptions.build(base, steps=3) == RunOptions(distance="l2", seed=4, steps=3)
    assert RunOptions.build(None) == RunOptions()
    with pytest.raises(ValueError, match="steps = 0"):
        RunOptions.build(base, steps=0)


def test_the_api_checks_options_before_any_work():
    a = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="seed = -3"):
        api.barycenter([a, a], distance="l2", seed=-3)
    with pytest.raises(ValueError, match="size = 0"):
        api.perturbed_barycenter(a, count=2, distance="l2", size=0)


def test_options_and_keywords_run_the_same(small_images):
    a, b = small_images
    keywords = dict(distance="l2", steps=3, seed=2, size=16, device="cpu", snapshot_steps=())
    by_keywords = api.geodesic(a, b, frames=4, **keywords)
    options = RunOptions(distance="l2", steps=3, seed=2, size=16, device="cpu")
    by_options = api.geodesic(a, b, frames=4, options=options, snapshot_steps=())
    mixed = api.geodesic(a, b, frames=4, options=RunOptions(distance="l2", steps=3, seed=9, size=16, device="cpu"),
                         seed=2, snapshot_steps=())  # a keyword replaces the options' field
    assert torch.equal(by_keywords.images, by_options.images) and torch.equal(by_keywords.images, mixed.images)
    assert by_options.record.settings["seed"] == 2 and by_options.record.settings["distance"] == "l2"
    bary10 = api.perturbed_barycenter(a, count=2, options=options, snapshot_steps=())
    assert bary10.inputs.shape[-2:] == (16, 16) and bary10.record.settings["seed"] == 2


def test_one_weights_rule_for_the_api_the_job_files_and_the_tools():
    assert weights_problem([1, 2], 2) is None
    assert "give one weight per image" in weights_problem([1], 2)
    assert "not all zero" in weights_problem([0, 0], 2)
    assert "non-negative" in weights_problem([1, -1], 2)
    assert "finite" in weights_problem([1, float("inf")], 2)
    with pytest.raises(ValueError, match="give one weight per image"):
        api.barycenter([torch.rand(1, 3, 8, 8)] * 2, [1], distance="l2")
    errors = []
    assert jobs._check_weights([1.0, -1.0], "barycenter", 2, errors) == (1.0, -1.0)
    assert errors == [weights_problem([1.0, -1.0], 2)]


def test_a_job_runs_with_its_settings_as_run_options(tmp_path, data_dir):
    data = {"settings": {"distance": "l2", "size": [32, 48], "seed": 5},
            "jobs": [{"kind": "geodesic", "inputs": [str(data_dir / "small" / "cat64.png"),
                                                     str(data_dir / "small" / "dog64.png")],
                      "output": "out", "settings": {"steps": 4, "frames": 5, "max_memory": "8GB"}}]}
    (job,) = jobs.parse_jobs(data, base_dir=tmp_path).jobs
    assert job.options == RunOptions(distance="l2", size=(32, 48), seed=5, steps=4)


# ------------------------------------------------------------------------------------------ --distance / --metric


def _tool_parsers():
    import importlib

    geodesic = importlib.import_module("geometry.tools.geodesic").build_parser()
    average = importlib.import_module("geometry.tools.average").build_parser()
    commands = next(a for a in cli._parser()._actions if a.dest == "command").choices
    return {
        "elpips-geodesic": (geodesic, ["a.png", "b.png", "--out", "o"], "l2"),
        "elpips-average": (average, ["a.png", "b.png", "--out", "o"], "l2"),
        "elpips distance": (commands["distance"], ["a.png", "b.png"], "lpips_vgg"),
        "elpips compare": (commands["compare"], ["r.png", "a.png", "b.png"], "lpips_vgg"),
        "elpips attack": (commands["attack"], ["r.png", "a.png", "--out", "o.png"], "lpips_vgg"),
    }


@pytest.mark.parametrize("tool", ["elpips-geodesic", "elpips-average", "elpips distance", "elpips compare",
                                  "elpips attack"])
def test_metric_is_an_alias_of_distance_in_every_tool(tool, capsys):
    parser, positional, name = _tool_parsers()[tool]
    assert parser.parse_args([*positional, "--distance", name]).distance == name
    assert parser.parse_args([*positional, "--metric", name]).distance == name
    assert parser.parse_args(positional).distance == "elpips_vgg"
    parser.print_help()
    assert "--distance NAME, --metric NAME" in capsys.readouterr().out


def test_the_geodesic_tool_records_the_distance_under_its_name(tmp_path, capsys, data_dir):
    from geometry.tools.geodesic import main

    pair = [str(data_dir / "small" / name) for name in ("cat64.png", "dog64.png")]
    out = tmp_path / "out"
    status = main([*pair, "--metric", "l2", "--size", "16", "--steps", "2", "--frames", "3", "--no-progress",
                   "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings["distance"] == "l2" and "metric" not in settings
    assert {key: settings[key] for key in ("steps", "size", "seed")} == {"steps": 2, "size": 16, "seed": 0}


def test_a_run_with_an_hxw_size_resumes(tmp_path, capsys, data_dir):
    """run.json holds the options as to_dict writes them, so the stored [H, W] equals the command's HxW."""
    from geometry.tools.geodesic import main

    pair = [str(data_dir / "small" / name) for name in ("cat64.png", "dog64.png")]
    argv = [*pair, "--distance", "l2", "--size", "16x24", "--steps", "2", "--frames", "3", "--no-progress",
            "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    assert main([*argv, "--resume"]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "run.json").read_text())["settings"]["size"] == [16, 24]


def test_a_job_file_null_means_the_default_for_a_run_option_but_not_for_frames():
    errors = []
    jobs._check_settings({"steps": None, "dtype": None, "frames": None, "seed": None}, "geodesic", errors)
    assert errors == ["seed = None: must be an integer from 0 to 9223372036854775807",
                      "frames = None: must be an integer >= 3"]
