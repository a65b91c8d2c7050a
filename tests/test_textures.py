"""Texture morphs: the spectral ghost and contrast measures, and the rotation/scale texture path."""
from __future__ import annotations

import math

import pytest
import torch
from synthetic import band_noise, brick_view, orientation_morph

from geometry import geodesic
from geometry.engine.distances import DistanceFamily
from geometry.paths.quality import highpass_contrast, spectral_ghost
from geometry.paths.sliced import feature_ghost
from geometry.paths.textures import (
    estimate_similarity,
    is_texture_morph,
    seamless_warp,
    similarity_warp,
    texture_path,
)

MIDDLE = torch.tensor([0.5], dtype=torch.float64)


def test_spectral_ghost_is_zero_at_the_middle_texture_and_one_for_the_dissolve():
    a, b, truth = orientation_morph()
    dissolve = (a + b) / 2
    assert spectral_ghost(truth, truth, a, b).fraction < 0.05
    other_draw = band_noise(64, 30.0, seed=5)   # another texture at the middle parameter: only spectra count
    assert spectral_ghost(other_draw, truth, a, b).fraction < 0.05
    assert spectral_ghost(dissolve, truth, a, b).fraction > 0.95
    sharpened = (0.5 + 1.6 * (dissolve - 0.5)).clamp(0, 1)   # more contrast, still a plaid
    assert spectral_ghost(sharpened, truth, a, b).fraction > 0.95


def test_spectral_ghost_of_a_mixture_lies_between():
    a, b, truth = orientation_morph()
    half = spectral_ghost(0.5 * truth + 0.25 * (a + b), truth, a, b).fraction
    assert 0.2 < half < 0.8


