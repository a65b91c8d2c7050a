"""The app's building blocks without a server: jobs, estimates, examples, command line."""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import math
import re
import threading
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from elpips.memory import network_input
from elpips.transforms import sample_draws
from geometry.engine.distances import DistanceFamily
from geometry.engine.eta import TimeLeft
from geometry.engine.phases import Phase
from geometry.engine.problems import CHANGE_ROUNDS, PROBLEMS, spacing_draws
from geometry.paths.spacing import DRAWS, even_times_evaluations

from app.__main__ import parse_args
from app.examples import NAMES, REPO_EXAMPLES_DIR, example_arrays, write_examples
from app.forecast import (
    EXPECTED_CHANGE_ROUNDS,
    LEARNED_NAME,
    CostBook,
    Leg,
    RunShape,
    plan_run,
    snapshot_steps,
    spacing_draw_cost,
)
from app.run_clock import RunClock
from app.runs import enlarged, filmstrip
from app.tasks import DeviceSlot, DeviceTask, SpeedTable, TaskBoard, format_seconds, new_run_folder, time_steps


def _progress(step, total=3, energy=1.0, snapshot=None):
    return SimpleNamespace(step=step, total_steps=total, energy=energy, eta_s=None, snapshot=snapshot)


def test_job_streams_progress_then_returns_what_save_made():
    def run(callback, cancel):
        for step in range(1, 4):
            callback(_progress(step, energy=1.0 / step, snapshot="snap" if step == 2 else None))
        return "result"

    job = DeviceTask("test", DeviceSlot("cpu"), run, save=lambda result: result.upper()).start()
    watches = list(job.watch(interval=0.01))
    last = watches[-1]
    assert last.energies == [(1, 1.0), (2, 0.5), (3, 1.0 / 3)]
    assert last.snapshot == "snap" and last.snapshot_step == 2 and last.latest.step == 3
    assert job.outcome() == "RESULT"


def test_cancel_before_the_first_step_says_cancelling_at_the_next_update(tmp_path):
    """A run still in its start (speed measurement, motion start, spacing) said "Starting..." after Cancel
    until it stopped; the status says "Cancelling..." from the next update on."""
    from app.runs import CANCELLING, AppContext, cancel_session, follow_task

    ctx = AppContext(output_root=tmp_path, device=torch.device("cpu"), slot=DeviceSlot("cpu"))

    def run(callback, cancel):
        assert cancel.wait(30)
        return SimpleNamespace(artefacts=SimpleNamespace(status="cancelled", steps=0))

    job = DeviceTask("geodesic", ctx.slot, run, save=lambda result: result)
    views = follow_task(ctx, job, "session", "header")
    first = next(views)
    while first.status.endswith("Waiting"):
        first = next(views)
    assert first.status == "header\n\nStarting..."
    assert cancel_session(ctx, "session").startswith("Cancelling")
    statuses = [view.status for view in views]
    assert statuses[0] == f"header\n\n{CANCELLING}" and "Starting" not in "".join(statuses)
    assert "**Cancelled at step 0; the partial result is kept**." in statuses[-1]


def test_job_reraises_the_run_error_to_its_watcher():
    def run(callback, cancel):
        raise ValueError("bad settings")

    job = DeviceTask("test", DeviceSlot("cpu"), run, save=lambda result: result).start()
    list(job.watch(interval=0.01))
    with pytest.raises(ValueError, match="bad settings"):
        job.outcome()


def test_jobs_on_one_device_run_one_at_a_time_and_cancel_withdraws_a_waiting_one():
    slot, board = DeviceSlot("cpu"), TaskBoard()
    release, stepped = threading.Event(), threading.Event()
    running, withdrawn = [], []

    def blocking_run(callback, cancel):
        running.append("a")
        callback(_progress(2, total=50))
        stepped.set()
        release.wait(10)
        return "first"

    def quick_run(name):
        def run(callback, cancel):
            running.append(name)
            return name
        return run

    first = DeviceTask("geodesic", slot, blocking_run, save=lambda r: r).start()
    assert stepped.wait(10)
    second = DeviceTask("average", slot, quick_run("b"), save=lambda r: r, on_withdraw=lambda: withdrawn.append("b"))
    third = DeviceTask("attack", slot, quick_run("c"), save=lambda r: r)
    board.add("session-1", second)
    board.add("session-2", third)
    second.start()
    while slot.waiting_line(second) is None:
        time.sleep(0.01)
    third.start()
    while slot.waiting_line(third) is None:
        time.sleep(0.01)
    assert not second.started and not third.started  # both wait for the device, in arrival order
    assert slot.waiting_line(second) == "behind a geodesic run at step 2/50"
    assert slot.waiting_line(third) == "behind a geodesic run at step 2/50, and 1 other waiting run"
    assert board.cancel("session-3") == [] and board.cancel("session-1") == [second]
    assert second.outcome() is None and second.withdrawn and withdrawn == ["b"]  # left the queue, never ran
    assert slot.waiting_line(third) == "behind a geodesic run at step 2/50"
    release.set()
    assert first.outcome() == "first" and third.outcome() == "c" and not third.withdrawn
    assert running == ["a", "c"]
    board.remove("session-1", second)
    assert board.cancel("session-1") == []


def test_speed_table_measures_once_per_key():
    table, calls = SpeedTable(), []

    def measure():
        calls.append(1)
        return 0.25

    key = ("geodesic", "l2", (32, 32), 4, "cpu")
    assert table.known(key) is None
    assert table.seconds_per_step(key, measure) == 0.25 == table.seconds_per_step(key, measure)
    assert calls == [1] and table.known(key) == 0.25


def test_a_finished_runs_step_time_replaces_the_first_measurement_then_averages_in():
    table, key = SpeedTable(), ("geodesic", "elpips_vgg", (64, 64), 10, "cpu", (64, 64), 1)
    assert table.seconds_per_step(key, lambda: 2.0) == 2.0  # a slow measurement on a busy machine
    assert table.refresh(key, 0.4) == 0.4 and table.known(key) == 0.4  # the first run's time replaces it
    assert table.refresh(key, 0.6) == pytest.approx(0.5)  # later runs are averaged in
    assert table.seconds_per_step(key, lambda: 9.0) == pytest.approx(0.5)  # and nothing is measured again


def _synthetic_run(eta: TimeLeft, step_times: list[float], stages: list[int], setup: float = 3.0):
    """Feed `eta` the progress reports of a run whose steps take `step_times`, stage k having stages[k] steps;
    the first step of every stage also pays `setup` seconds. Yields (step, true seconds left) after each step."""
    total, elapsed, step = sum(stages), 0.0, 0
    finish = sum(step_times) + setup * len(stages)
    for stage, count in enumerate(stages):
        for k in range(count):
            elapsed += step_times[step] + (setup if k == 0 else 0.0)
            step += 1
            eta.add(SimpleNamespace(step=step, total_steps=total, stage=stage, elapsed_s=elapsed))
            yield step, finish - elapsed


