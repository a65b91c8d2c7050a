"""geometry.paths.spacing: the cross-dissolve's frames placed at equal distances, the fast geodesics' start."""
from __future__ import annotations

import torch
from events import CancelAfter

from geometry import Recipe, Stage, geodesic
from geometry.engine import phases
from geometry.engine.distances import SquaredL2
from geometry.paths.spacing import DRAWS, dissolve, even_times, retimed


class SquaredL2OfSquares(SquaredL2):
    """d(x, y) = mean((x^2 - y^2)^2): along the dissolve from 0 to 1 (x(t) = t) the distance of t1 < t2 is
    (t2^2 - t1^2)^2, so equal distances need equal steps of t^2: t_k = sqrt(k / (n + 1))."""

    def embed(self, images, draws):
        return super().embed(images.square(), draws)


def test_under_l2_the_plain_dissolve_is_already_even():
    a, b = torch.rand(2, 1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    times = even_times(a, b, 6, SquaredL2(), torch.Generator().manual_seed(1))
    assert torch.allclose(times, torch.arange(1, 7, dtype=torch.float64) / 7, atol=1e-6)


def test_times_equalise_the_distances_of_a_curved_distance():
    a, b = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    times = even_times(a, b, 4, SquaredL2OfSquares(), torch.Generator().manual_seed(1))
    assert torch.allclose(times, (torch.arange(1, 5, dtype=torch.float64) / 5).sqrt(), atol=5e-3)
    frames = dissolve(a, b, torch.cat([torch.zeros(1, dtype=torch.float64), times, torch.ones(1, dtype=torch.float64)]))
    steps = (frames[1:].square() - frames[:-1].square()).square().flatten(1).mean(1)
    assert steps.max() / steps.min() < 1.05          # the uniform dissolve's ratio here is 81


def test_a_retiming_round_says_how_uneven_the_frames_it_measured_were():
    """One round measures the frames' consecutive distances once: their max/min (what the texture change's rounds
    stop on) and the times at equal steps of L = distance^(1/2), which is t^2 along this dissolve: a quarter of it
    is reached at t = 1/2, a frame measured."""
    a, b = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    times = torch.linspace(0, 1, 5, dtype=torch.float64)
    metric = SquaredL2OfSquares()
    retiming = retimed(metric, dissolve(a, b, times), times, [metric.sample_draws(1, None)], 2.0)
    squares = times.square()
    steps = (squares[1:] - squares[:-1]).square()
    assert abs(retiming.spread - float(steps.max() / steps.min())) < 1e-3 * retiming.spread
    assert retiming.times[[0, 1, 4]].tolist() == [0.0, 0.5, 1.0] and bool((retiming.times.diff() > 0).all())


def test_even_init_is_where_a_geodesic_starts_and_counts_its_evaluations():
    a, b = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    snapshots = {}
    preset = Recipe("even", init="even", stages=(Stage(1, 1, 1e-4, "cosine", 1),))
    res = geodesic(a, b, frames=5, distance=SquaredL2OfSquares(), preset=preset, device="cpu", snapshot_steps=[0],
                   callback=lambda p: snapshots.setdefault(p.step, p.snapshot))
    start = snapshots[0][1:-1, 0, 0, 0].double()
    assert torch.allclose(start, (torch.arange(1, 4, dtype=torch.float64) / 4).sqrt(), atol=5e-3)
    assert res.record.evaluations > 5 * 3     # the measuring passes count, beyond the step's 5 images


def test_cancel_stops_the_spacing_at_its_next_draw():
    a, b = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    cancel = CancelAfter(DRAWS + 3)  # the grid's draws, then three of the first correction round's
    assert even_times(a, b, 4, SquaredL2OfSquares(), torch.Generator().manual_seed(1), cancel=cancel) is None
    assert cancel.calls == -1  # no draw measured after the cancel


def test_a_geodesic_cancelled_while_its_dissolve_is_spaced_takes_no_step_and_saves_nothing(tmp_path):
    a, b = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    preset = Recipe("even", init="even", stages=(Stage(1, 5, 1e-4, "cosine", 1),))
    checkpoint = tmp_path / "run.pt"
    result = geodesic(a, b, frames=5, distance=SquaredL2OfSquares(), preset=preset, device="cpu", snapshot_steps=[],
                      motion="none", cancel=CancelAfter(2), checkpoint=checkpoint)
    assert result.record.status == "cancelled" and result.record.steps == 0 and not checkpoint.exists()
    assert result.images.shape == (5, 3, 8, 8)


def test_a_run_reports_its_phases_in_order_with_the_steps_its_start_leaves():
    a, b = torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16)
    a[..., 4:10, 2:8], b[..., 4:10, 8:14] = 1.0, 1.0  # a square moved 6 px: the warp start, no refinement
    seen = []
    with phases.listening(seen.append):
        geodesic(a, b, frames=4, distance="l2", steps=6, snapshot_steps=[], device="cpu")
        geodesic(a, b, frames=4, distance="l2", steps=6, snapshot_steps=[], device="cpu", motion="none")
    names = [phase.name for phase in seen]
    first = names.index("refinement")
    assert set(names[:first]) == {"flow search"} and seen[first].detail == {"taken": "warp", "steps": 0}
    second = names.index("refinement", first + 1)
    assert seen[second].detail == {"taken": "even", "steps": 6} and names[second + 1:] == ["spacing"] * 4
    assert [phase.done for phase in seen[second + 1:]] == sorted(phase.done for phase in seen[second + 1:])