def _walls(degrees: float, zoom: float, count: int = 12, seed: int = 0) -> torch.Tensor:
    """`count` views of the generated wall turned by `degrees` and enlarged by `zoom`, from random places (a
    photo's pooled crops; the same places at every parameter for one seed)."""
    places = 400 * torch.rand(count, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.cat([brick_view(48, (y, x), degrees, zoom, seed=index)
                      for index, (y, x) in enumerate(places.tolist())])


@pytest.mark.parametrize("turn, zoom", [(60.0, 1.0), (0.0, 3.0)])
def test_pooled_spectral_ghost_scores_a_wall_at_the_middle_parameter_low_and_a_dissolve_high(turn, zoom):
    a, b = brick_view(48, (100.0, 40.0)), brick_view(48, (317.0, 251.0), turn, zoom, seed=1)   # unaligned crops
    references = _walls(turn / 2, zoom ** 0.5), _walls(0.0, 1.0), _walls(turn, zoom)
    elsewhere = brick_view(48, (205.0, 133.0), turn / 2, zoom ** 0.5, seed=2)   # the middle cut from another place
    truth = spectral_ghost(elsewhere, *references)
    dissolve = spectral_ghost((a + b) / 2, *references)
    assert truth.applies and dissolve.applies
    assert truth.fraction < 0.1 and dissolve.fraction > 0.9


@pytest.mark.parametrize("turn, zoom", [(60.0, 1.0), (0.0, 3.0)])
def test_feature_ghost_scores_a_wall_at_the_middle_parameter_low_and_a_dissolve_high(turn, zoom):
    a, b = brick_view(48, (100.0, 40.0)), brick_view(48, (317.0, 251.0), turn, zoom, seed=1)   # unaligned crops
    elsewhere = brick_view(48, (205.0, 133.0), turn / 2, zoom ** 0.5, seed=2)   # the middle cut from another place
    truth, dissolve = feature_ghost(torch.cat([elsewhere, (a + b) / 2]), _walls(turn / 2, zoom ** 0.5),
                                    _walls(0.0, 1.0), _walls(turn, zoom, seed=1))
    assert truth.applies and dissolve.applies
    assert truth.fraction < 0.3 and dissolve.fraction > 0.7


def test_feature_ghost_does_not_apply_where_truth_and_superposition_are_one_texture():
    walls = _walls(0.0, 1.0, count=4)
    (ghost,) = feature_ghost(walls[:1], walls, walls, walls)   # the dissolve of a wall with itself is the wall
    assert not ghost.applies
    with pytest.raises(ValueError, match="as many"):
        feature_ghost(walls[:1], walls, walls, walls[:3])
    with pytest.raises(ValueError, match="too small"):
        feature_ghost(*(x[..., :16, :16] for x in (walls[:1], walls, walls, walls)))


def test_pooled_spectral_ghost_does_not_apply_where_a_turn_moves_no_power():
    def isotropic(first_seed: int) -> torch.Tensor:
        return torch.cat([band_noise(48, None, seed=first_seed + k) for k in range(12)])

    a, b = band_noise(48, None, seed=100), band_noise(48, None, seed=101)
    ghost = spectral_ghost((a + b) / 2, isotropic(0), isotropic(20), isotropic(40))
    assert not ghost.applies and ghost.band_share < 0.05


def test_a_blend_of_unrelated_textures_loses_contrast():
    a, b, truth = orientation_morph()
    ratio = 2 * highpass_contrast((a + b) / 2) / (highpass_contrast(a) + highpass_contrast(b))
    assert 0.6 < ratio < 0.8   # sqrt(1/2) for uncorrelated textures
    assert highpass_contrast(torch.full((1, 3, 32, 32), 0.5)) < 1e-12


def test_measures_reject_bad_images():
    a, b, truth = orientation_morph(32)
    with pytest.raises(ValueError, match="one size"):
        spectral_ghost(a[..., :16], truth, a, b)
    with pytest.raises(ValueError, match="too small"):
        spectral_ghost(*(x[..., :8, :8] for x in (a, truth, a, b)))
    with pytest.raises(ValueError, match="RGB"):
        highpass_contrast(a[:, :1])


@pytest.mark.parametrize("turn, period_ratio", [(40.0, 1.0), (-30.0, 1.0), (0.0, 2.0)])
def test_the_similarity_between_two_textures_is_found(turn, period_ratio):
    a = band_noise(64, 20.0 if period_ratio == 1.0 else None, period=4.0)
    b = band_noise(64, 20.0 + turn if period_ratio == 1.0 else None, period=4.0 * period_ratio, seed=1)
    found = estimate_similarity(a, b)
    assert math.degrees(found.angle) == pytest.approx(turn, abs=4.0)
    assert found.scale == pytest.approx(period_ratio, rel=0.08)


def test_a_turn_is_a_texture_morph_and_a_pan_is_not():
    a, b, _ = orientation_morph(64)
    assert is_texture_morph(a, b)
    assert is_texture_morph(band_noise(64, None, period=4.0), band_noise(64, None, period=8.0, seed=1))
    wide = band_noise(96, 30.0)
    assert not is_texture_morph(wide[..., 8:72, :64], wide[..., 8:72, 16:80])   # the same texture panned


def test_texture_path_frames_show_the_middle_orientation_with_contrast():
    a, b, truth = orientation_morph(48)
    middle = texture_path(a, b, MIDDLE)
    dissolve = spectral_ghost((a + b) / 2, truth, a, b).fraction
    assert spectral_ghost(middle, truth, a, b).fraction < 0.3 < dissolve
    assert highpass_contrast(middle) > 0.9 * highpass_contrast(truth)


def test_a_crop_that_does_not_tile_is_shrunk_without_a_step_where_its_copies_meet():
    # a wall crop on a brightness ramp (lit from the left): shrunk to half, four copies fill the frame, and the
    # plain tile warp puts the ramp's whole height as a step where they meet; the seamless warp does not
    ramp = torch.linspace(0, 0.5, 48, dtype=torch.float64).view(1, 1, 1, 48)
    crop = (0.5 * brick_view(48, (100.0, 100.0)).double() + ramp).expand(1, 3, 48, 48)
    angle, half = torch.zeros(1, dtype=torch.float64), torch.full((1,), 0.5, dtype=torch.float64)

    def largest_step(image):   # the largest jump between neighbouring columns' means
        return image.mean((1, 2)).diff(dim=-1).abs().max().item()

    assert largest_step(similarity_warp(crop, angle, half)) > 0.3
    assert largest_step(seamless_warp(crop, angle, half)) < 0.1
    assert (seamless_warp(crop, angle, torch.ones(1, dtype=torch.float64)) - crop).abs().max() < 0.05
    periodic = band_noise(48, 30.0).double()   # a texture that tiles is warped as a tile
    assert torch.equal(seamless_warp(periodic, angle, half), similarity_warp(periodic, angle, half))


def test_texture_path_contract():
    a, b, _ = orientation_morph(32)
    times = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    frames = texture_path(a, b, times)
    assert frames.shape == (3, 3, 32, 32) and frames.dtype == a.dtype and frames.device == a.device
    assert frames.min() >= 0 and frames.max() <= 1
    assert torch.equal(frames, texture_path(a, b, times, generator=torch.Generator().manual_seed(9)))
    near_a = texture_path(a, b, torch.tensor([1e-6], dtype=torch.float64))
    assert (near_a - a).abs().max() < 0.02   # the path leaves from a


def test_with_a_metric_the_frames_are_spaced_more_evenly():
    a, b, _ = orientation_morph(32, 90.0)
    metric = DistanceFamily("l2", torch.device("cpu")).at_size((32, 32))
    times = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)

    def unevenness(frames):
        steps = (torch.diff(torch.cat([a, frames, b]), dim=0)).square().mean((1, 2, 3))
        return (steps.max() / steps.min()).item()

    spaced = texture_path(a, b, times, metric=metric, generator=torch.Generator().manual_seed(3))
    assert unevenness(spaced) < 1.3 < unevenness(texture_path(a, b, times))
    assert torch.equal(spaced, texture_path(a, b, times, metric=metric, generator=torch.Generator().manual_seed(3)))