def test_the_live_eta_after_ten_steps_is_within_one_and_a_half_times_the_truth():
    """Steps of 0.4 s with +-30 % noise; the estimate made before the run measured 2 s per step (5x too slow,
    as a short measurement on a loaded machine can be), and the second stage's steps are 4x the first's."""
    rng = np.random.default_rng(0)
    stages = [40, 20]
    times = list(0.4 * (1 + 0.3 * rng.uniform(-1, 1, 40))) + list(1.6 * (1 + 0.3 * rng.uniform(-1, 1, 20)))
    eta = TimeLeft([(40, 2.0), (20, 8.0)])
    assert eta.seconds_left() is None
    lefts = {step: (eta.seconds_left(), truth) for step, truth in _synthetic_run(eta, times, stages)}
    estimate, truth = lefts[10]
    assert truth / 1.5 <= estimate <= 1.5 * truth, (estimate, truth)
    for step in range(10, 60):
        estimate, truth = lefts[step]
        assert truth / 1.5 - 3.5 <= estimate <= 1.5 * truth + 3.5, (step, estimate, truth)  # setup: +3 s
    measured = eta.measured()
    assert measured[0] == pytest.approx(0.4, rel=0.15) and measured[1] == pytest.approx(1.6, rel=0.15)


def test_time_steps_is_the_median_gap_without_the_first_step(monkeypatch):
    # the clock at each reported step: the first gap (10 s: loading the metric) is left out
    clock = iter([0.0, 10.0, 11.0, 13.5, 14.75, 20.0, 21.0])
    monkeypatch.setattr("app.tasks.time.perf_counter", lambda: next(clock))
    assert time_steps(lambda callback: [callback(_progress(k)) for k in range(5)]) == 1.25  # of 1, 2.5, 1.25
    with pytest.raises(RuntimeError, match="at least 3"):
        time_steps(lambda callback: [callback(_progress(k)) for k in range(2)])


#: A cost model with round numbers, as (units, seconds) points on lines: the flow 1 s + 1e-3 s per pixel, a step
#: 0.1 s + 1e-5 s per evaluated pixel, the spacing 0.01 s per evaluation, the render 0.5 s, the synthesis 3 s, the
#: network's loading 2 s, the texture checks' stationarity 0.25 s and detection 1.5 s.
MODEL = {"flow": {"points": [[0, 1.0], [10_000, 11.0]]}, "render": {"points": [[0, 0.5], [10**6, 0.5]]},
         "synthesis": {"points": [[0, 3.0], [10**6, 3.0]]}, "loading": {"l2": 2.0},
         "stationarity": {"points": [[0, 0.25], [10**6, 0.25]]}, "detection": {"points": [[0, 1.5], [10**6, 1.5]]},
         "step": {"l2": {"points": [[0, 0.1], [10**6, 10.1]]}},
         "spacing": {"l2": {"points": [[0, 0.01], [10**6, 0.01]]}}}


def test_the_cost_model_interpolates_its_measured_points_and_continues_the_last_segment():
    book = CostBook({**MODEL, "flow": {"points": [[1024, 1.0], [4096, 2.0], [16384, 10.0]]}})
    assert book._fit(book.model["flow"], 512) == 1.0  # below the smallest size: its seconds (overhead)
    assert book._fit(book.model["flow"], 2560) == pytest.approx(1.5)
    assert book._fit(book.model["flow"], 65536) == pytest.approx(10.0 + 8.0 / 12288 * 49152)


def _shape(kind, motion, images, steps=60, size=(32, 32)):
    return RunShape(kind, "l2", plan_run("fast", kind, steps, size), images, motion)


def test_the_estimate_lists_what_runs_after_each_start_the_motion_may_take():
    book = CostBook(MODEL)
    flow = 1.0 + 1e-3 * 32 * 32
    warp, = book.branches(_shape("geodesic", "warp", 10))
    assert [leg.phase for leg in warp.legs] == ["flow search", "render"] and warp.steps == 0
    assert book.seconds(warp, "cpu") == pytest.approx(flow + 0.5)
    # auto in the order it decides: the flow first on every pair; where it does not align the pair, the texture
    # checks (stationarity; the turn-and-zoom detection for two stationary textures) before any other start
    kept, turned, explained, changed, refined = book.branches(_shape("geodesic", "auto", 10))
    assert [branch.start for branch in (kept, turned, explained, changed, refined)] == [
        "warp", "texture", "warp", "change", "dissolve"]
    assert kept.legs == warp.legs and "flow aligns the pair" in kept.when and "no texture check" in kept.when
    assert [leg.phase for leg in turned.legs] == ["flow search", "texture checks", "spacing", "render"]
    assert "turned or zoomed" in turned.when and turned.steps == 0
    assert book.seconds(turned, "cpu") == pytest.approx(flow + 0.25 + 1.5 + 0.01 * even_times_evaluations(8) + 0.5)
    texture, = book.branches(_shape("geodesic", "texture", 10))  # asked for: the detection alone, no flow
    assert [leg.phase for leg in texture.legs] == ["texture checks", "spacing", "render"]
    assert texture.legs[0].seconds == 1.5 and texture.legs[1:] == turned.legs[2:]
    assert [leg.phase for leg in explained.legs] == ["flow search", "texture checks", "render"]
    assert "flow explains" in explained.when and explained.legs[1].seconds == 0.25
    assert [leg.phase for leg in refined.legs] == ["flow search", "texture checks", "spacing", "refinement", "render"]
    step = 0.1 + 1e-5 * 4 * 10 * 32 * 32  # 4 draws of 10 frames at 32 px
    assert refined.steps == 60 and book.seconds(refined, "cpu") == pytest.approx(
        flow + 0.25 + 0.01 * even_times_evaluations(8) + 60 * step + 0.5)
    assert [leg.phase for leg in changed.legs] == ["flow search", "texture checks", "synthesis", "spacing", "render"]
    assert "stationary textures" in changed.when and changed.steps == 0
    assert len(book.branches(_shape("geodesic", "auto", 10, size=(24, 24)))) == 2  # too small for the checks
    change, = book.branches(_shape("geodesic", "change", 10))
    assert [leg.phase for leg in change.legs] == ["synthesis", "spacing", "render"]
    assert change.legs[1:] == changed.legs[3:]
    none, = book.branches(_shape("geodesic", "none", 10))
    assert [leg.phase for leg in none.legs] == ["spacing", "refinement", "render"]
    three, = book.branches(_shape("barycenter", "auto", 3, steps=100))  # three images: no motion start applies
    assert [leg.phase for leg in three.legs] == ["refinement"]
    assert book.seconds(three, "cpu") == pytest.approx(100 * (0.1 + 1e-5 * 4 * 32 * 32))  # one draw of 4 images
    two = book.branches(_shape("barycenter", "auto", 2, steps=100))
    assert [[leg.phase for leg in branch.legs] for branch in two] == [
        ["flow search"], ["flow search", "texture checks"], ["flow search", "texture checks"],
        ["flow search", "texture checks", "synthesis"], ["flow search", "texture checks", "refinement"]]


