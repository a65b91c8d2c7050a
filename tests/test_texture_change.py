"""One texture becoming another: the superposition score, synthesis at in-between statistics, and the start
that "auto" takes for two different stationary textures."""
from __future__ import annotations

import threading

import pytest
import torch
from synthetic import band_noise, brick_view

from geometry import geodesic
from geometry.engine import phases
from geometry.engine.problems import CLIP_HIGH, CLIP_LOW
from geometry.paths.motion import DissolvePath, auto_start
from geometry.paths.quality import highpass_contrast, layout_correlation
from geometry.paths.sliced import superposition_score
from geometry.paths.spacing import dissolve as spaced_dissolve
from geometry.paths.synthesis import KNOTS, STEPS, FreshLayoutPath, SynthesisPath, synthesise, synthesised_path

MIDDLE = torch.tensor([0.5], dtype=torch.float64)


@pytest.fixture(scope="module")
def change():
    """A brick wall and coarse isotropic noise, 48 px."""
    return brick_view(48, (100.0, 40.0)), band_noise(48, None, period=10.0, seed=3)


def test_the_dissolve_scores_as_a_superposition_and_a_synthesised_middle_as_one_texture(change):
    a, b = change
    dissolve = (a + b) / 2
    assert superposition_score(dissolve, a, b).fraction == pytest.approx(1.0)
    middle = synthesise(a, b, MIDDLE, dissolve, steps=12, generator=torch.Generator().manual_seed(0))
    assert superposition_score(middle, a, b).fraction < 0.75
    reference = (highpass_contrast(a) + highpass_contrast(b)) / 2
    assert highpass_contrast(middle) > highpass_contrast(dissolve) and highpass_contrast(middle) > 0.85 * reference


def test_synthesis_is_seeded_and_keeps_grey_endpoints_grey(change):
    a, b = change
    start = (a + b) / 2
    first, second = (synthesise(a, b, MIDDLE, start, steps=2, generator=torch.Generator().manual_seed(4))
                     for _ in range(2))
    assert torch.equal(first, second)
    assert torch.equal(first[:, 0], first[:, 2]) and not torch.equal(first, start)


def test_a_synthesised_path_holds_its_knots_and_renders_at_any_size(change):
    a, b = change
    path = synthesised_path(DissolvePath(), a, b, steps=1)
    knots = torch.tensor(KNOTS, dtype=torch.float64)
    frames = path.frames(a, b, knots)
    assert torch.allclose(frames, ((1 - knots.view(-1, 1, 1, 1)) * a + knots.view(-1, 1, 1, 1) * b
                                   + path.corrections).clamp(0, 1).float(), atol=1e-6)
    between = path.frames(a, b, torch.tensor([0.375], dtype=torch.float64))
    assert torch.allclose(between, ((frames[0] + frames[1]) / 2).clamp(0, 1), atol=1e-5)
    big = path.frames(*(torch.nn.functional.interpolate(x, size=(64, 64)) for x in (a, b)), knots)
    assert big.shape == (3, 3, 64, 64)
    assert isinstance(path, SynthesisPath)


