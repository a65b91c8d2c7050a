"""Acceptance tests of the geometry engine: exact answers under squared L2, E-LPIPS behaviour,
checkpoints that resume bit-for-bit, refusal of corrupt checkpoints."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

import geometry
from geometry import Recipe, Stage, barycenter, estimate_energy, geodesic, pairwise_average, perturbed_barycenter
from geometry.engine.inputs import prepare_images

# A plain one-stage Adam recipe; with a deterministic distance it converges to float precision.
EXACT = Recipe("exact", init="noise", stages=(Stage(1, 300, 0.1, "cosine", 1),))


def random_images(count: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


class NoisyL2:
    """A random distance with the metric trio: per draw, random channel gains in [0.2, 1] shared by all images.
    Its draws consume the generator, so resuming must restore the generator state to match."""

    name = "noisy_l2"
    min_image_size = 1

    def sample_draws(self, count, generator=None):
        return 0.2 + 0.8 * torch.rand(count, 3, generator=generator)

    def embed(self, images, draws):
        return images.unsqueeze(0) * draws.view(-1, 1, 3, 1, 1)

    def embedding_distance(self, embedding, i, j):
        return (embedding[:, i] - embedding[:, j]).square().flatten(2).mean(2)


# --- squared L2: known optima ------------------------------------------------------------------------------

def test_l2_barycenter_linear_energy_is_weighted_pixel_mean():
    images = random_images(3)
    weights = torch.tensor([0.2, 0.3, 0.5])
    res = barycenter(images, weights, distance="l2", energy="linear", preset=EXACT)
    expected = (weights.view(-1, 1, 1, 1) * images).sum(0, keepdim=True)
    assert res.images.shape == (1, 3, 16, 16)
    assert torch.allclose(res.images, expected, atol=1e-4)
    assert res.record.status == "completed" and res.record.steps == 300


def test_l2_pairwise_average_squared_energy_is_midpoint():
    a, b = random_images(2, seed=1).split(1)
    res = pairwise_average(a, b, distance="l2", preset=EXACT)
    assert torch.allclose(res.images, (a + b) / 2, atol=1e-4)


@pytest.mark.parametrize("energy, tolerance", [("linear", 1e-4), ("squared", 5e-3)])
def test_l2_geodesic_is_cross_dissolve(energy, tolerance):
    a, b = random_images(2, seed=2).split(1)
    res = geodesic(a, b, frames=6, distance="l2", energy=energy, preset=EXACT)
    t = torch.linspace(0, 1, 6).view(-1, 1, 1, 1)
    assert res.images.shape == (6, 3, 16, 16)
    assert torch.equal(res.images[0], a[0]) and torch.equal(res.images[-1], b[0])
    assert (res.images - ((1 - t) * a + t * b)).abs().max() < tolerance


def test_the_engine_optimises_when_the_caller_has_gradients_disabled():
    a, b = random_images(2, seed=2).split(1)
    short = Recipe("short", init="noise", stages=(Stage(1, 20, 0.1, "cosine", 1),))
    free = geodesic(a, b, frames=4, distance="l2", preset=short)
    with torch.no_grad():
        disabled = geodesic(a, b, frames=4, distance="l2", preset=short)
        average = barycenter(torch.cat([a, b]), (0.5, 0.5), distance="l2", energy="linear", preset=EXACT)
        assert not torch.is_grad_enabled()  # the caller's setting is restored
    assert torch.equal(disabled.images, free.images) and disabled.record.status == "completed"
    assert torch.allclose(average.images, (a + b) / 2, atol=1e-4)


def test_mean_init_is_already_the_l2_optimum_and_estimate_has_zero_error():
    images = random_images(2, seed=3)
    res = barycenter(images, (0.25, 0.75), distance="l2", energy="linear", preset=EXACT, steps=1, init="mean")
    est = estimate_energy(res, samples=8)
    expected = 0.25 * 0.75 * (images[0] - images[1]).square().mean().item()  # sum_i w_i |x - y_i|^2 at the mean
    assert est.value == pytest.approx(expected, rel=1e-3)
    assert est.stderr == 0.0 and est.samples == 8


def test_paired_energy_difference_cancels_the_shared_draws_noise():
    images = random_images(2, seed=4)
    res = barycenter(images, distance=NoisyL2(), preset=EXACT, steps=1, init="mean")
    mean, shifted = res.images, (res.images + 0.05).clamp(0, 1)
    near = estimate_energy(res, images=mean, samples=64, seed=5, distance=NoisyL2())
    far = estimate_energy(res, images=shifted, samples=64, seed=5, distance=NoisyL2())
    difference, stderr = far.minus(near)
    assert difference == pytest.approx(far.value - near.value) and difference > 0
    assert stderr < 0.5 * min(near.stderr, far.stderr)  # both saw the same random channel gains
    fewer = estimate_energy(res, images=mean, samples=32, seed=5, distance=NoisyL2())
    with pytest.raises(ValueError, match="same number of draws"):
        far.minus(fewer)


# --- API behaviour ------------------------------------------------------------------------------------------

def test_inputs_of_different_sizes_are_centre_cropped_and_resized():
    wide = torch.zeros(1, 3, 20, 40)
    wide[..., 10:30] = 1.0  # the centre 20x20 is white, the sides black
    square = torch.rand(1, 3, 30, 30)
    batch = prepare_images([square, wide], size=15)
    assert batch.shape == (2, 3, 15, 15)
    assert torch.allclose(batch[1], torch.ones(3, 15, 15))  # the black sides were cropped away
    assert prepare_images([wide], size=(8, 12)).shape == (1, 3, 8, 12)
    assert prepare_images([wide], size=10).shape == (1, 3, 10, 20)


def test_progress_snapshots_record_and_cancel():
    seen, cancel = [], threading.Event()

    def callback(progress):
        seen.append(progress)
        if progress.step == 7:
            cancel.set()

    res = barycenter(random_images(2), distance="l2", preset=EXACT, steps=20, callback=callback,
                     cancel=cancel, snapshot_steps=[0, 5])
    assert [p.step for p in seen] == list(range(8))
    assert [p.step for p in seen if p.snapshot is not None] == [0, 5]
    assert seen[5].snapshot.shape == (1, 3, 16, 16) and seen[5].total_steps == 20
    assert res.record.status == "cancelled" and res.record.steps == 7
    record = json.loads(res.record.to_json())
    assert record["kind"] == "barycenter" and len(record["energies"]) == 7
    assert geometry.RunRecord.from_dict(record).steps == 7


def test_snapshots_keep_the_images_of_their_step():
    # Kept snapshots must not change as the run goes on (on CPU they once aliased the optimised tensor).
    kept = {}
    res = barycenter(random_images(2), distance="l2", preset=EXACT, steps=20, snapshot_steps=[0, 5, 20],
                     callback=lambda p: kept.setdefault(p.step, p.snapshot) if p.snapshot is not None else None)
    assert not torch.equal(kept[0], kept[5]) and not torch.equal(kept[5], kept[20])
    assert torch.equal(kept[20], res.images)


def test_invalid_arguments_raise_value_errors():
    images = random_images(2)
    with pytest.raises(ValueError, match="weights"):
        barycenter(images, (1.0, -1.0), distance="l2", preset=EXACT)
    with pytest.raises(ValueError, match="weights"):
        barycenter(images, (1.0, 1.0, 1.0), distance="l2", preset=EXACT)
    with pytest.raises(ValueError, match="distance"):
        barycenter(images, distance="ssim", preset=EXACT)
    with pytest.raises(ValueError, match="preset"):
        barycenter(images, distance="l2", preset="slow")
    with pytest.raises(ValueError, match="frames"):
        geodesic(images[:1], images[1:], frames=2, distance="l2")
    with pytest.raises(ValueError, match="mode"):
        perturbed_barycenter(images[:1], mode="blur", distance="l2")


def test_perturbed_copies_are_reproducible_and_shift_by_at_most_two_pixels():
    image = random_images(1, size=24, seed=4)
    a = perturbed_barycenter(image, mode="shift", distance="l2", preset=EXACT, steps=1, seed=5)
    b = perturbed_barycenter(image, mode="shift", distance="l2", preset=EXACT, steps=1, seed=5)
    assert torch.equal(a.inputs, b.inputs) and a.inputs.shape == (10, 3, 24, 24)
    centre = image[..., 2:-2, 2:-2]
    for copy in a.inputs:
        assert any(torch.equal(copy[:, 2 + dy:22 + dy, 2 + dx:22 + dx], centre[0])
                   for dy in range(-2, 3) for dx in range(-2, 3))


# --- checkpoints ----------------------------------------------------------------------------------------------

TWO_STAGES = Recipe("two-stage", init="noise",
                    stages=(Stage(2, 10, 0.05, "cosine", 2), Stage(1, 10, 0.02, "cosine", 2)))
THREE_STAGES = Recipe("three-stage", init="mean",
                      stages=(Stage(4, 6, 0.05, "cosine", 2), Stage(2, 6, 0.03, "cosine", 2),
                              Stage(1, 6, 0.02, "cosine", 1)))


def _noisy_run(**options):
    images = random_images(3, size=32, seed=6)
    return barycenter(images, (0.5, 0.3, 0.2), distance=NoisyL2(), preset=TWO_STAGES, seed=3, device="cpu", **options)


def _noisy_path(**options):
    a, b = random_images(2, size=64, seed=8)
    return geodesic(a, b, frames=5, distance=NoisyL2(), preset=THREE_STAGES, seed=4, device="cpu",
                    motion="none", **options)  # the refinement is what resumes: no start that skips it


def _even_path(**options):  # the even start is measured again on resume: it must come out the same
    a, b = random_images(2, size=64, seed=8)
    return geodesic(a, b, frames=5, distance=NoisyL2(), preset=THREE_STAGES.with_init("even"), seed=4, device="cpu",
                    motion="none", **options)


# noise start (images upsampled between stages) and mean/even starts (the start's detail kept, changes
# upsampled); stops inside a coarse stage, at a stage boundary and inside the finest stage
@pytest.mark.parametrize("run, total, stop_at", [(_noisy_run, 20, 4), (_noisy_run, 20, 10), (_noisy_run, 20, 13),
                                                 (_noisy_path, 18, 3), (_noisy_path, 18, 6), (_noisy_path, 18, 9),
                                                 (_noisy_path, 18, 14), (_even_path, 18, 8)])
def test_resumed_run_equals_uninterrupted_run(tmp_path, run, total, stop_at):
    uninterrupted = run()
    cancel = threading.Event()
    path = tmp_path / "run.ckpt"
    first = run(checkpoint=path, checkpoint_every=3, cancel=cancel,
                callback=lambda p: cancel.set() if p.step == stop_at else None)
    assert first.record.status == "cancelled" and first.record.steps == stop_at and path.exists()
    resumed = run(checkpoint=path, checkpoint_every=3)
    assert resumed.record.status == "completed" and resumed.record.steps == total
    assert torch.equal(resumed.images, uninterrupted.images)
    assert resumed.record.energies == uninterrupted.record.energies


def test_coarse_stages_keep_the_start_images_detail():
    """Under L2 the cross-dissolve is the optimal path, so the coarse stages' tiny steps (Adam moves by about lr
    even on a zero gradient) barely change it; what reaches full size must then be the cross-dissolve itself,
    fine detail included, not an upsampled thumbnail (which differs by about 0.2 on random pixels)."""
    a, b = random_images(2, size=64, seed=9)
    gentle = Recipe("gentle", init="mean", stages=(Stage(4, 6, 1e-4, "cosine", 1), Stage(2, 6, 1e-4, "cosine", 1),
                                                   Stage(1, 1, 1e-4, "cosine", 1)))
    res = geodesic(a, b, frames=5, distance="l2", preset=gentle, device="cpu", snapshot_steps=[], motion="none")
    t = torch.linspace(0, 1, 5).view(-1, 1, 1, 1)
    assert (res.images - ((1 - t) * a + t * b)).abs().max() < 2e-3


def test_given_start_images_are_where_the_run_starts():
    a, b = random_images(2, size=32, seed=10)
    start = random_images(5, size=32, seed=11).clamp(0.01, 0.99)
    snapshots = {}
    res = geodesic(a, b, frames=5, distance="l2", steps=2, start_images=start, device="cpu", snapshot_steps=[0],
                   callback=lambda p: snapshots.setdefault(p.step, p.snapshot))
    assert torch.allclose(snapshots[0][1:-1], start[1:-1], atol=1e-6)   # all frames given: endpoints dropped
    assert res.record.settings["recipe"]["init"] == "given" and "start_sha256" in res.record.settings
    avg = pairwise_average(a, b, distance="l2", steps=1, start_images=start[2:3], device="cpu", snapshot_steps=[0],
                           callback=lambda p: snapshots.setdefault("avg", p.snapshot))
    assert torch.allclose(snapshots["avg"], start[2:3], atol=1e-6) and avg.images.shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="start_images has 2 images; this run optimises 3"):
        geodesic(a, b, frames=5, distance="l2", steps=1, start_images=start[:2], device="cpu")


def test_corrupt_or_foreign_checkpoint_is_refused(tmp_path):
    path = tmp_path / "run.ckpt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="corrupt"):
        _noisy_run(checkpoint=path)
    _noisy_run(checkpoint=path.with_name("good.ckpt"))
    data = path.with_name("good.ckpt").read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match="corrupt"):
        _noisy_run(checkpoint=path)
    other = random_images(3, size=32, seed=99)
    with pytest.raises(ValueError, match="different run"):
        barycenter(other, (0.5, 0.3, 0.2), distance=NoisyL2(), preset=TWO_STAGES, seed=3,
                   checkpoint=path.with_name("good.ckpt"))


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_geometry_engine import _noisy_run
    def slow(progress):
        print("step", progress.step, flush=True)
        time.sleep(0.05)
    _noisy_run(checkpoint={path!r}, checkpoint_every=1000, callback=slow)
""")