def test_the_change_forecasts_its_re_timing_rounds_as_the_engine_runs_them():
    """Issue 27: the change's spacing re-times and re-synthesises its frames until they are even enough, at most
    CHANGE_ROUNDS rounds: the forecast counts EXPECTED_CHANGE_ROUNDS of them, and says what every round costs."""
    book = CostBook(MODEL)
    change, = book.branches(_shape("geodesic", "change", 10))
    spacing = change.legs[1]
    even, synthesis, retiming = 0.01 * even_times_evaluations(8), 3.0 * 8 / 3, 0.01 * 8 * 10  # of 8 frames, 3 knots

    def with_rounds(rounds):  # the last round measured even (one synthesis a round), or all uneven (one more)
        return even + (rounds if rounds < CHANGE_ROUNDS else rounds + 1) * synthesis + rounds * retiming

    assert spacing.seconds == pytest.approx(with_rounds(EXPECTED_CHANGE_ROUNDS))
    assert spacing.most == pytest.approx(with_rounds(CHANGE_ROUNDS)) and spacing.most >= spacing.seconds
    assert book.seconds(change, "cpu", most=True) - book.seconds(change, "cpu") == pytest.approx(
        spacing.most - spacing.seconds)


def test_the_spacing_is_forecast_at_the_cost_of_the_draws_the_runs_seed_takes():
    """The spacing measures on DRAWS single E-LPIPS draws of the run's seed, each on the images downscaled by its
    scale level: the forecast priced them all as the cost model's calibration draws, and was short for a seed whose
    draws are all full-size (benchmarks/results/bench_app_forecast.txt). The model's seconds are of full-size
    draws; a run's spacing costs its own draws' share of them."""
    book = CostBook({**MODEL, **{part: {"elpips_vgg": MODEL[part]["l2"]} for part in ("step", "spacing")}})

    def spacing(seed, motion="texture"):
        shape = RunShape("geodesic", "elpips_vgg", plan_run("fast", "geodesic", 60, (64, 64)), 10, motion, seed=seed)
        return next(leg for leg in book.branches(shape)[0].legs if leg.phase == "spacing").seconds

    config = DistanceFamily("elpips_vgg", torch.device("cpu")).config_at_size((64, 64))
    scales = {seed: [int(draw.scale[0]) for draw in spacing_draws(partial(sample_draws, config.transforms), seed)]
              for seed in (0, 1)}
    assert scales[0] == [1] * DRAWS and max(scales[1]) > 1  # seed 0's draws are all full-size, seed 1's are not
    assert spacing_draw_cost("elpips_vgg", (64, 64), 0) == 1.0
    assert spacing(0) == pytest.approx(0.01 * even_times_evaluations(8))

    def pixels(scale):
        return math.prod(network_input(config, 64, 64, scale))

    cheaper = spacing_draw_cost("elpips_vgg", (64, 64), 1)
    assert cheaper == pytest.approx(sum(pixels(scale) for scale in scales[1]) / (DRAWS * pixels(1))) and cheaper < 0.9
    assert spacing(1) == pytest.approx(cheaper * spacing(0))
    # the texture change's re-timing rounds (at the run's size, here the first stage's) take the same draws
    retiming = EXPECTED_CHANGE_ROUNDS * DRAWS * 10 * 0.01
    assert spacing(0, "change") - spacing(1, "change") == pytest.approx((1 - cheaper) * (spacing(0) + retiming))
    assert spacing_draw_cost("lpips_vgg", (64, 64), 1) == spacing_draw_cost("l2", (64, 64), 1) == 1.0


def test_an_averages_starts_pay_the_loading_of_the_network_too():
    """An average of two images loads its network before any start, the texture starts' included."""
    book = CostBook(MODEL)
    cold = RunShape("barycenter", "l2", plan_run("fast", "barycenter", 100, (32, 32)), 2, "auto", network_loaded=False)
    assert all(branch.legs[0].phase == "loading" for branch in book.branches(cold))
    for motion in ("texture", "change", "warp"):
        (branch,) = book.branches(RunShape("barycenter", "l2", cold.plan, 2, motion, network_loaded=False))
        assert branch.legs[0] == Leg("loading", 2.0)


def test_the_first_run_of_a_distance_after_the_start_pays_the_loading_of_its_network():
    """Issue 24: the first estimate after a server start was 5x short of the run (the start-up was not in it). The
    loading of the network is a phase of its own, first, for a distance this process has not loaded."""
    book = CostBook(MODEL)
    first = RunShape("geodesic", "l2", plan_run("fast", "geodesic", 60, (32, 32)), 10, "warp", network_loaded=False)
    (cold,), (warm,) = book.branches(first), book.branches(_shape("geodesic", "warp", 10))
    assert [leg.phase for leg in cold.legs] == ["loading", "flow search", "render"]
    assert book.seconds(cold, "cpu") == pytest.approx(book.seconds(warm, "cpu") + 2.0)
    clock = _Clock()
    run = RunClock([cold], {"loading": 1.0, "flow search": 1.0, "render": 1.0}, clock)
    assert run.describe().startswith("loading the network") and "phase 1 of 3" in run.describe()
    clock.now = 4.0
    run.add(Phase("flow search"))
    assert run.taken["loading"] == 4.0 and run.run_scale == pytest.approx(2.0)  # took twice the model's 2 s


def test_the_run_clocks_share_done_never_goes_back_when_a_phase_runs_long():
    """Issue 27: the texture change's synthesis taking twice its expectation doubled the later phases' and took the
    bar back at the spacing; the bar holds instead, while the time left says the new expectation."""
    book, clock = CostBook(MODEL), _Clock()
    change, = book.branches(_shape("geodesic", "change", 5))
    run = RunClock([change], dict.fromkeys(("synthesis", "spacing", "render"), 1.0), clock)
    synthesis, spacing, render = (leg.seconds for leg in change.legs)
    run.add(Phase("synthesis", 0.0))
    shares = []
    for now, report in ((synthesis, Phase("synthesis", 0.5)), (2 * synthesis, Phase("synthesis", 0.97)),
                        (2 * synthesis, Phase("refinement", detail={"taken": "change", "steps": 0})),
                        (2 * synthesis, Phase("spacing", 0.0)), (2 * synthesis + spacing, Phase("spacing", 0.4)),
                        (2 * synthesis + 2 * spacing, Phase("spacing", 0.9)), (2 * synthesis + 3 * spacing,
                                                                                Phase("render", 0.0))):
        clock.now = now
        run.add(report)
        shares.append(run.share_done())
        unheld = (clock.now - run.began) / (clock.now - run.began + run.seconds_left())
        assert shares[-1] >= unheld - 1e-12
    assert shares == sorted(shares) and shares[-1] < 1
    assert run.seconds_left() == pytest.approx(3 * render)  # the spacing took 3x: the render is expected so too