def test_texture_path_rejects_bad_input():
    a, b, _ = orientation_morph(32)
    with pytest.raises(ValueError, match="inner times"):
        texture_path(a, b, torch.tensor([0.0, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="one size"):
        texture_path(a, b[..., :16, :16], MIDDLE)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        texture_path(a[0], b, MIDDLE)
    with pytest.raises(ValueError, match="too small"):
        texture_path(a[..., :8, :8], b[..., :8, :8], MIDDLE)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_texture_path_runs_on_cuda_like_on_the_cpu():
    a, b, _ = orientation_morph(32)
    on_gpu = texture_path(a.cuda(), b.cuda(), MIDDLE)
    assert on_gpu.is_cuda
    assert (on_gpu.cpu() - texture_path(a, b, MIDDLE)).abs().max() < 1e-4


@pytest.mark.slow
def test_a_short_refinement_from_the_texture_path_keeps_the_middle_texture():
    a, b, truth = orientation_morph(32)
    start = texture_path(a, b, MIDDLE)
    refined = geodesic(a, b, frames=3, start_images=start, steps=20, seed=0, snapshot_steps=[]).images[1:2]
    assert not torch.equal(refined, start)   # the engine did change it
    assert spectral_ghost(refined, truth, a, b).fraction < 0.3 < spectral_ghost((a + b) / 2, truth, a, b).fraction


def test_a_texture_start_is_kept_as_it_is_by_default_and_refined_when_asked():
    """Issue 27: the refinement of a texture start improved none of its texture figures and cost 7x its start
    (benchmarks/results/bench_texture_budget_64px.txt), so `refine="auto"` keeps it: spaced evenly, no step; the
    record says so. `refine="pixels"` still refines it."""
    from geometry.engine.problems import refine_applies
    from geometry.paths.spacing import even_times_evaluations

    a, b, truth = orientation_morph(32)
    run = dict(frames=5, motion="texture", distance="l2", seed=0, snapshot_steps=[])  # l2: the behaviour, fast
    kept = geodesic(a, b, **run)
    settings = kept.record.settings
    assert settings["start"]["taken"] == "texture" and settings["start"]["spacing"] == "even"
    assert settings["refine"] == "none" and not kept.refined and kept.record.steps == 0
    assert kept.record.evaluations == even_times_evaluations(3)  # the spacing's, nothing after it
    assert torch.allclose(kept.images[1:4], kept.path(kept.times).float(), atol=1e-4)
    assert spectral_ghost(kept.images[2:3], truth, a, b).fraction < 0.3
    refined = geodesic(a, b, refine="pixels", steps=2, **run)
    assert refined.record.settings["refine"] == "pixels" and refined.refined and refined.record.steps == 2
    assert refine_applies("auto", "texture") == "none" and refine_applies("pixels", "texture") == "pixels"