@pytest.mark.slow
def test_sigint_writes_checkpoint_and_resume_matches(tmp_path):
    path = tmp_path / "run.ckpt"
    code = CHILD.format(tests=str(Path(__file__).parent), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        for line in child.stdout:
            if line.split() == ["step", "5"]:
                child.send_signal(signal.SIGINT)
                break
        child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0  # the signal was re-delivered: KeyboardInterrupt after the checkpoint
    assert path.exists()
    state = torch.load(path, weights_only=True)
    assert 5 <= state["step"] < 20
    resumed = _noisy_run(checkpoint=path)
    uninterrupted = _noisy_run()
    assert torch.equal(resumed.images, uninterrupted.images)
    assert resumed.record.energies == uninterrupted.record.energies


def test_a_preset_name_says_what_each_kind_of_run_takes():
    from geometry.engine.presets import FAST, PRESETS, REFERENCE, Preset, run_recipe
    from geometry.engine.problems import BarycenterProblem, GeodesicProblem

    assert all(isinstance(preset, Preset) for preset in PRESETS.values())
    assert run_recipe("fast", BarycenterProblem, (512, 512)) is FAST
    assert run_recipe("fast", BarycenterProblem, None) is FAST
    small, large = run_recipe("fast", GeodesicProblem, (64, 64)), run_recipe("fast", GeodesicProblem, (256, 384))
    assert small.init == "even" and [s.divisor for s in small.stages] == [1]
    assert [(s.divisor, s.steps) for s in large.stages] == [(4, 30), (2, 8), (1, 8)]  # 64 px work, then doublings
    assert run_recipe("reference", GeodesicProblem, (256, 256)) is REFERENCE


def test_progress_reports_the_time_left_from_the_runs_own_step_times():
    seen = []
    stages = (Stage(2, 4, 0.01, "cosine", 1), Stage(1, 4, 0.01, "cosine", 1))
    preset = Recipe("two stages", init="noise", stages=stages)
    barycenter([torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)], distance="l2", preset=preset,
               callback=seen.append, snapshot_steps=[])
    left = [p.eta_s for p in seen if p.step > 0]
    assert left[0] is None                      # one step: nothing measured yet
    assert all(s is not None and s >= 0 for s in left[1:])
    assert left[-1] == 0