def test_the_run_clock_follows_the_texture_changes_synthesis_when_it_comes():
    book, clock = CostBook(MODEL), _Clock()
    branches = book.branches(_shape("geodesic", "auto", 10, steps=10))
    run = RunClock(branches, dict.fromkeys(("flow search", "synthesis", "spacing", "refinement", "render"), 1.0),
                   clock)
    run.add(Phase("flow search"))
    clock.now = 1.0
    run.add(Phase("texture checks"))  # the flow did not align the pair: the texture start's branch, the first
    assert run.legs == branches[1].legs and run.taken["flow search"] == 1.0
    clock.now = 2.0
    run.add(Phase("synthesis", 0.0))  # only the texture change's branch has it
    assert run.legs == branches[3].legs and run.phase == "synthesis" and run.taken["texture checks"] == 1.0
    assert run.describe() == "synthesising the texture change's frames (phase 3 of 5)"
    clock.now = 5.0
    run.add(Phase("refinement", detail={"taken": "change", "steps": 0}))  # kept as it is, as in the branch followed
    run.add(Phase("spacing"))
    assert run.legs == branches[3].legs and run.taken["synthesis"] == 3.0


def test_the_run_clock_takes_the_branch_of_the_start_the_run_names():
    """After the texture checks the run may still take the warp start (the flow explains the pair, no turn or zoom):
    the start the run names picks that branch, with no spacing ahead, rather than the texture start's."""
    book, clock = CostBook(MODEL), _Clock()
    branches = book.branches(_shape("geodesic", "auto", 10))
    run = RunClock(branches, dict.fromkeys(("flow search", "texture checks", "spacing", "render"), 1.0), clock)
    run.add(Phase("flow search"))
    clock.now = branches[0].legs[0].seconds  # the flow took its expected time
    run.add(Phase("texture checks"))
    assert run.legs == branches[1].legs  # the first branch with the checks: the texture start's
    run.add(Phase("refinement", detail={"taken": "warp", "steps": 0}))
    assert run.legs == branches[2].legs and run.phase == "texture checks"
    assert run.seconds_left() == pytest.approx(0.25 + 0.5)  # the checks, then the render: no spacing


def test_a_device_no_run_has_measured_says_so_with_the_cpus_time():
    """Issue 24: on a GPU the estimate said "not known" until a run had finished there; it says what is known (the
    CPU's time from the stored model) and no number of its own for the GPU."""
    from app.runs import forecast_text

    shape = _shape("geodesic", "none", 10)
    costs = CostBook(MODEL)
    said = forecast_text(SimpleNamespace(device=torch.device("cuda"), costs=costs),
                         SimpleNamespace(shape=shape, plan=shape.plan))
    (branch,) = costs.branches(shape)
    cpu = format_seconds(costs.seconds(branch, "cpu"), about=True)
    assert "not measured on cuda yet" in said and f"on this machine's CPU it would take {cpu}" in said, said
    costs.refresh("cuda", {"spacing": (1.0, 10.0), "refinement": (1.0, 10.0)})
    said = forecast_text(SimpleNamespace(device=torch.device("cuda"), costs=costs),
                         SimpleNamespace(shape=shape, plan=shape.plan))
    assert "not measured" not in said and "**" in said, said


def test_finished_runs_refresh_the_model_per_device_and_phase_and_keep_it(tmp_path):
    book = CostBook(MODEL, tmp_path)
    *_, refined = book.branches(_shape("geodesic", "auto", 10))
    assert book.seconds(refined, "cuda") is None  # the network's phases on a GPU: not known before a run there
    book.refresh("cuda", {"flow search": (4.0, 2.0), "refinement": (3.0, 30.0), "spacing": (0.5, 5.0),
                          "render": (0.5, 0.5)})
    assert book.scale("cpu", "flow search") == 2.0 and book.scale("cuda", "flow search") == 2.0  # on the CPU
    assert book.scale("cuda", "refinement") == pytest.approx(0.1) and book.scale("cpu", "refinement") == 1.0
    book.refresh("cuda", {"refinement": (6.0, 30.0)})
    assert book.scale("cuda", "refinement") == pytest.approx(0.15)  # averaged in
    again = CostBook(MODEL, tmp_path)  # the app restarted: what runs measured is kept in its output folder
    assert again.scale("cuda", "refinement") == pytest.approx(0.15) and again.seconds(refined, "cuda") is not None
    (tmp_path / LEARNED_NAME).write_text("{not json")
    assert CostBook(MODEL, tmp_path).scale("cpu", "flow search") == 1.0  # a damaged file: the stored model


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_run_clock_follows_every_phase_in_one_bar_and_takes_the_branch_the_start_took():
    book, clock = CostBook(MODEL), _Clock()
    kept, refined = book.branches(_shape("geodesic", "auto", 10, steps=10, size=(24, 24)))  # no texture checks
    run = RunClock([kept, refined], {name: 1.0 for name in ("flow search", "spacing", "refinement", "render")}, clock)
    flow = kept.legs[0].seconds
    assert run.phase is None and run.seconds_left() == pytest.approx(flow + 0.5)
    run.add(Phase("flow search"))
    clock.now = flow / 2
    assert run.describe() == "searching the flow between the images (phase 1 of 2)"
    assert run.seconds_left() == pytest.approx(flow / 2 + 0.5) and run.share_done() == pytest.approx(
        (flow / 2) / (flow + 0.5))
    clock.now = 2 * flow  # the flow took twice as long as expected: later phases are expected twice as long too
    run.add(Phase("refinement", detail={"taken": "dissolve", "steps": 10}))  # not the warp start: steps follow
    run.add(Phase("spacing"))
    assert run.describe() == "spacing the frames evenly (phase 2 of 4)" and run.run_scale == pytest.approx(2.0)
    assert run.seconds_left() == pytest.approx(2 * (refined.legs[1].seconds + refined.legs[2].seconds + 0.5))
    clock.now += 1.0
    run.add(SimpleNamespace(step=1, total_steps=10, stage=0, elapsed_s=0.5, eta_s=None))
    assert run.phase == "refinement" and run.taken["spacing"] == pytest.approx(1.0)
    run.add(Phase("render"))
    run.finish()
    assert set(run.measured()) == {"flow search", "spacing", "refinement", "render"}
    assert run.measured()["flow search"] == (pytest.approx(2 * flow), flow)


