"""The metric against the reference implementation's published numbers and the lpips package."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
import torch.nn.functional as F

import elpips

PUBLISHED_LPIPS_VGG = {"adv_anchor": 0.025399859994649887, "adv_vgg_sqz": 0.01992170885205269}
PUBLISHED_ELPIPS_VGG = {"adv_anchor": 0.0165, "adv_vgg_sqz": 0.0844}


@pytest.fixture(scope="module")
def metric_without_dropout():
    """E-LPIPS with dropout off: its draws are deterministic transforms, so batching must not change numbers."""
    config = elpips.get_config("elpips_vgg")
    no_dropout = dataclasses.replace(config, transforms=dataclasses.replace(config.transforms, dropout_keep=1.0))
    weights = elpips.weights
    return elpips.Metric(no_dropout, weights.backbone_state_dict("vgg16"), weights.linear_weights("vgg_full_avg.npy"),
                         max_batch=4)


@pytest.fixture(scope="module")
def adversarial(data_dir):
    names = ("adv_reference", "adv_anchor", "adv_vgg_sqz")
    return {name: elpips.load_image(data_dir / f"{name}.png", alpha="drop") for name in names}


def test_lpips_vgg_reproduces_published_numbers(metric_lpips, adversarial):
    with torch.no_grad():
        for name, published in PUBLISHED_LPIPS_VGG.items():
            value = metric_lpips(adversarial[name], adversarial["adv_reference"]).item()
            assert value == pytest.approx(published, abs=2e-6), name


def test_elpips_sees_through_the_lpips_attack_on_small_images(metric_elpips, adversarial):
    # LPIPS-VGG is fooled (sqz looks closer); E-LPIPS, at 64 px with the default 8 scale levels, is not.
    small = {k: F.interpolate(v, size=(64, 64), mode="area") for k, v in adversarial.items()}
    result = elpips.compare(
        metric_elpips, small["adv_reference"], [small["adv_anchor"], small["adv_vgg_sqz"]],
        samples=60, generator=torch.Generator().manual_seed(0),
    )
    assert result.samples == 60
    assert result.closest == 0
    assert result.confidence_z() > 3
    assert float(result.stderr[1] / result.values[1]) < 0.03


@pytest.mark.slow
def test_elpips_vgg_reproduces_published_numbers_full_size(metric_elpips, adversarial):
    # 100 shared draws in stratified blocks of 10 at 400 x 357 (minutes on 2 cores) bring both standard
    # errors under 3 %; independent draws would need about 300.
    result = elpips.compare(
        metric_elpips, adversarial["adv_reference"], [adversarial["adv_anchor"], adversarial["adv_vgg_sqz"]],
        samples=100, generator=torch.Generator().manual_seed(2019),
    )
    assert result.closest == 0
    assert (result.stderr / result.values).max() < 0.03
    for k, name in enumerate(("adv_anchor", "adv_vgg_sqz")):
        assert abs(float(result.values[k]) - PUBLISHED_ELPIPS_VGG[name]) < 3 * float(result.stderr[k]), name
    assert float(result.values[1] / result.values[0]) > 3  # five times further, per the paper


@pytest.mark.parametrize("net", ["vgg", "alex"])
def test_standard_lpips_equals_the_lpips_package(net, small_images, lpips_package):
    ours = elpips.load_metric(net)
    theirs = lpips_package(net)
    generator = torch.Generator().manual_seed(0)
    cat, dog = small_images
    noise = (torch.rand(2, 3, 48, 40, generator=generator), torch.rand(2, 3, 48, 40, generator=generator))
    pairs = [(cat, dog), (cat, cat.flip(-1)), noise]
    with torch.no_grad():
        for x, y in pairs:
            expected = theirs(x, y, normalize=True).flatten()
            assert torch.allclose(ours(x, y), expected, atol=1e-6, rtol=0), net


@pytest.mark.parametrize("name", ["elpips_vgg", "lpips_vgg", "vgg", "alex"])
def test_distance_to_itself_is_exactly_zero(name, small_images):
    metric = elpips.load_metric(name)
    cat, _ = small_images
    with torch.no_grad():
        distance = metric(cat, cat.clone(), samples=8, generator=torch.Generator().manual_seed(1))
        assert torch.equal(distance, torch.zeros(1))


def test_symmetric_per_draw_and_in_expectation(metric_elpips, small_images):
    cat, dog = small_images
    draws = metric_elpips.sample_draws(6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        embedding = metric_elpips.embed(torch.cat([cat, dog]), draws)
        forward = metric_elpips.embedding_distance(embedding, [0], [1])
        backward = metric_elpips.embedding_distance(embedding, [1], [0])
        assert torch.equal(forward, backward)
        a = elpips.estimate(metric_elpips, cat, dog, samples=24, generator=torch.Generator().manual_seed(4))
        b = elpips.estimate(metric_elpips, dog, cat, samples=24, generator=torch.Generator().manual_seed(5))
    assert abs(float(a.value - b.value)) < 4 * float((a.stderr**2 + b.stderr**2).sqrt())


def test_same_seed_same_numbers_and_different_seed_different_numbers(metric_elpips, small_images):
    cat, dog = small_images
    with torch.no_grad():
        first = metric_elpips(cat, dog, samples=4, generator=torch.Generator().manual_seed(7))
        again = metric_elpips(cat, dog, samples=4, generator=torch.Generator().manual_seed(7))
        other = metric_elpips(cat, dog, samples=4, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_gradients_match_finite_differences():
    # A 16 px image needs a single scale level; float64 makes the finite differences exact enough.
    metric = elpips.load_metric("elpips_vgg", num_scales=1).double()
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 16, 16, generator=generator, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 3, 16, 16, generator=generator, dtype=torch.float64)
    draws = metric.sample_draws(2, generator=generator)

    def distance(image):
        return metric.embedding_distance(metric.embed(torch.cat([image, y]), draws), [0], [1]).mean()

    assert torch.autograd.gradcheck(distance, (x,), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)
    distance(x).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_batch_of_pairs_gives_one_distance_each_and_is_differentiable_in_both(metric_elpips, small_images):
    cat, dog = small_images
    x = torch.cat([cat, dog]).requires_grad_(True)
    y = torch.cat([dog, dog]).requires_grad_(True)
    d = metric_elpips(x, y, samples=2, generator=torch.Generator().manual_seed(0))
    assert d.shape == (2,)
    assert d[1] == 0 and d[0] > 0
    d.sum().backward()
    assert x.grad.abs().sum() > 0 and y.grad.abs().sum() > 0


def test_signed_input_range_matches_unit_range(small_images):
    unit = elpips.load_metric("lpips_vgg")
    signed = elpips.load_metric("lpips_vgg", input_range="[-1,1]")
    cat, dog = small_images
    with torch.no_grad():
        assert torch.allclose(unit(cat, dog), signed(cat * 2 - 1, dog * 2 - 1), atol=1e-7)


def test_batched_and_one_at_a_time_embeddings_agree_for_deterministic_draws(metric_without_dropout, small_images):
    metric = metric_without_dropout
    cat, dog = small_images
    draws = metric.sample_draws(12, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        together = metric.embedding_distance(metric.embed(torch.cat([cat, dog]), draws), [0], [1])
        alone = torch.cat([metric.embedding_distance(metric.embed(torch.cat([cat, dog]), draws[k : k + 1]), [0], [1])
                           for k in range(12)])
    assert torch.allclose(together, alone, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 60), "same shape"),
        (torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40), "at least 58x58"),
        (torch.full((1, 3, 64, 64), float("nan")), torch.rand(1, 3, 64, 64), "NaN"),
        (torch.rand(0, 3, 64, 64), torch.rand(0, 3, 64, 64), "empty"),
        (torch.rand(3, 64, 64), torch.rand(3, 64, 64), "(N, 3, H, W)"),
        (torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64), "input_range='[-1,1]'"),  # the classic mix-up
        (torch.rand(1, 3, 64, 64) * 255, torch.rand(1, 3, 64, 64), "must lie in [0,1]"),
        (torch.rand(1, 3, 64, 64) + 0.01, torch.rand(1, 3, 64, 64), "overshoots up to 0.001 are clamped"),
        (torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8), torch.rand(1, 3, 64, 64), "as_image_batch"),
    ],
)
def test_bad_inputs_are_clear_value_errors(metric_elpips, x, y, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        metric_elpips(x, y)


def test_signed_range_refuses_what_lies_outside_it():
    signed = elpips.load_metric("lpips_vgg", input_range="[-1,1]")
    with pytest.raises(ValueError, match=re.escape("must lie in [-1,1]")):
        signed(torch.full((1, 3, 64, 64), 1.5), torch.zeros(1, 3, 64, 64))


def test_other_float_precisions_are_converted_and_small_overshoots_clamped(metric_lpips, small_images):
    cat, dog = small_images
    with torch.no_grad():
        expected = metric_lpips(cat, dog)
        assert torch.allclose(metric_lpips(cat.double(), dog.double()), expected, rtol=0, atol=0)
        assert torch.allclose(metric_lpips(cat.half(), dog.half()), expected, rtol=1e-2)  # half's rounding only
        overshoot = cat.clone()
        overshoot[..., 0, 0] = 1.0005  # within the tolerance: a resampling overshoot, clamped to 1
        assert torch.equal(metric_lpips(overshoot, dog), metric_lpips(overshoot.clamp(0, 1), dog))


def test_pair_distances_in_passes_equal_one_embedding_without_dropout(metric_without_dropout, small_images):
    metric = metric_without_dropout
    images = torch.cat(small_images)
    draws = metric.sample_draws(7, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole = metric.embedding_distance(metric.embed(images, draws), [0], [1])
        passes = metric.pair_distances(images, draws, [0], [1])
    assert torch.allclose(whole, passes, rtol=1e-4, atol=1e-8)
