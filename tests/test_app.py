"""The web app's endpoints, called through gradio_client against the app launched in this process.

Tiny inputs (32-64 px), few steps, mostly the L2 and LPIPS distances for speed, one E-LPIPS run.
Every socket connection is checked: anything but loopback fails the test (no outbound network).
"""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import json
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from app.examples import REPO_EXAMPLES_DIR  # noqa: E402
from app.runs import STARTING  # noqa: E402
from app.ui import build_app, launch_options  # noqa: E402


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("app-outputs")


@pytest.fixture(scope="module")
def client(outbound_attempts, outputs, free_port):
    demo = build_app(outputs, "cpu")
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                quiet=True, **launch_options(outputs))
    try:
        yield Client(demo.local_url, verbose=False, download_files=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def ex() -> dict:
    return {path.stem: str(path) for path in REPO_EXAMPLES_DIR.glob("*.png")}


@pytest.fixture(scope="module")
def wide_image(tmp_path_factory) -> str:
    """A 72x40 image: a different size and aspect ratio from the 96x96 examples."""
    path = tmp_path_factory.mktemp("wide") / "wide.png"
    pixels = np.random.default_rng(0).integers(0, 256, (40, 72, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return str(path)


def _local(file_value) -> Path:
    """The server-side path of a file output (with download_files=False the client returns it)."""
    if isinstance(file_value, dict):
        file_value = file_value.get("path") or file_value.get("value")
    return Path(file_value)


def _upload(path):
    return handle_file(path) if path else None


# Each endpoint's inputs by the names of its parameters (`app.ui`'s on_<endpoint> functions), with small defaults.

def distance_inputs(a, b, metric="lpips_vgg", size=64, mode="Sample budget", samples=1, error=0.01,
                    max_samples=100, seed=0, **more) -> dict:
    return dict(a=_upload(a), b=_upload(b), metric=metric, size=size, mode=mode, samples=samples, error=error,
                max_samples=max_samples, seed=seed, **more)


def compare_inputs(ref, a, b, metric="lpips_vgg", size=64, samples=4, seed=0) -> dict:
    return dict(ref=_upload(ref), a=_upload(a), b=_upload(b), metric=metric, size=size, samples=samples, seed=seed)


def average_inputs(files, distance="l2", size=32, steps=10, seed=0, weights=(1.0,) * 6, motion="none") -> dict:
    """The Average tab's inputs; the pixel-mean start ("none") by default, so that a two-image run refines for
    `steps` (after a warp start the refinement is skipped)."""
    return dict(files=[_upload(f) for f in files], distance=distance, size=size, steps=steps, seed=seed,
                **{f"w{k + 1}": w for k, w in enumerate(weights)}, motion=motion)


def geodesic_inputs(a, b, frames=4, distance="l2", energy="squared", size=32, steps=20, seed=0, fps=8,
                    motion="none") -> dict:
    """The Geodesic tab's inputs; the dissolve start ("none") by default, so that the run refines for `steps`
    (after the default "auto" motion's warp start the refinement is skipped:
    geometry.engine.problems.refine_applies)."""
    return dict(a=_upload(a), b=_upload(b), frames=frames, distance=distance, energy=energy, size=size,
                steps=steps, seed=seed, fps=fps, motion=motion)


def _record(folder: Path) -> dict:
    return json.loads((folder / "record.json").read_text())


def _run_folders(outputs: Path, before: set, kind: str) -> list[Path]:
    """The run folders of `kind` made since `before` (a listing of the app's output folder): `app.tasks.
    new_run_folder`'s <date>-<time>-<kind>[-n]."""
    pattern = rf"\d{{8}}-\d{{6}}-{kind}(-\d+)?"
    return [f for f in set(outputs.iterdir()) - before if re.fullmatch(pattern, f.name)]


def _new_run_folder(outputs: Path, before: set, kind: str) -> Path:
    (folder,) = _run_folders(outputs, before, kind)
    return folder


def _first_status_with(job, text: str, what: str) -> str:
    """The first status (first output) of the submitted `job` that contains `text`, waiting up to a minute for it;
    `what` says what never happened if it does not come."""
    deadline = time.monotonic() + 60
    while not any(text in str(out[0]) for out in job.outputs()):
        assert time.monotonic() < deadline and not job.done(), what
        time.sleep(0.05)
    return next(str(out[0]) for out in job.outputs() if text in str(out[0]))


def test_distance_of_identical_images_is_zero_and_of_different_ones_positive(client, ex):
    answer, details, _ = client.predict(**distance_inputs(ex["disc_left"], ex["disc_left"]), api_name="/distance")
    assert details["metric"] == "lpips_vgg" and details["distance"] == pytest.approx(0.0, abs=1e-6)
    answer, details, _ = client.predict(**distance_inputs(ex["disc_left"], ex["texture_blobs"]),
                                        api_name="/distance")
    assert details["distance"] > 0.05 and details["stderr"] == 0.0
    assert f"{details['distance']:.5f}" in answer
    assert details["size"] == [64, 64]


def test_distance_notes_how_images_of_different_sizes_were_brought_together(client, ex, wide_image):
    answer, details, _ = client.predict(**distance_inputs(ex["disc_left"], wide_image, size=48), api_name="/distance")
    assert details["size"] == [48, 48]
    assert "72x40" in answer and "centre-cropped to 40x40" in answer and "**enlarged 1.2x** to 48x48" in answer
    assert "a resolution of 40 px keeps its own pixels" in answer


def test_elpips_distance_with_an_error_target_reports_its_error_and_samples(client, ex):
    answer, details, _ = client.predict(
        **distance_inputs(ex["disc_left"], ex["disc_left_noisy"], "elpips_vgg", mode="Error target", samples=8,
                          error=0.5, max_samples=40), api_name="/distance")
    assert details["metric"] == "elpips_vgg"
    assert 0 < details["distance"] < 1 and details["stderr"] > 0
    assert details["error95"] == pytest.approx(1.96 * details["stderr"])
    assert 1 <= details["samples"] <= 40
    assert "±" in answer


def test_compare_names_the_identical_candidate_closer_with_full_confidence(client, ex):
    answer, details, map_a, map_b = client.predict(
        **compare_inputs(ex["disc_left"], ex["texture_stripes"], ex["disc_left"]), api_name="/compare")
    assert details["closest"] == "B" and details["confidence"] == 1.0
    assert details["distances"]["B"] == pytest.approx(0.0, abs=1e-6)
    assert "Candidate B is closer" in answer
    assert "**Scale:** A " in answer and "; B 0.0000 lies " in answer  # both placed among the reference pairs
    a, b = (np.asarray(Image.open(_local(picture)).convert("RGB")) for picture in (map_a, map_b))
    assert a.shape == b.shape and a.shape[0] >= 256
    assert a[:256, :256].max() > 200 and b[:256, :256].max() < 10  # one colour scale: B's map is all black


def test_distance_map_is_beside_the_answer_and_overlays_on_request(client, ex):
    _, details, plain = client.predict(**distance_inputs(ex["disc_left"], ex["disc_left_shifted"], "vgg",
                                                         overlay=False), api_name="/distance")
    _, _, overlaid = client.predict(**distance_inputs(ex["disc_left"], ex["disc_left_shifted"], "vgg", overlay=True),
                                    api_name="/distance")
    plain, overlaid = (np.asarray(Image.open(_local(picture)).convert("RGB")) for picture in (plain, overlaid))
    assert plain.shape == overlaid.shape and plain.shape[0] >= 256 and not np.array_equal(plain, overlaid)
    assert details["map_max"] > details["distance"] > 0


def test_elpips_distance_map_forms_live_as_samples_accumulate(client, ex, monkeypatch):
    import app.distance

    monkeypatch.setattr(app.distance, "LIVE_INTERVAL", 0.0)  # every network pass is shown
    job = client.submit(**distance_inputs(ex["disc_left"], ex["disc_left_noisy"], "elpips_vgg", 32, samples=64),
                        api_name="/distance")
    job.result()
    updates = job.outputs()
    answers = [answer for answer, _, _ in updates]
    assert len(updates) >= 3 and all(answer.startswith("Measuring") for answer in answers[:-1])
    # the time left is measured, so on a fast machine it can be "under a second"
    assert re.search(r"after 32 of 64 samples \(50 %\), (about .+|under a second) left\. Stop ends it now", answers[0])
    assert answers[-1].startswith("### Distance")
    assert all(_local(picture).is_file() for _, _, picture in updates)


@pytest.mark.parametrize("endpoint", ["/distance", "/compare"])
def test_stop_ends_a_measurement_early_with_the_estimate_so_far(client, ex, endpoint):
    images = [ex[name] for name in ("disc_left", "disc_left_noisy", "disc_left_shifted")]
    if endpoint == "/distance":
        inputs = distance_inputs(*images[:2], "elpips_vgg", 32, samples=2000)
    else:
        inputs = compare_inputs(*images, "elpips_vgg", 32, samples=2000)
    job = client.submit(**inputs, api_name=endpoint)
    _first_status_with(job, "of 2000 samples", "the measurement never reported progress")
    assert client.predict(api_name="/cancel") == (
        "Stopping: the measurement ends after its current samples, with the estimate so far.")
    answer, details, *_ = job.result(timeout=60)
    assert details["stopped_early"] and 10 <= details["samples"] < 2000
    assert "stopped early, at your request" in answer and "±" in answer


def test_average_streams_then_saves_a_png_and_the_run_record(client, ex, wide_image, outputs):
    before = set(outputs.iterdir())
    status, bar, note, live, plot, result = client.predict(
        **average_inputs([ex["disc_left"], wide_image], "lpips_vgg", steps=30), api_name="/average")
    png = _local(result)
    assert png.name == "average.png" and Image.open(png).size == (32, 32)
    folder = _new_run_folder(outputs, before, "average")
    assert (folder / "average.png").read_bytes() == png.read_bytes() and f"`{folder}`" in status
    record = _record(folder)
    assert record["status"] == "completed" and record["steps"] == 30
    assert json.loads((folder / "settings.json").read_text())["weights"] == [1.0, 1.0]
    assert {"input_0.png", "input_1.png"} <= {p.name for p in folder.iterdir()}
    assert "wide.png" in note and "centre-cropped" in note
    energies = [energy for step, energy in plot["data"]]
    # one energy per step, falling: the run starts from the pixel mean, which LPIPS can improve on
    assert len(energies) == 30 and energies[-1] < energies[0]


def test_geodesic_returns_frames_video_gif_and_zip(client, ex, outputs):
    before = set(outputs.iterdir())
    status, bar, note, live, plot, gallery, video, files = client.predict(
        **geodesic_inputs(ex["texture_blobs"], ex["texture_stripes"]), api_name="/geodesic")
    assert 'max="1000" value="1000"' in bar and "Done: every phase of the run" in bar
    assert len(gallery) == 4
    names = sorted(_local(f).name for f in files)
    assert names == ["contact_sheet.png", "frames.zip", "geodesic.gif", "geodesic.mp4"]
    folder = _new_run_folder(outputs, before, "geodesic")
    pair = _record(folder)["pairs"][0]
    assert pair["status"] == "completed" and pair["steps"] == 20
    with zipfile.ZipFile(folder / "frames.zip") as bundle:
        assert bundle.namelist() == [f"frame_00{k}.png" for k in range(4)]
    assert (folder / "geodesic.mp4").stat().st_size > 0
    gif = Image.open(folder / "geodesic.gif")
    assert gif.n_frames == 6  # ping-pong: 0 1 2 3 2 1
    # the endpoints are the inputs themselves
    first = np.asarray(Image.open(folder / "frames" / "frame_000.png"), dtype=float)
    assert np.abs(first - np.asarray(Image.open(folder / "input_0.png"), dtype=float)).max() <= 1


def test_elpips_geodesic_runs_on_tiny_images(client, ex, outputs):
    before = set(outputs.iterdir())
    status, bar, note, live, plot, gallery, video, files = client.predict(
        **geodesic_inputs(ex["disc_left"], ex["disc_right"], 3, "elpips_vgg", steps=10), api_name="/geodesic")
    pair = _record(_new_run_folder(outputs, before, "geodesic"))["pairs"][0]
    assert pair["status"] == "completed" and pair["steps"] == 10 and len(gallery) == 3


def test_a_start_kept_as_it_is_shows_its_frames_in_the_live_preview(client, ex):
    """A warp start kept as it is sends no step's snapshot: the live preview showed nothing after the run; it shows
    the frames written, side by side."""
    status, bar, note, live, plot, gallery, video, files = client.predict(
        **geodesic_inputs(ex["disc_left"], ex["disc_right"], 3, motion="warp"), api_name="/geodesic")
    assert "no refinement step" in status and len(gallery) == 3
    width, height = Image.open(_local(live)).size
    assert width * 32 == height * (3 * 32 + 2 * 2)  # three 32 px frames in a row with 2 px gaps, enlarged


def test_the_estimate_comes_from_the_stored_cost_model_and_says_what_runs(client, ex):
    status, note = client.predict(**geodesic_inputs(ex["disc_left"], ex["disc_right"], 5, steps=200),
                                  api_name="/geodesic_estimate")
    assert "Estimated run time: **" in status and "200 refinement steps" in status
    assert "from the stored run costs" in status and "resized to 32x32" in note
    auto, _ = client.predict(**geodesic_inputs(ex["disc_left"], ex["disc_right"], 5, steps=200, motion="auto"),
                             api_name="/geodesic_estimate")
    assert auto.index("if the engine's flow aligns the pair") < auto.index("texture checks"), auto  # auto's order
    assert "no refinement step" in auto and "(the dissolve, refined)" in auto, auto


def _geodesic_under_way(client, ex, frames: int, steps: int):
    """Submit a long L2 geodesic and return its job once it has reported a step."""
    job = client.submit(**geodesic_inputs(ex["disc_left"], ex["disc_right"], frames, steps=steps),
                        api_name="/geodesic")
    _first_status_with(job, "Step ", "the run never reported a step")
    return job


def test_cancel_stops_a_run_and_keeps_its_partial_result(client, ex, outputs):
    before = set(outputs.iterdir())
    job = _geodesic_under_way(client, ex, frames=5, steps=5000)
    client.predict(api_name="/cancel")
    status, bar, note, live, plot, gallery, video, files = job.result(timeout=60)
    folder = _new_run_folder(outputs, before, "geodesic")
    pair = _record(folder)["pairs"][0]
    assert pair["status"] == "cancelled" and 0 < pair["steps"] < 5000
    assert json.loads((folder / "run.json").read_text())["status"] == "cancelled"
    assert len(gallery) == 5 and any(_local(f).name == "geodesic.mp4" for f in files)


def test_a_queued_run_says_what_it_waits_behind_and_cancel_withdraws_it(client, ex, outputs):
    from app.runs import WITHDRAWN

    running = _geodesic_under_way(client, ex, frames=5, steps=5000)
    other = Client(client.src, verbose=False, download_files=False)  # another browser session
    before = set(outputs.iterdir())
    queued = other.submit(**average_inputs([ex["disc_left"], ex["disc_right"]]), api_name="/average")
    waiting = _first_status_with(queued, "Waiting behind", "the queued run never said it was waiting")
    assert re.search(r"Waiting behind a geodesic run at step \d+/5000", waiting), waiting
    busy, _ = other.predict(**geodesic_inputs(ex["texture_blobs"], ex["texture_stripes"], 3, energy="linear", size=48),
                            api_name="/geodesic_estimate")  # the stored model: it answers while the device is busy
    assert busy.startswith("Estimated run time"), busy
    assert other.predict(api_name="/cancel") == "Withdrew 1 waiting run from the queue."
    assert queued.result(timeout=30)[0] == f"**{WITHDRAWN}**"
    assert not _run_folders(outputs, before, "average")  # no folder left behind
    assert not running.done()  # the other session's run goes on
    assert client.predict(api_name="/cancel").startswith("Cancelling: the run stops")
    assert "Cancelled at step" in running.result(timeout=60)[0]
    assert client.predict(api_name="/cancel") == "Nothing to cancel: no run of yours is running or waiting."


def test_a_distance_behind_a_run_says_what_it_waits_behind_and_stop_withdraws_it(client, ex):
    running = _geodesic_under_way(client, ex, frames=5, steps=5000)
    other = Client(client.src, verbose=False, download_files=False)
    job = other.submit(**distance_inputs(ex["disc_left"], ex["disc_left_noisy"], size=32), api_name="/distance")
    waiting = _first_status_with(job, "Waiting behind", "the distance never said it was waiting")
    assert re.search(r"^\*\*Waiting behind a geodesic run at step \d+/5000", waiting), waiting
    assert other.predict(api_name="/cancel").startswith("Stopping: the measurement ends")
    assert job.result(timeout=30)[0] == "Stopped before the first sample: nothing was measured."
    assert not running.done()
    client.predict(api_name="/cancel")
    assert "Cancelled at step" in running.result(timeout=60)[0]


def test_a_run_whose_watcher_goes_away_still_saves_its_results(client, ex, outputs):
    """Closing the browser tab stops the streaming, not the run: its results land in the output folder."""
    before = set(outputs.iterdir())
    job = _geodesic_under_way(client, ex, frames=4, steps=2000)
    job.cancel()  # what the browser does when its tab closes
    started = _run_folders(outputs, before, "geodesic")
    assert len(started) == 1 and not (started[0] / "record.json").exists(), "the run ended before the test left"
    folders, deadline = [], time.monotonic() + 120
    while not folders or not (folders[0] / "frames.zip").exists():  # the app's last file, after the run's
        assert time.monotonic() < deadline, "the abandoned run never saved its results"
        folders = _run_folders(outputs, before, "geodesic")
        time.sleep(0.1)
    record = json.loads((folders[0] / "record.json").read_text())
    assert record["pairs"][0]["status"] == "completed" and record["pairs"][0]["steps"] == 2000
    assert (folders[0] / "geodesic.mp4").exists()


@pytest.fixture(scope="module")
def bad_uploads(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bad-uploads")
    broken = folder / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    huge = folder / "huge.png"
    Image.new("RGB", (8000, 6000), (10, 20, 30)).save(huge, compress_level=1)
    heavy = folder / "heavy.png"
    heavy.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(26 * 1024 * 1024))  # over the 25 MB upload limit
    return {"unreadable": str(broken), "too-many-pixels": str(huge), "too-large-file": str(heavy), "missing": None}


@pytest.mark.parametrize(
    "case, message",
    [
        ("unreadable", "Image A: could not read broken.png as an image ("),
        ("too-many-pixels", "Image A: huge.png is 8000x6000 pixels, more than the 40 megapixels"),
        ("missing", "Image A: no image given. Upload an image"),
    ],
)
def test_bad_uploads_stay_in_the_status_area_naming_the_users_file(client, ex, bad_uploads, case, message):
    upload = bad_uploads[case]
    answer, details, picture = client.predict(**distance_inputs(upload, ex["disc_left"]), api_name="/distance")
    assert answer.startswith("**Error:** ") and message in answer, answer
    assert not re.search(r"[/\\]\S*\.png", answer), answer  # the file's name, never the server's upload folder


def test_an_upload_over_the_server_size_limit_is_refused_by_gradio(client, ex, bad_uploads):
    with pytest.raises(Exception, match="exceeds the maximum file size"):
        client.predict(**distance_inputs(bad_uploads["too-large-file"], ex["disc_left"]), api_name="/distance")


def test_average_of_one_image_is_refused_in_its_status_area(client, ex):
    status, *_ = client.predict(**average_inputs([ex["disc_left"]]), api_name="/average")
    assert status == "**Error:** Average: upload at least 2 images (or pick an example)."


def test_a_new_run_first_clears_the_previous_result(client, ex, outputs):
    inputs = average_inputs([ex["disc_left"], ex["disc_right"]])
    assert client.predict(**inputs, api_name="/average")[-1] is not None
    before = set(outputs.iterdir())
    job = client.submit(**inputs, api_name="/average")
    job.result(timeout=60)
    status, bar, note, live, plot, result = job.outputs()[0]
    assert status == STARTING and live is None and result is None and not plot["data"]
    last = job.outputs()[-1][-1]
    assert last is not None and _record(_new_run_folder(outputs, before, "average"))["steps"] == 10


def _attack_args(ex, steps, metric="lpips_vgg", epsilon=8, judges=("l2",), anchor="disc_left_moved"):
    return dict(ref=_upload(ex["disc_left"]), image=_upload(ex["disc_left_noisy"]),
                anchor=_upload(ex[anchor] if anchor else None), metric=metric, epsilon=epsilon, judges=list(judges),
                size=32, steps=steps, draws=2, samples=10, seed=0)


def test_attack_streams_then_saves_the_attacked_png_within_the_budget_and_a_table(client, ex, outputs):
    before = set(outputs.iterdir())
    status, bar, note, live, perturbation, plot, table, png, record = client.predict(
        **_attack_args(ex, 5, judges=("l2", "elpips_vgg")), api_name="/attack")
    assert record["steps"] == 5 and record["status"] == "completed"
    assert "| lpips_vgg * |" in table and "| elpips_vgg |" in table and "| l2 |" in table and "PSNR" in table
    folder = _new_run_folder(outputs, before, "attack")
    attacked = np.asarray(Image.open(_local(png)), dtype=float)
    image = np.asarray(Image.open(folder / "image.png"), dtype=float)
    assert np.abs(attacked - image).max() <= 8 and np.abs(attacked - image).max() >= 7
    assert (folder / "perturbation_magnified.png").exists() and (folder / "anchor.png").exists()
    saved = json.loads((folder / "record.json").read_text())
    assert saved["steps"] == 5 and saved["judgements"] == record["judgements"]
    lpips_judgement = record["judgements"][0]
    assert lpips_judgement["metric"] == "lpips_vgg" and lpips_judgement["after"] < lpips_judgement["before"]
    assert [j["metric"] for j in record["judgements"]] == ["lpips_vgg", "l2", "elpips_vgg"]
    assert "resized to 32x32" in note


def test_attack_without_an_anchor_runs_on_elpips(client, ex):
    status, *_, table, png, record = client.predict(
        **_attack_args(ex, 2, metric="elpips_vgg", judges=(), anchor=None), api_name="/attack")
    assert record["steps"] == 2 and record["evaluations"] == 4 and "| elpips_vgg * |" in table
    assert record["judgements"][0]["anchor"] is None


def test_cancel_stops_an_attack_and_keeps_its_partial_result(client, ex):
    job = client.submit(**_attack_args(ex, 1000), api_name="/attack")
    _first_status_with(job, "Step ", "the attack never reported a step")
    client.predict(api_name="/cancel")
    status, *_, png, record = job.result(timeout=60)
    assert record["status"] == "cancelled" and record["steps"] < 1000
    assert _local(png).exists()


@pytest.mark.parametrize(
    "change, message",
    [({"epsilon": 0}, "less than minimum value 1"), ({"metric": "nope"}, "not in the list of choices"),
     ({"judges": ("nope",)}, "is not in the list of choices")],
)
def test_bad_attack_settings_give_a_clear_message(client, ex, change, message):
    with pytest.raises(Exception, match=message):
        client.predict(**_attack_args(ex, 1, **change), api_name="/attack")