def test_every_derivation_of_the_largest_seed_seeds_a_generator():
    from geometry.engine import seeds

    for derive in seeds.DERIVATIONS:
        generator = seeds.generator(derive(seeds.MAX_SEED))  # 2 * seed + 2 once overflowed (2**64)
        assert torch.rand(1, generator=generator).shape == (1,)


@pytest.mark.parametrize("seed", [0, 1, 7917, 7918, 7919, 2**62, 2**63 - 1])
def test_no_derived_seed_is_another_stream_of_the_same_run(seed):
    # 7917..7919 once gave the perturbed copies the stream of the run's own start, draws or spacing.
    from geometry.engine import seeds

    streams = [derive(seed) for derive in seeds.DERIVATIONS]
    assert len(set(streams)) == len(streams)
    assert all(0 <= stream < 2**64 for stream in streams)


def test_the_metric_cache_keeps_the_most_recently_used(monkeypatch):
    import elpips
    from geometry.engine import distances

    loads = []
    monkeypatch.setattr(distances, "_LOADED", {})
    monkeypatch.setattr(distances, "MAX_LOADED", 2)
    monkeypatch.setattr(elpips, "load_metric", lambda name, device, **kwargs: loads.append(name) or object())
    first = distances.load_cached("a", "cpu")
    distances.load_cached("b", "cpu")
    assert distances.load_cached("a", "cpu") is first  # kept, and now the most recently used
    distances.load_cached("c", "cpu")  # lets "b" go
    assert list(distances._LOADED) == [("a", "cpu", None), ("c", "cpu", None)]
    distances.load_cached("b", "cpu")
    assert loads == ["a", "b", "c", "b"]
