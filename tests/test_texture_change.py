"""One texture becoming another: the superposition score, synthesis at in-between statistics, and the start
that "auto" takes for two different stationary textures."""
from __future__ import annotations

import pytest
import torch
from synthetic import band_noise, brick_view

from geometry.paths.motion import DissolvePath, auto_start
from geometry.paths.quality import highpass_contrast
from geometry.paths.sliced import superposition_score
from geometry.paths.synthesis import KNOTS, STEPS, SynthesisPath, synthesise, synthesised_path

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
    import threading

    from geometry.engine import phases
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
