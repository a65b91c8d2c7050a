"""The geometry engine under E-LPIPS (acceptance tests): small images, few steps, fixed seeds."""
from __future__ import annotations

import pytest
import torch

import elpips
from geometry import Recipe, Stage, barycenter, estimate_energy, geodesic
from geometry.engine.distances import DistanceFamily
from geometry.engine.inputs import resize

SIZE = 32  # E-LPIPS with 4 scale levels (the engine picks the metric variant that fits)
SHORT = Recipe("short", init="noise", stages=(Stage(1, 30, 0.1, "cosine", 1),))


def distance(metric, a, b, samples=24):
    return elpips.estimate(metric, a, b, samples=samples, generator=torch.Generator().manual_seed(1)).value.item()


@pytest.fixture(scope="module")
def small(small_images):
    cat, dog = small_images
    return resize(cat, (SIZE, SIZE)), resize(dog, (SIZE, SIZE))


@pytest.fixture(scope="module")
def metric32(metric_elpips):
    return DistanceFamily(metric_elpips, torch.device("cpu")).at_size((SIZE, SIZE))


def test_small_images_get_a_metric_with_fewer_scale_levels(metric_elpips, metric32):
    assert metric_elpips.min_image_size > SIZE >= metric32.min_image_size


def test_barycenter_of_identical_images_converges_to_them(metric_elpips, metric32, small):
    cat, _ = small
    res = barycenter([cat, cat], distance=metric_elpips, preset=SHORT, seed=0)
    start = (0.5 + 0.2 * torch.randn(cat.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    # From noise E-LPIPS descends slowly (the reference runs 100 000 steps); 30 steps move a clear part of the way.
    assert distance(metric32, res.images, cat) < 0.85 * distance(metric32, start, cat)
    energies = [e for _, e in res.record.energies]
    assert sum(energies[-5:]) < 0.8 * sum(energies[:5])


def test_weights_one_zero_converge_to_the_first_image_and_energy_falls(metric_elpips, metric32, small):
    cat, dog = small
    res = barycenter([cat, dog], (1.0, 0.0), distance=metric_elpips, preset=SHORT, seed=1)
    start = (0.5 + 0.2 * torch.randn(cat.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    assert distance(metric32, res.images, cat) < 0.85 * distance(metric32, start, cat)
    assert distance(metric32, res.images, cat) < distance(metric32, res.images, dog)
    before = estimate_energy(res, images=start, samples=24, distance=metric_elpips)
    after = estimate_energy(res, samples=24, distance=metric_elpips)
    assert after.value < 0.85 * before.value  # same seed: both estimates see the same draws


def test_fast_preset_improves_on_the_pixel_mean(metric_elpips, small):
    cat, dog = small
    res = barycenter([cat, dog], distance=metric_elpips, steps=20, seed=0)
    assert res.images.shape == (1, 3, SIZE, SIZE) and res.record.status == "completed"
    assert res.record.steps == 20 and res.record.settings["recipe"]["name"] == "fast"
    assert 0.0 < res.images.min() and res.images.max() < 1.0
    # the fast preset starts from the pixel mean (the L2 barycenter) and must lower its E-LPIPS energy
    mean = (cat + dog) / 2
    before = estimate_energy(res, images=mean, samples=24, distance=metric_elpips)
    after = estimate_energy(res, samples=24, distance=metric_elpips)
    assert after.value < 0.95 * before.value  # same seed: both estimates see the same draws
    assert not torch.allclose(res.images, mean, atol=0.01)


def test_geodesic_keeps_endpoints_and_evens_out_consecutive_distances(metric_elpips, small):
    cat, dog = small
    # the fast path recipe's learning rate, shortened (at lr 0.01 with one draw, 20 steps RAISE the energy)
    preset = Recipe("short", init="mean", stages=(Stage(1, 20, 0.003, "cosine", 2),))
    res = geodesic(cat, dog, frames=4, distance=metric_elpips, preset=preset, seed=0)
    assert res.images.shape == (4, 3, SIZE, SIZE)
    assert torch.equal(res.images[0], cat[0]) and torch.equal(res.images[-1], dog[0])
    t = torch.linspace(0, 1, 4).view(-1, 1, 1, 1)
    dissolve = (1 - t) * cat + t * dog  # the initialisation
    before = estimate_energy(res, images=dissolve, samples=24, distance=metric_elpips)
    after = estimate_energy(res, samples=24, distance=metric_elpips)
    difference, stderr = after.minus(before)  # same seed: the shared draws' noise cancels
    assert difference < -2 * stderr  # the energy fell, beyond the estimate's noise
    def ratio(distances):
        return max(distances) / min(distances)

    assert ratio(after.distances) < 0.9 * ratio(before.distances)  # the dissolve's uneven steps (1.32) even out


# --- motion: a pan of the cat, 48 px frames ------------------------------------------------------

def _pan(cat, shift: int, t: float, size: int = 48):
    """A size x size window of the 64 px cat moved right by t * shift px."""
    left = round(t * shift)
    return cat[..., 4:4 + size, left:left + size]


@pytest.mark.slow
def test_refinement_keeps_a_motion_start_moving_and_a_dissolve_start_ghosted(metric_elpips, small_images):
    """The engine lowers the path energy within the basin it starts in: from frames that move (another
    interpolator's), content stays at the true place; from the cross-dissolve it stays a double exposure
    (benchmarks/results/motion-variants.md: at 2 px per frame the energy prefers the double exposure)."""
    from geometry.paths.quality import ghost_fraction

    cat = small_images[0]
    truth = torch.cat([_pan(cat, 8, k / 4) for k in range(5)])
    a, b = truth[:1], truth[-1:]
    dissolve_mid = (a + b) / 2
    options = dict(frames=5, distance=metric_elpips, steps=20, seed=0, snapshot_steps=[])
    moved = geodesic(a, b, start_images=truth, **options)
    faded = geodesic(a, b, motion="none", **options)
    assert ghost_fraction(moved.images[2:3], truth[2:3], dissolve_mid).fraction < 0.2
    assert ghost_fraction(faded.images[2:3], truth[2:3], dissolve_mid).fraction > 0.8
    start = estimate_energy(moved, images=truth, samples=32, seed=3)
    difference, stderr = estimate_energy(moved, samples=32, seed=3).minus(start)
    assert difference < -2 * stderr   # the energy fell, beyond the estimate's noise
