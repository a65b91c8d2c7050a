"""Difference maps: LPIPS maps against the lpips package, E-LPIPS maps against the scalar estimator on
the same draws, locality, shapes, errors, and the heat map pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import elpips
from elpips import heatmap
from elpips.maps import _RunningMaps
from elpips.sampling import standard_error


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def two_scales():
    """E-LPIPS with two scale levels and passes of 2 evaluations: fast on 32 px images, several passes."""
    return elpips.load_metric("elpips_vgg", num_scales=2, max_batch=4)


@pytest.fixture(scope="module")
def crops(small_images):
    cat, dog = small_images
    return cat[..., 16:48, 16:48], dog[..., 16:48, 16:48]


@pytest.mark.parametrize("net", ["vgg", "alex"])
def test_lpips_maps_equal_the_lpips_packages_spatial_maps(net, small_images, lpips_package):
    ours = elpips.load_metric(net)
    theirs = lpips_package(net, spatial=True)
    generator = seeded()
    odd = torch.rand(2, 3, 47, 41, generator=generator), torch.rand(2, 3, 47, 41, generator=generator)
    for x, y in (small_images, odd):
        with torch.no_grad():
            expected = theirs(x, y, normalize=True)
            distance = ours(x, y)
        bilinear = elpips.difference_map(ours, x, y, upsample="bilinear")
        area = elpips.difference_map(ours, x, y)
        assert bilinear.map.shape == expected.shape == (len(x), 1, *x.shape[-2:])
        assert torch.allclose(bilinear.map, expected, atol=1e-5, rtol=0), float((bilinear.map - expected).abs().max())
        # The area map's mean is the distance at any size; the bilinear one's only nearly so at these sizes.
        assert torch.allclose(area.map.mean(dim=(1, 2, 3)), distance, rtol=1e-5, atol=0)
        assert torch.allclose(bilinear.map.mean(dim=(1, 2, 3)), distance, rtol=1e-3, atol=0)
        assert torch.equal(area.estimate.value, distance) and area.samples == 1
        assert torch.equal(area.stderr, torch.zeros_like(area.map))
        assert torch.equal(area.coverage, torch.ones(1, 1, *x.shape[-2:])) and torch.equal(area.density, area.map)


def test_each_elpips_draw_map_averages_to_that_draws_distance():
    # Eight scale levels on a non-square odd size: every kind of draw (downscaling with phases, offsets,
    # flips, transposes in separate groups) is carried back to the input grid.
    metric = elpips.load_metric("elpips_vgg")
    generator = seeded(1)
    images = torch.rand(2, 3, 61, 67, generator=generator)
    draws = metric.sample_draws(24, generator=generator, stratify=24)
    assert len(torch.unique(draws.scale)) >= 5 and 0 < int(draws.transpose.sum()) < 24
    with torch.no_grad():
        embedding = metric.embed(images, draws)
        distances = metric.embedding_distance(embedding, [0], [1])
        maps = elpips.draw_maps(metric, embedding, draws, [0], [1], (61, 67))
    assert maps.shape == (24, 1, 61, 67)
    assert torch.allclose(maps.mean(dim=(-2, -1)), distances, rtol=1e-5, atol=0)


def test_the_map_is_differentiable_like_the_distance():
    metric = elpips.load_metric("elpips_vgg", num_scales=2)
    generator = seeded(2)
    x = torch.rand(1, 3, 20, 24, generator=generator, requires_grad=True)
    y = torch.rand(1, 3, 20, 24, generator=generator)
    draws = metric.sample_draws(3, generator=generator)
    maps = elpips.draw_maps(metric, metric.embed(torch.cat([x, y]), draws), draws, [0], [1], (20, 24))
    maps[..., :10, :].sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_elpips_map_mean_equals_the_scalar_estimate_from_the_same_draws(two_scales, crops):
    cat, dog = crops
    result = elpips.difference_map(two_scales, cat, dog, samples=12, generator=seeded(3))
    expected = elpips.estimate(two_scales, cat, dog, samples=12, generator=seeded(3))
    assert torch.equal(result.estimate.value, expected.value) and torch.equal(result.estimate.stderr, expected.stderr)
    assert result.samples == 12 and result.distances.shape == (12, 1)
    assert torch.allclose(result.map.mean(dim=(1, 2, 3)), expected.value, rtol=1e-5, atol=0)
    assert (result.stderr > 0).float().mean() > 0.99
    # The reflect padding shows pixels near the borders to the network more often: coverage above 1 there,
    # below 1 inside, mean 1; the density divides it out and keeps the distance as its weighted mean.
    coverage = result.coverage[0, 0]
    assert coverage.shape == (32, 32) and float(coverage.mean()) == pytest.approx(1.0, abs=1e-6)
    assert coverage[1:4, 1:4].min() > 1.5 > 1 > coverage[12:20, 12:20].max()
    assert torch.allclose((result.density * result.coverage).mean(dim=(1, 2, 3)), expected.value, rtol=1e-5, atol=0)


def test_adaptive_maps_stop_where_estimate_adaptive_stops(two_scales, crops):
    cat, dog = crops
    options = dict(max_error=0.02, max_rel_error=0.2, max_samples=60)
    result = elpips.difference_map(two_scales, cat, dog, generator=seeded(4), **options)
    expected = elpips.estimate_adaptive(two_scales, cat, dog, generator=seeded(4), **options)
    assert result.samples == expected.samples and 10 <= result.samples < 60
    assert torch.equal(result.estimate.value, expected.value)


def test_one_reference_against_candidates_reproduces_compare(two_scales, crops):
    cat, dog = crops
    candidates = [dog, cat.flip(-1)]
    result = elpips.difference_map(two_scales, cat, torch.cat(candidates), samples=8, generator=seeded(5))
    expected = elpips.compare(two_scales, cat, candidates, samples=8, generator=seeded(5))
    comparison = elpips.Comparison.from_draws(result.distances, result.block)
    assert result.map.shape == (2, 1, 32, 32)
    assert torch.equal(comparison.values, expected.values) and torch.equal(comparison.diff_stderr, expected.diff_stderr)


def test_maps_form_pass_by_pass_and_end_in_the_finished_map(two_scales, crops):
    cat, dog = crops
    stream = list(elpips.difference_maps(two_scales, cat, dog, samples=8, generator=seeded(6)))
    assert [r.samples for r in stream] == [2, 4, 6, 8]  # passes of 4 evaluations = 2 draws of 2 images
    final = elpips.difference_map(two_scales, cat, dog, samples=8, generator=seeded(6))
    assert torch.equal(stream[-1].map, final.map) and torch.equal(stream[-1].stderr, final.stderr)
    assert not torch.equal(stream[0].map, final.map)


@pytest.mark.parametrize("count, block, chunks",
                         [(1, 1, [1]), (7, 1, [3, 4]), (20, 10, [3, 9, 8]), (25, 10, [25]), (12, 4, [5, 7])])
def test_running_standard_error_follows_the_estimators_rule(count, block, chunks):
    per_draw = torch.rand(count, 2, 3, 5, generator=seeded(count), dtype=torch.float64)
    running = _RunningMaps(block)
    for part in per_draw.split(chunks):
        running.add(part)
    assert torch.allclose(running.mean(), per_draw.mean(dim=0))
    assert torch.allclose(running.stderr(), standard_error(per_draw, block))


@pytest.mark.parametrize("name, samples", [("elpips_vgg", 16), ("vgg", 1)])
def test_a_local_edit_lights_its_corner_and_not_the_opposite_one(name, samples, small_images):
    metric = elpips.load_metric(name)
    cat, _ = small_images
    corner = slice(4, 20)
    top_left, bottom_right = cat.clone(), cat.clone()
    top_left[..., corner, corner] = 1 - cat[..., corner, corner]
    bottom_right[..., -20:-4, -20:-4] = 1 - cat[..., -20:-4, -20:-4]
    result = elpips.difference_map(metric, cat, torch.cat([top_left, bottom_right]), samples=samples,
                                   generator=seeded(7))
    for maps in (result.map, result.density):
        for edited, opposite in ((maps[0, 0, :24, :24], maps[0, 0, -24:, -24:]),
                                 (maps[1, 0, -24:, -24:], maps[1, 0, :24, :24])):
            assert edited.mean() > 10 * opposite.mean()


def test_shapes_and_dtypes_for_odd_sizes():
    metric = elpips.load_metric("elpips_vgg", num_scales=1)
    generator = seeded(8)
    x, y = torch.rand(2, 3, 17, 23, generator=generator), torch.rand(2, 3, 17, 23, generator=generator)
    result = elpips.difference_map(metric, x, y, samples=3, generator=generator)
    assert result.map.shape == result.stderr.shape == result.density.shape == (2, 1, 17, 23)
    assert result.coverage.shape == (1, 1, 17, 23)
    assert result.map.dtype == result.stderr.dtype == torch.float32 and result.map.device.type == "cpu"
    assert result.distances.shape == (3, 2) and (result.map >= 0).all()
    one_to_many = elpips.difference_map(metric, x[:1], torch.cat([y, x]), samples=2, generator=generator)
    assert one_to_many.map.shape == (4, 1, 17, 23) and float(one_to_many.map[2].abs().max()) == 0.0
    double = elpips.difference_map(metric.double(), x.double(), y.double(), samples=2, generator=generator)
    assert double.map.dtype == torch.float64


@pytest.mark.parametrize(
    "x, y, options, message",
    [
        (torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 30), {}, "same shape"),
        (torch.rand(2, 3, 32, 32), torch.rand(3, 3, 32, 32), {}, "one of them be a single image"),
        (torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), {"upsample": "nearest"}, "upsample must be one of"),
        (torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), {"samples": 0}, "must be >= 1"),
        (torch.full((1, 3, 32, 32), float("nan")), torch.rand(1, 3, 32, 32), {}, "NaN"),
        (torch.rand(1, 3, 12, 12), torch.rand(1, 3, 12, 12), {}, "at least 16x16"),
    ],
)
def test_bad_inputs_are_clear_value_errors(two_scales, x, y, options, message):
    with pytest.raises(ValueError, match=message):
        elpips.difference_map(two_scales, x, y, **options)


# Heat map pictures ----------------------------------------------------------------------------------


def test_heat_map_colours_rise_from_black_to_pale_yellow():
    colors = heatmap.colorize(np.linspace(0, 2, 50)[None], vmax=1.0)[0].astype(float)
    lightness = colors @ np.array([0.299, 0.587, 0.114])
    assert tuple(colors[0]) == (0, 0, 4) and tuple(colors[-1]) == (252, 253, 191)
    assert np.all(np.diff(lightness) >= 0) and lightness[-1] > 200


def test_heat_map_picture_has_the_map_enlarged_and_a_colour_bar(tmp_path):
    values = np.zeros((40, 30))
    values[:10, :10] = 3.0
    picture = heatmap.render(values, caption="where they differ")
    factor = heatmap.MIN_HEIGHT // 40 + 1
    assert picture.dtype == np.uint8 and picture.shape[0] > 40 * factor and picture.shape[1] > 30 * factor
    assert tuple(picture[0, 0]) == (252, 253, 191) and tuple(picture[40 * factor - 1, 30 * factor - 1]) == (0, 0, 4)
    bar = picture[: 40 * factor, 30 * factor + 6 : 30 * factor + 20]
    assert tuple(bar[0, 0]) == (252, 253, 191) and tuple(bar[-1, 0]) == (0, 0, 4)
    background = np.full((40, 30, 3), 200, dtype=np.uint8)
    overlaid = heatmap.render(values, background=background)
    assert tuple(overlaid[-1, 0]) != (0, 0, 4)  # the image shows through where the map is low
    path = heatmap.save(tmp_path / "map.png", values, vmax=6.0)
    assert Image.open(path).size[::-1] == heatmap.render(values, vmax=6.0).shape[:2]


@pytest.mark.parametrize(
    "values, options, message",
    [
        (np.zeros((2, 3, 4)), {}, "one H x W array"),
        (np.full((4, 4), np.nan), {}, "NaN or Inf"),
        (np.zeros((4, 4)), {"background": np.zeros((5, 4, 3), dtype=np.uint8)}, "background must be"),
    ],
)
def test_heat_map_bad_inputs(values, options, message):
    with pytest.raises(ValueError, match=message):
        heatmap.render(values, **options)