def test_snapshot_steps_start_at_zero_and_end_at_the_last_step():
    steps = snapshot_steps(620)
    assert steps[0] == 0 and steps[-1] == 620 and 25 <= len(steps) <= 35
    assert snapshot_steps(5) == [0, 1, 2, 3, 4, 5]


def test_format_seconds_reads_naturally():
    assert format_seconds(0.3) == "under a second"
    assert format_seconds(45) == "45 s" and format_seconds(45, about=True) == "about 45 s"
    assert format_seconds(200) == "3 min 20 s" and format_seconds(3900) == "1 h 05 min"


def test_run_folders_are_new_and_named_by_time_and_kind(tmp_path):
    first, second = new_run_folder(tmp_path, "average"), new_run_folder(tmp_path, "average")
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.endswith("-average") and second.name.startswith(first.name)


def test_preview_helpers_keep_pixels_exact():
    frames = np.zeros((3, 3, 8, 10), dtype=np.float32)
    frames[1] = 1.0
    import torch

    strip = filmstrip(torch.from_numpy(frames), gap=2)
    assert strip.shape == (8, 3 * 10 + 2 * 2, 3) and strip[:, 12:22].min() == 255 and strip[:, :10].max() == 0
    big = enlarged(strip, min_height=20)
    assert big.shape == (24, strip.shape[1] * 3, 3) and (big[::3, ::3] == strip).all()


def test_examples_are_deterministic_and_match_the_committed_pngs(tmp_path):
    first, second = example_arrays(), example_arrays()
    assert tuple(first) == NAMES
    assert all(np.array_equal(first[name], second[name]) for name in NAMES)
    written = write_examples(tmp_path)
    for name in NAMES:
        fresh = np.asarray(Image.open(written[name]))
        committed = np.asarray(Image.open(REPO_EXAMPLES_DIR / f"{name}.png"))
        assert fresh.shape == (96, 96, 3) and np.array_equal(fresh, committed), name


def test_command_line_defaults_are_local_and_private():
    args = parse_args([])
    assert args.host == "127.0.0.1" and args.share is False and args.device == "auto"
    assert args.output_dir == Path("outputs") and args.port == 7860
    args = parse_args(["--host", "0.0.0.0", "--port", "8000", "--output-dir", "runs", "--device", "cpu", "--share"])
    chosen = (args.host, args.port, args.output_dir, args.device, args.share)
    assert chosen == ("0.0.0.0", 8000, Path("runs"), "cpu", True)


def test_a_busy_port_is_one_line_with_the_fix_before_anything_loads(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "app", "--port", str(port), "--output-dir", str(tmp_path), "--device", "cpu"],
            capture_output=True, text=True, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"),
        )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"elpips-app: port {port} is in use: try make demo PORT={port + 1}\n"


@pytest.mark.slow
def test_python_dash_m_app_serves_the_app_on_loopback(tmp_path):
    """The command a README user types: it binds 127.0.0.1 and serves the five tabs."""
    import json as json_module
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1")
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port), "--output-dir", str(tmp_path), "--device", "cpu"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                    config = json_module.loads(response.read())
                break
            except OSError:
                assert time.monotonic() < deadline, "the app did not start within 2 minutes"
                time.sleep(0.5)
        labels = {component.get("props", {}).get("label") for component in config["components"]}
        assert {"Distance", "Compare", "Average", "Geodesic", "Robustness"} <= labels
        outside = socket.gethostbyname(socket.gethostname())
        if not outside.startswith("127."):  # bound to loopback only: the machine's own address is refused
            with pytest.raises(OSError):
                socket.create_connection((outside, port), timeout=2).close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_energy_plot_data_is_thinned_but_keeps_the_ends():
    from app.ui import _energy_frame

    frame = _energy_frame([(step, 1.0 / step) for step in range(1, 1001)])
    assert len(frame) <= 400 and frame["step"].iloc[0] == 1 and frame["step"].iloc[-1] == 1000
    assert str(frame["step"].dtype) == "int64" and str(frame["energy"].dtype) == "float64"
    empty = _energy_frame([])
    assert len(empty) == 0 and str(empty["energy"].dtype) == "float64"


def test_without_the_repository_assets_the_examples_are_generated(tmp_path, monkeypatch):
    import app.examples

    monkeypatch.setattr(app.examples, "REPO_EXAMPLES_DIR", tmp_path / "missing")
    paths = app.examples.example_paths(tmp_path / "generated")
    assert set(paths) == set(NAMES) and all(path.parent == tmp_path / "generated" for path in paths.values())
    assert all(path.is_file() for path in paths.values())


def test_the_bundled_adversarial_example_fools_lpips_but_not_elpips(metric_lpips, metric_elpips):
    """Made by `elpips.attack` (app.examples.ADVERSARIAL_RECIPE): within 8/255 of the noisy disc, LPIPS-VGG
    ranks it closer to the clean disc than the moved disc (which it ranks closer than the noisy one);
    E-LPIPS keeps the moved disc closer."""
    import elpips

    from app.examples import ADVERSARIAL

    load = {name: elpips.load_image(REPO_EXAMPLES_DIR / f"{name}.png")
            for name in ("disc_left", "disc_left_noisy", "disc_left_moved", ADVERSARIAL)}
    adversarial, noisy, moved = load[ADVERSARIAL], load["disc_left_noisy"], load["disc_left_moved"]
    assert float((adversarial - noisy).abs().max()) <= 8 / 255 + 1e-6
    with torch.no_grad():
        lpips = elpips.compare(metric_lpips, load["disc_left"], [adversarial, moved, noisy]).values
        result = elpips.compare(metric_elpips, load["disc_left"], [adversarial, moved], samples=20,
                                generator=torch.Generator().manual_seed(0))
    assert lpips[0] < lpips[1] < lpips[2]
    assert result.closest == 1 and result.diff[0, 1] > 4 * result.diff_stderr[0, 1]


def test_without_the_repository_assets_the_adversarial_example_is_made_once(tmp_path, monkeypatch):
    import app.examples

    monkeypatch.setattr(app.examples, "REPO_EXAMPLES_DIR", tmp_path / "missing")
    monkeypatch.setitem(app.examples.ADVERSARIAL_RECIPE, "steps", 2)  # the recipe's own 100 take a minute
    path = app.examples.adversarial_example_path(tmp_path / "generated")
    assert path == tmp_path / "generated" / "disc_left_adversarial.png" and path.is_file()
    made = path.stat().st_mtime_ns
    assert app.examples.adversarial_example_path(tmp_path / "generated") == path and path.stat().st_mtime_ns == made
    noisy = np.asarray(Image.open(tmp_path / "generated" / "disc_left_noisy.png"), dtype=int)
    change = np.abs(np.asarray(Image.open(path), dtype=int) - noisy)
    assert 0 < change.max() <= 8