def test_a_path_synthesised_at_given_times_is_the_synthesis_there_and_blends_between(change):
    """Issue 27: a frame at one of the times a change path was synthesised at is that synthesis, not a blend."""
    a, b = change
    knots = torch.tensor([0.3, 0.6], dtype=torch.float64)
    path = synthesised_path(DissolvePath(), a, b, knots=knots, steps=1, generator=torch.Generator().manual_seed(0))
    made = synthesise(a, b, knots, spaced_dissolve(a, b, knots), steps=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(path.frames(a, b, knots), made)
    between = path.frames(a, b, torch.tensor([0.45], dtype=torch.float64))
    assert torch.allclose(between, ((made[0] + made[1]) / 2).clamp(0, 1), atol=1e-5)
    assert not any(torch.equal(between[0], frame) for frame in made)


def _change_run(change, **settings):
    a, b = change
    return geodesic(a[..., :32, :32], b[..., :32, :32], frames=5, seed=0, motion="change", snapshot_steps=[],
                    distance="l2", **settings)


@pytest.mark.slow
def test_a_change_runs_frames_are_each_one_synthesis_at_its_spaced_time_and_report_one_spacing(change):
    """Issue 27: the run synthesises every in-between frame at its time; the syntheses after the start's are part
    of its spacing, whose share only moves forward (the app's bar never goes back to the synthesis)."""
    reports: list = []
    with phases.listening(reports.append):
        run = _change_run(change)
    a, b = (x[..., :32, :32] for x in change)
    times = run.times
    made = synthesise(a, b, times, FreshLayoutPath(a, b).frames(a, b, times),
                      generator=torch.Generator().manual_seed(0))
    assert torch.equal(run.path(times), made)
    assert torch.equal(run.images[1:-1], made.clamp(CLIP_LOW, CLIP_HIGH))
    names = [report.name for report in reports]
    first_spacing = names.index("spacing")
    assert set(names[:first_spacing]) == {"synthesis", "refinement"} and set(names[first_spacing:]) == {"spacing"}
    shares = [report.done for report in reports[first_spacing:]]
    assert shares == sorted(shares) and shares[-1] <= 1 and len(shares) > STEPS   # at least one synthesis
    assert run.record.settings["start"]["taken"] == "change" and run.record.evaluations > 0


@pytest.mark.slow
def test_a_cancel_reaches_the_changes_synthesis_inside_its_spacing(change):
    cancel, spacing = threading.Event(), []

    def listener(phase):
        if phase.name == "spacing":
            spacing.append(phase.done)
            if len(spacing) == 6:  # the even spacing reports 4 times: this is the second synthesis step
                cancel.set()

    with phases.listening(listener):
        run = _change_run(change, cancel=cancel)
    assert run.record.status == "cancelled" and len(spacing) == 6


@pytest.mark.slow
def test_a_refined_change_run_resumes_bit_for_bit(change, tmp_path):
    """The change start is made again on resume: it must come out the same."""
    whole = _change_run(change, refine="pixels", steps=6)
    cancel = threading.Event()

    def after_three(progress):
        if progress.step == 3:
            cancel.set()

    checkpoint = tmp_path / "run.pt"
    stopped = _change_run(change, refine="pixels", steps=6, checkpoint=checkpoint, checkpoint_every=2,
                          callback=after_three, cancel=cancel)
    assert stopped.record.status == "cancelled" and 0 < stopped.record.steps < 6 and checkpoint.exists()
    resumed = _change_run(change, refine="pixels", steps=6, checkpoint=checkpoint, checkpoint_every=2)
    assert resumed.record.status == "completed" and torch.equal(resumed.images, whole.images)


@pytest.mark.slow
def test_a_change_runs_segments_are_even():
    """Issue 27: frames blended between syntheses at fixed knots and spaced along that blend came out uneven from
    the dissolve-started synthesis; a run synthesises them at their times and re-times them: max/min consecutive
    E-LPIPS within the issue's 1.3 (from the fresh layout the fixed-knot start is about as even here, 1.25 vs the
    run's 1.26, so the test no longer compares the two). Judged on 128 draws: on 32 the estimate's own noise
    spans 1.21-1.31 for these very frames."""
    from geometry import estimate_energy

    a, b = brick_view(48, (100.0, 40.0)), band_noise(48, None, period=10.0, seed=3)

    def evenness(frames):
        found = estimate_energy(images=frames, kind="geodesic", inputs=torch.cat([a, b]), samples=128, seed=20261205)
        return max(found.distances) / min(found.distances)

    run = geodesic(a, b, frames=5, seed=0, motion="change", snapshot_steps=[])
    assert evenness(run.images) <= 1.3


def test_the_fresh_layout_path_runs_from_a_to_b_through_a_layout_of_its_own(change):
    """Issue 27: the change start's middle copies neither endpoint's arrangement, and the path is continuous."""
    a, b = change
    path = FreshLayoutPath(a, b)
    times = torch.tensor([0.0, 0.2, 0.49, 0.5, 0.51, 1.0], dtype=torch.float64)
    frames = path.frames(a, b, times)
    assert torch.equal(frames[0], a[0]) and torch.equal(frames[-1], b[0])
    assert torch.equal(frames[:, 0], frames[:, 2])   # grey endpoints, grey frames
    assert layout_correlation(frames[1:2], a) > 0.6
    assert max(abs(layout_correlation(frames[3:4], x)) for x in (a, b)) < 0.3   # chance: up to 0.29 at 48 px
    assert (frames[2] - frames[4]).abs().mean() < 0.2 * (frames[0] - frames[3]).abs().mean()
    big = path.frames(*(torch.nn.functional.interpolate(x, size=(72, 72), mode="bilinear") for x in (a, b)),
                      times[3:4])
    small = torch.nn.functional.interpolate(big, size=(48, 48), mode="bilinear", antialias=True)
    assert big.shape == (1, 3, 72, 72) and layout_correlation(small, frames[3:4]) > 0.8


def test_a_texture_changes_middle_keeps_neither_endpoints_layout(change):
    """Issue 27: started from the dissolve, the synthesis kept the brick wall's mortar lines where they were (the
    superposition score, which sees statistics only, did not see them); the change start's middle has a layout
    of its own, and is still one texture."""
    a, b = change
    middle = synthesised_path(FreshLayoutPath(a, b), a, b, knots=MIDDLE, steps=12,
                              generator=torch.Generator().manual_seed(0)).frames(a, b, MIDDLE)
    from_dissolve = synthesise(a, b, MIDDLE, (a + b) / 2, steps=12, generator=torch.Generator().manual_seed(0))
    assert layout_correlation(from_dissolve, a) > 0.5
    assert max(abs(layout_correlation(middle, x)) for x in (a, b)) < 0.3   # chance: up to 0.29 at 48 px
    assert superposition_score(middle, a, b).fraction < 0.75


def test_auto_takes_the_texture_change_for_two_stationary_textures(change):
    a, b = change
    decision: dict = {}
    path = auto_start(a, b, decision=decision)
    assert decision["taken"] == "change" and decision["stationarity"] <= decision["textures_if_at_most"]
    middle = path(MIDDLE)
    assert superposition_score(middle, a, b).fraction < 0.75
    wall, panned = brick_view(64, (100.0, 40.0)), {}
    auto_start(wall[..., 8:56, 4:52], wall[..., 8:56, 10:58], decision=panned)   # the same wall 6 px along
    assert panned["taken"] == "warp"


def test_a_texture_change_is_not_refined_by_default():
    from geometry.engine.problems import refine_applies

    assert refine_applies("auto", "change") == "none" and refine_applies("pixels", "change") == "pixels"


def test_superposition_score_rejects_bad_images(change):
    a, b = change
    with pytest.raises(ValueError, match="one size"):
        superposition_score(a[..., :40], a, b)
    with pytest.raises(ValueError, match="too small"):
        superposition_score(*(x[..., :16, :16] for x in (a, a, b)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_synthesis_runs_on_cuda_like_on_the_cpu(change):
    a, b = change
    start = (a + b) / 2
    on_cpu = synthesise(a, b, MIDDLE, start, steps=3, generator=torch.Generator().manual_seed(0))
    on_gpu = synthesise(a.cuda(), b.cuda(), MIDDLE, start.cuda(), steps=3, generator=torch.Generator().manual_seed(0))
    assert on_gpu.is_cuda
    assert (on_gpu.cpu() - on_cpu).abs().max() < 2e-2


def test_the_synthesis_reports_its_phase_and_stops_at_a_cancel(change):
    """Issue 24: every phase shows in the app's one progress bar, and Cancel is prompt in every phase."""
    from geometry.paths.motion import change_start

    a, b = change
    reports, cancel = [], threading.Event()

    def listener(phase):
        reports.append(phase)
        if len(reports) == 2:
            cancel.set()  # pressed during the second step

    with phases.listening(listener):
        assert change_start(a, b, cancel=cancel) is None
    assert [(phase.name, phase.done) for phase in reports] == [("synthesis", 0.0), ("synthesis", 1 / STEPS)]
    assert synthesised_path(DissolvePath(), a, b, steps=1, cancel=cancel) is None


def _counted_change_run(change, monkeypatch, even_enough):
    """A change run with the re-timing's stopping max/min set to `even_enough`: (run, the times the engine
    synthesised its frames at, in order)."""
    import geometry.engine.problems as problems
    from geometry.paths.motion import change_path

    synthesised: list = []

    def counted(a, b, times, cancel=None):
        synthesised.append(times.clone())
        return change_path(a, b, times, cancel=cancel)

    monkeypatch.setattr(problems, "EVEN_ENOUGH", even_enough)
    monkeypatch.setattr(problems, "change_path", counted)
    return _change_run(change), synthesised


@pytest.mark.slow
def test_a_change_is_re_timed_until_its_segments_are_even_enough(change, monkeypatch):
    """Issue 27: frames synthesised at new times move the distances again, so the re-timing repeats (at most
    CHANGE_ROUNDS rounds) until the measured segments' max/min is at most EVEN_ENOUGH, and stops at once when the
    first syntheses are even enough."""
    from geometry.engine.problems import CHANGE_ROUNDS

    never, rounds = _counted_change_run(change, monkeypatch, even_enough=1.0)
    assert len(rounds) == 1 + CHANGE_ROUNDS and torch.equal(never.times, rounds[-1])
    assert all(not torch.equal(first, second) for first, second in zip(rounds, rounds[1:]))
    at_once, kept = _counted_change_run(change, monkeypatch, even_enough=float("inf"))
    assert len(kept) == 1 and torch.equal(at_once.times, kept[0]) and torch.equal(kept[0], rounds[0])
    assert never.record.evaluations > at_once.record.evaluations
    # the record says how many rounds measured the frames (the app's forecast counts them) and how even the last found
    ran, once = never.record.settings["start"], at_once.record.settings["start"]
    assert ran["retiming_rounds"] == CHANGE_ROUNDS and once["retiming_rounds"] == 1
    assert ran["retiming_max_over_min"] > 1.0 and once["retiming_max_over_min"] < float("inf")