def test_the_app_and_the_engine_share_one_metric_cache():
    from geometry.engine.distances import load_cached

    from app.distance import MetricShelf

    cpu = torch.device("cpu")
    shelf = MetricShelf(cpu)
    small = shelf.at_size("elpips_vgg", (32, 32))  # fewer scale levels: its own entry, loaded once
    assert small is DistanceFamily("elpips_vgg", cpu).at_size((32, 32)) is load_cached("elpips_vgg", cpu, 4)
    assert DistanceFamily("elpips_vgg", cpu).config_at_size((32, 32)) == small.config  # the forecast's draws' config
    assert shelf.at_size("lpips_vgg", (64, 64)) is load_cached("lpips_vgg", "cpu")


def test_step_lines_say_what_is_known_in_words():
    from app.runs import step_line

    def line(step, energy, eta):
        return step_line(SimpleNamespace(step=step, total_steps=10, energy=energy), eta)

    assert line(0, math.nan, None) == "Step 0/10"  # the step-0 report comes before any energy
    assert line(3, 0.123456, 0.4) == "Step 3/10: energy 0.12346, under a second left"
    assert line(3, 0.123456, 45) == "Step 3/10: energy 0.12346, about 45 s left"


def test_energy_plot_is_the_running_mean_of_the_last_tenth_of_the_steps():
    from app.ui import _energy_frame, running_mean

    assert running_mean([1.0, 3.0, 5.0, 7.0], 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    noisy = [(step, 1.0 + (0.5 if step % 2 else -0.5)) for step in range(1, 101)]  # 10-step window
    frame = _energy_frame(noisy)
    assert frame["step"].tolist() == list(range(1, 101))
    assert frame["energy"].iloc[20:].tolist() == pytest.approx([1.0] * 80)  # the one-step noise averages out
    assert _energy_frame(noisy, smooth=False)["energy"].iloc[20:].tolist() == [e for _, e in noisy[20:]]
    assert _energy_frame([]).empty


def test_an_upload_replaces_the_average_examples_and_the_tab_says_what_it_will_average(tmp_path):
    """Gradio appends an upload to the files shown: the bundled examples among them are taken out (they were
    averaged with the user's photos into a ghost blend); a list of examples only, chosen as one, stays."""
    from app.previews import file_digest
    from app.runs import average_plan, without_examples

    examples = [str(REPO_EXAMPLES_DIR / f"{name}.png") for name in ("disc_left", "disc_right", "disc_top")]
    copies = []  # the examples as Gradio holds them: copies in another folder
    for path in examples:
        copy = tmp_path / "cache" / Path(path).name
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(Path(path).read_bytes())
        copies.append(str(copy))
    photos = []
    for k in range(2):
        photos.append(str(tmp_path / f"photo{k}.png"))
        Image.fromarray(np.full((32, 32, 3), 60 * k, dtype=np.uint8)).save(photos[-1])
    digests = frozenset(file_digest(path) for path in examples)
    assert without_examples(copies + photos, digests) == (photos, True)
    assert without_examples(copies, digests) == (copies, False)
    assert without_examples(photos, digests) == (photos, False)
    assert average_plan(photos, [1.0, 0.5, 1.0, 1.0, 1.0, 1.0]) == (
        "Run averages these 2 images, weighted: **photo0.png** × 1 (67%), **photo1.png** × 0.5 (33%).")
    assert "upload 2 to 6" in average_plan(photos[:1], [1.0] * 6)


def test_every_motion_start_is_described_where_it_is_chosen():
    from geometry.paths.motion import MOTION_NAMES

    from app.ui import average_motion_info, average_motion_update, motion_dropdown

    dropdown = motion_dropdown("motion", average_motion_info(2))
    assert [value for _, value in dropdown.choices] == list(MOTION_NAMES) and dropdown.value == "auto"
    assert all(label.startswith(f"{value}: ") and len(label) > len(value) + 20 for label, value in dropdown.choices)
    assert "Two images" in dropdown.info and dropdown.interactive
    # three images take no motion start: the Average tab's choice turns inactive and says so, per image count
    three = average_motion_update(3)
    assert three["interactive"] is False and "Not used for 3 images" in three["info"]
    assert average_motion_update(2)["interactive"] is True
    # each start's line says what the engine does after it: kept as it is, or refined
    from geometry.engine.problems import UNREFINED_STARTS

    from app.ui import MOTION_WORDS

    for name in ("warp", "dis", "texture", "change", "none"):
        assert ("kept as it is" in MOTION_WORDS[name]) == (name in UNREFINED_STARTS), name
        assert ("refined" in MOTION_WORDS[name]) == (name not in UNREFINED_STARTS), name


def test_the_average_keeps_as_many_files_as_it_has_weight_sliders():
    from app.runs import MAX_AVERAGE_IMAGES, average_selection

    files = [f"/tmp/upload/{k}/image{k}.png" for k in range(MAX_AVERAGE_IMAGES + 2)]
    kept, message = average_selection(files)
    assert kept == files[:MAX_AVERAGE_IMAGES]
    assert f"at most {MAX_AVERAGE_IMAGES} images" in message and "left out image6.png, image7.png" in message
    assert "/tmp" not in message
    assert average_selection(files[:2]) == (files[:2], None)


def test_an_unreadable_upload_is_named_by_its_file_never_by_the_servers_folder(tmp_path):
    import gradio as gr

    from app.uploads import UnreadableUpload, load_upload

    broken = tmp_path / "gradio" / "0123abcd" / "holiday.png"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    with pytest.raises(gr.Error) as raised:
        load_upload(str(broken), "Start (A)")
    message = raised.value.message
    assert message.startswith("Start (A): could not read holiday.png as an image (") and "Upload a PNG" in message
    assert str(tmp_path) not in message
    with pytest.raises(gr.Error) as raised:
        load_upload(UnreadableUpload("x.png", "truncated"), "End (B)")  # what Gradio could not open itself
    assert raised.value.message.startswith("End (B): could not read x.png as an image (truncated). Upload a PNG")


def test_tab_errors_go_to_the_status_area_and_the_other_outputs_keep_their_values():
    import gradio as gr

    from app.ui import shows_errors

    @shows_errors(3)
    def run(fail_after: int):
        for k in range(fail_after):
            yield f"step {k}", k, k
        raise gr.Error("Geodesic: give both a start and an end image.")

    *steps, last = list(run(1))
    assert steps == [("step 0", 0, 0)]
    assert last[0] == "**Error:** Geodesic: give both a start and an end image."
    assert all(isinstance(value, type(gr.skip())) for value in last[1:])


def test_the_resize_note_says_what_was_enlarged_and_how_grey_and_transparency_were_converted(tmp_path):
    import gradio as gr

    from app.uploads import MIN_SIDE, load_upload, prepare_uploads

    files = {
        "grey.png": Image.fromarray(np.full((64, 64), 120, dtype=np.uint8), mode="L"),
        "clear.png": Image.fromarray(np.zeros((96, 96, 4), dtype=np.uint8), mode="RGBA"),
        "plain.png": Image.fromarray(np.zeros((128, 96, 3), dtype=np.uint8)),
        "dot.png": Image.new("RGB", (1, 1)),
        "thin.png": Image.new("RGB", (200, MIN_SIDE - 1)),
    }
    paths = {}
    for name, image in files.items():
        image.save(tmp_path / name)
        paths[name] = str(tmp_path / name)
    kept = ["grey.png", "clear.png", "plain.png"]
    images = [load_upload(paths[name], name) for name in kept]
    batch, note = prepare_uploads(images, kept, 96, paths=[paths[name] for name in kept])
    assert batch.shape == (3, 3, 96, 96) and (batch[0] == batch[0, :1]).all()  # grey: one level in R, G and B
    grey, clear, plain = note.splitlines()[1:]
    assert "64x64, **enlarged 1.5x** to 96x96" in grey and "a resolution of 64 px keeps its own pixels" in grey
    assert "grey levels copied into red, green and blue" in grey and "transparency" not in grey
    assert "96x96, used as is, transparency composited onto white, as the preview shows it" in clear
    assert batch[1].eq(1).all()  # fully transparent: measured as the white the preview shows
    assert "centre-cropped to 96x96" in plain and "enlarged" not in plain and "grey" not in plain
    for name, size in (("dot.png", "1x1"), ("thin.png", f"200x{MIN_SIDE - 1}")):
        with pytest.raises(gr.Error) as raised:
            load_upload(paths[name], "Image A")
        assert raised.value.message == (
            f"Image A: {name} is {size} pixels; the app needs at least {MIN_SIDE} px on each side (enlarged, a "
            "smaller image holds no detail to measure). Upload a larger image.")


def test_one_adapter_streams_every_long_run_tab():
    """`stream_to_tab`: the first update clears the last run's pictures and results, a picture is redrawn only
    for a new snapshot, the results come with the outcome and the final picture from it when the tab says so."""
    import gradio as gr

    from app.runs import STARTING, TabUpdate
    from app.tasks import Watch
    from app.ui import LiveTab, _energy_frame, stream_to_tab

    skip = type(gr.skip())
    watch = Watch(snapshot="frames-at-2", snapshot_step=2, energies=[(1, 2.0), (2, 1.0)])
    watch.latest = SimpleNamespace(step=2, total_steps=4, eta_s=None)
    views = [TabUpdate("waiting"), TabUpdate("step 2", watch, True), TabUpdate("step 3", watch, False),
             TabUpdate("done", watch, True, outcome="outcome")]
    tab = LiveTab(2, 1, preview=lambda images: (f"live {images}", f"diff {images}"),
                  results=lambda done: (f"result of {done}",), final_images=lambda done: f"final of {done}")
    updates = list(stream_to_tab(iter(views), "note", tab))
    first, waiting, stepped, same, done = updates
    assert first[:5] == (STARTING, "", "note", None, None) and first[5].empty and first[6] is None
    assert waiting[0] == "waiting" and isinstance(waiting[3], skip) and isinstance(waiting[6], skip)
    assert stepped[3:5] == ("live frames-at-2", "diff frames-at-2") and "2/4 steps" in stepped[1]
    assert stepped[5].equals(_energy_frame(watch.energies))
    assert isinstance(same[3], skip) and isinstance(same[6], skip)  # no new snapshot: the pictures stay
    assert done[3:5] == ("live final of outcome", "diff final of outcome") and done[6] == "result of outcome"


def test_the_time_left_takes_relative_costs_as_priors_as_the_engine_does():
    """With the stages' relative costs as priors (what the engine has: no measurement before the run), the
    later stage is timed by its cost times the running stage's measured seconds per unit of cost."""
    clock = TimeLeft([(10, 1.0), (5, 4.0)])
    elapsed = 3.0  # the first step also pays for setting the stage up
    assert clock.tick(0, 1, elapsed) is None  # no step time measured yet
    for step in range(2, 6):
        elapsed += 0.5
        left = clock.tick(0, step, elapsed)
    assert left == pytest.approx(5 * 0.5 + 5 * 4.0 * 0.5)
    assert TimeLeft([(10, None), (5, None)]).tick(0, 1, 1.0) is None


@pytest.mark.parametrize("kind", ["barycenter", "geodesic"])
def test_the_forecast_the_memory_check_and_the_engine_take_one_recipe(kind, monkeypatch):
    # The memory check once asked for a path's recipe without the image size, the forecast with it.
    from geometry.engine import memory
    from geometry.engine.presets import effective_stages, run_recipe, stage_sizes

    size = (256, 384)
    recipe = run_recipe("fast", PROBLEMS[kind], size, steps=120)
    stages = effective_stages(recipe.stages, size)
    plan = plan_run("fast", kind, 120, size)
    assert plan.stages == tuple(stages) and plan.sizes == tuple(stage_sizes(stages, size))
    asked = []
    monkeypatch.setattr(memory, "run_recipe", lambda *args, **kwargs: asked.append((args, kwargs)) or recipe)
    memory.run_memory(kind, "l2", 3, 1, size, "fast", 120)
    assert asked == [(("fast", PROBLEMS[kind], size), {"steps": 120, "draws_per_step": None})]


def test_an_upload_is_measured_as_the_librarys_loader_reads_the_file(tmp_path):
    """A 16-bit grey ramp keeps its levels and an RGBA image is composited as the tools composite it: the
    upload component hands over the file itself, never Gradio's 8-bit RGB conversion of it."""
    from gradio.data_classes import ImageData

    import elpips

    from app.uploads import image_input, load_upload

    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 255  # red stored everywhere, opaque blue square in the middle
    rgba[8:24, 8:24] = (0, 0, 255, 255)
    files = {"ramp.png": Image.fromarray(ramp), "square.png": Image.fromarray(rgba, mode="RGBA")}
    component = image_input(label="Image A")
    for name, image in files.items():
        image.save(tmp_path / name)
        path = component.preprocess(ImageData(path=str(tmp_path / name), orig_name=name))
        measured = load_upload(path, "Image A")
        assert torch.equal(measured, elpips.load_image(tmp_path / name))
    assert float(measured[0, 0, 0, 0]) == 1.0 and float(measured[0, 2, 16, 16]) == 1.0  # white around blue
    ramp_read = load_upload(component.preprocess(ImageData(path=str(tmp_path / "ramp.png"))), "Image A")
    assert float(ramp_read.min()) == 0.0 and float(ramp_read.max()) == 1.0 and ramp_read.unique().numel() == 64


def test_a_tiff_upload_is_shown_as_the_apps_picture_and_measured_from_the_file(tmp_path):
    """Browsers do not display TIFF: the input gets a PNG of what the loader reads (transparency on white, at most
    PREVIEW_SIDE px), the status says so beside what it said of other inputs, and the run reads the TIFF itself, not
    the 8-bit picture; a PNG is shown as it is, and anything else in the input is read as it is."""
    import imageio.v3 as iio

    import elpips

    from app.previews import PREVIEW_SIDE, Shown, browser_shows, measured_file, preview_of
    from app.runs import error_status
    from app.ui import preview_note, upload_words

    rgba = np.zeros((40, 2 * PREVIEW_SIDE, 4), np.uint8)
    rgba[..., 0] = 255  # red under the transparent pixels, an opaque blue band
    rgba[10:30] = (0, 0, 255, 255)
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    for name, pixels in (("band.tif", rgba), ("ramp16.tif", ramp), ("band.png", rgba)):
        iio.imwrite(tmp_path / name, pixels)
    assert browser_shows(tmp_path / "band.png") and preview_of(tmp_path / "band.png") == str(tmp_path / "band.png")
    picture = Path(preview_of(tmp_path / "band.tif"))
    assert picture.name == "band.tif.preview.png" and browser_shows(picture)
    pixels = np.asarray(Image.open(picture))
    assert pixels.shape == (20, PREVIEW_SIDE, 3)  # 40 x 2048 shrunk to at most PREVIEW_SIDE
    assert (pixels[0, 0] == (255, 255, 255)).all() and (pixels[10, 0] == (0, 0, 255)).all()  # white, not red

    preview = preview_of(tmp_path / "ramp16.tif")
    upload = Shown.of(tmp_path / "ramp16.tif", preview)
    copy = tmp_path / "gradio-cache" / "ramp16.tif.preview.png"  # Gradio serves the picture from its own copy
    copy.parent.mkdir()
    copy.write_bytes(Path(preview).read_bytes())
    assert measured_file(str(copy), upload) == str(tmp_path / "ramp16.tif")
    assert elpips.load_image(measured_file(str(copy), upload)).unique().numel() == 64  # the 16-bit levels
    assert measured_file(str(tmp_path / "band.png"), upload) == str(tmp_path / "band.png")  # another image put in since
    assert measured_file(None, upload) is None and measured_file(str(copy), None) == str(copy)

    note = preview_note("Image A", tmp_path / "ramp16.tif")
    assert note.startswith("Image A: browsers do not display ramp16.tif (a TIFF file)")
    error = error_status("Image B: could not read x.png as an image")
    status = upload_words(f"### Distance: 0.1\n\n{error}", "Image A", note)  # the old result goes, B's error stays
    assert status == f"{error}\n\n{note}"
    assert upload_words(status, "Image A", None) == error and upload_words(status, "Image B", None) == note


def test_a_distance_is_placed_among_the_measured_reference_pairs():
    from geometry.engine.distances import METRIC_NAMES

    from app.scale import reference_distances, scale_sentence

    stored = reference_distances()
    assert set(stored) == set(METRIC_NAMES)  # every metric the Distance tab offers has its references
    pairs = stored["elpips_vgg"]["96"]
    assert pairs["identical"] == 0 < pairs["jpeg"] and max(pairs.values()) == pairs["different_photos"]
    middle = (max(pairs["jpeg"], pairs["shift_1px"]) + pairs["different_photos"]) / 2
    assert "lies between a " in scale_sentence("elpips_vgg", 96, middle) and "and two different photos" in \
        scale_sentence("elpips_vgg", 96, middle)
    assert "at or beyond two different photos" in scale_sentence("elpips_vgg", 100, 1.0)  # nearest: 96 px
    assert "at 256 px" in scale_sentence("lpips_vgg", 300, 0.01)
    assert scale_sentence("not_a_metric", 96, 0.1) is None


def test_a_click_shows_errors_in_as_many_outputs_as_the_event_has():
    import gradio as gr

    from app.ui import on_click

    wired = {}

    class Button:
        def click(self, function, inputs, outputs, **kwargs):
            wired.update(function=function, outputs=outputs, kwargs=kwargs)

    def fail():
        raise gr.Error("Average: upload at least two images.")

    on_click(Button(), fail, [], ["status", "progress", "note", "live"], api_name="average")
    (shown,) = list(wired["function"]())
    assert len(shown) == 4 and shown[0] == "**Error:** Average: upload at least two images."
    assert wired["kwargs"] == {"api_name": "average"}


def test_a_pixel_trimmed_by_rounding_is_said_as_a_trim_not_a_crop():
    from app.uploads import crop_words

    assert crop_words(480, 300, 480, 299) == ("1 px trimmed from its height (rounding to whole pixels at the target "
                                              "size)")
    assert crop_words(72, 40, 40, 40) == "centre-cropped to 40x40 (the first image's aspect ratio)"


def test_a_run_shows_each_phase_in_its_status_and_in_one_bar(tmp_path):
    """Before its first step (the flow search) and after its last (the render) a run said "Starting..." with no bar;
    each phase is named in the status and the one bar, with the run's time left."""
    from app.runs import AppContext, follow_task, progress_bar

    ctx = AppContext(output_root=tmp_path, device=torch.device("cpu"), slot=DeviceSlot("cpu"))
    kept, *_, refined = CostBook(MODEL).branches(_shape("geodesic", "auto", 10))
    clock = RunClock([kept, refined], {name: 1.0 for name in ("flow search", "spacing", "refinement", "render")})
    proceed = threading.Event()

    def run(callback, cancel):
        callback(Phase("flow search"))
        assert proceed.wait(30)
        callback(Phase("refinement", detail={"taken": "warp", "steps": 0}))
        callback(Phase("render"))
        return SimpleNamespace(artefacts=SimpleNamespace(status="completed", steps=0, seconds=2.0))

    views = follow_task(ctx, DeviceTask("geodesic", ctx.slot, run, save=lambda result: result, eta=clock), "s", "hi")
    searching = next(view for view in views if "Searching" in view.status)
    assert re.search(r"Searching the flow between the images\.\.\. (about .+|under a second) left in all",
                     searching.status), searching.status
    bar = progress_bar(searching)
    assert "Searching the flow between the images (phase 1 of 2)" in bar and "% of the run" in bar, bar
    proceed.set()
    last = list(views)[-1]
    assert "Done in 2 s: the start kept as it is, no refinement step" in last.status
    assert "Done: every phase of the run" in progress_bar(last)
