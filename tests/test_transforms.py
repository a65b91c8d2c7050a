"""The transformation ensemble: sampled distributions (docs/metric.md) and the batched application
checked against a plain one-draw-at-a-time implementation of the same steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from elpips import Draws, TransformConfig, apply_draws, sample_draws
from elpips.transforms import apply_draws_adjoint

CONFIG = TransformConfig()


def _apply_one(image: torch.Tensor, draws: Draws, k: int, offset_max: int = 7) -> torch.Tensor:
    """The steps of docs/metric.md ("One random transformation") written out for one draw with F.pad."""
    x = image
    s = int(draws.scale[k])
    if s > 1:
        py, px = (int(v) for v in draws.phase[k])
        height, width = x.shape[-2:]
        full_h = (s - 1 + height + s - 1) // s * s
        full_w = (s - 1 + width + s - 1) // s * s
        x = F.pad(x, (px, full_w - width - px, py, full_h - height - py), mode="reflect")
        x = F.avg_pool2d(x, s)
    oy, ox = (int(v) for v in draws.offset[k])
    x = F.pad(x, (offset_max - ox, ox, offset_max - oy, oy), mode="reflect")
    flip = int(draws.flip[k])
    if flip in (0, 2):
        x = x.flip(-1)
    if flip in (1, 2):
        x = x.flip(-2)
    if bool(draws.transpose[k]):
        x = x.transpose(-1, -2)
    x = x[:, draws.permutation[k]]
    return x * draws.color[k].view(1, 3, 1, 1)


def _check_against_plain(images: torch.Tensor, seed: int, count: int = 40) -> None:
    draws = sample_draws(CONFIG, count, torch.Generator().manual_seed(seed))
    square = images.shape[-1] == images.shape[-2]
    seen = 0
    for group in draws.groups(square):
        batched = apply_draws(images, draws[group], CONFIG)
        for row, k in enumerate(group.tolist()):
            expected = _apply_one(images, draws, k)
            assert batched[row].shape == expected.shape
            assert torch.allclose(batched[row], expected, atol=1e-6), (k, draws[k : k + 1])
            seen += 1
    assert seen == count


def test_batched_application_equals_plain_steps_on_square_images():
    _check_against_plain(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)), seed=1)


def test_batched_application_equals_plain_steps_on_non_square_images():
    _check_against_plain(torch.rand(1, 3, 70, 61, generator=torch.Generator().manual_seed(0)), seed=2)


@pytest.mark.parametrize("height, width, config", [(64, 64, CONFIG), (37, 29, TransformConfig(num_scales=3))])
def test_adjoint_is_the_transpose_of_the_plain_steps(height, width, config):
    # <T x, v> = <x, T* v> with T the F.pad steps above: T* v is the gradient of <T x, v>. The plain steps
    # also permute and scale the channels, which multiplies the gradient summed over channels by sum(color).
    # (F.pad reflects at most once: the scale levels must leave more than offset_max pixels.)
    generator = torch.Generator().manual_seed(4)
    draws = sample_draws(config, 30, generator)
    image = torch.rand(1, 3, height, width, dtype=torch.float64, generator=generator, requires_grad=True)
    for group in draws.groups(square=height == width):
        shape = _apply_one(image, draws, int(group[0])).shape[-2:]
        values = torch.rand(len(group), 2, *shape, dtype=torch.float64, generator=generator)
        adjoint = apply_draws_adjoint(values, draws[group], config, (height, width))
        assert adjoint.shape == (len(group), 2, height, width)
        assert torch.allclose(adjoint.sum(dim=(-2, -1)), values.sum(dim=(-2, -1)))  # totals are kept
        for row, k in enumerate(group.tolist()):
            (gradient,) = torch.autograd.grad((_apply_one(image, draws, k) * values[row, 0]).sum(), image)
            expected = gradient.sum(dim=1)[0] / draws.color[k].double().sum()
            assert torch.allclose(adjoint[row, 0], expected, atol=1e-12), draws[k : k + 1]


def test_every_image_in_a_draw_gets_the_same_transformation():
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    draws = sample_draws(CONFIG, 16, torch.Generator().manual_seed(3))
    for group in draws.groups(True):
        out = apply_draws(torch.cat([image, image, image * 0.5]), draws[group], CONFIG)
        assert torch.equal(out[:, 0], out[:, 1])
        assert torch.allclose(out[:, 2], out[:, 0] * 0.5, atol=1e-6)


def test_sampled_distributions_match_the_paper():
    n = 60_000
    draws = sample_draws(CONFIG, n, torch.Generator().manual_seed(0))
    expected = torch.tensor([1 / s**2 for s in range(1, 9)])
    expected /= expected.sum()
    observed = torch.bincount(draws.scale, minlength=9)[1:].double() / n
    assert torch.allclose(observed, expected.double(), atol=4 * (expected * (1 - expected) / n).sqrt().max().item())
    assert (draws.phase >= 0).all() and (draws.phase < draws.scale[:, None]).all()
    eights = draws.scale == 8
    assert set(draws.phase[eights].flatten().tolist()) == set(range(8))
    offsets = torch.bincount(draws.offset.flatten(), minlength=8).double() / (2 * n)
    assert len(offsets) == 8 and torch.allclose(offsets, torch.full((8,), 1 / 8, dtype=torch.double), atol=0.01)
    flips = torch.bincount(draws.flip, minlength=4).double() / n
    assert torch.allclose(flips, torch.full((4,), 0.25, dtype=torch.double), atol=0.01)
    assert abs(draws.transpose.double().mean().item() - 0.5) < 0.01
    permutations = {tuple(p) for p in draws.permutation.tolist()}
    assert len(permutations) == 6 and all(sorted(p) == [0, 1, 2] for p in permutations)
    assert draws.color.min() >= 0.2 and draws.color.max() <= 1.0
    assert abs(draws.color.mean().item() - 0.6) < 0.01


def test_sampling_is_reproducible_from_the_generator():
    a = sample_draws(CONFIG, 10, torch.Generator().manual_seed(11))
    b = sample_draws(CONFIG, 10, torch.Generator().manual_seed(11))
    fields = ("scale", "phase", "offset", "flip", "transpose", "permutation", "color", "seed")
    assert all(torch.equal(getattr(a, f), getattr(b, f)) for f in fields)


def test_identity_draws_leave_images_unchanged():
    image = torch.rand(2, 3, 20, 24)
    out = apply_draws(image, Draws.identities(3), TransformConfig(offset_max=0))
    assert torch.equal(out, image[None].expand(3, -1, -1, -1, -1))


def test_stratified_blocks_keep_the_marginals_and_balance_each_block():
    block, blocks = 10, 3000
    draws = sample_draws(CONFIG, block * blocks, torch.Generator().manual_seed(0), stratify=block)
    expected = torch.tensor([1 / s**2 for s in range(1, 9)], dtype=torch.double)
    expected /= expected.sum()
    observed = torch.bincount(draws.scale, minlength=9)[1:].double() / len(draws)
    assert torch.allclose(observed, expected, atol=0.005)
    per_block = draws.scale.view(blocks, block)
    assert set((per_block == 1).sum(1).tolist()) <= {6, 7}  # P(s=1) = 0.645: 6 or 7 of every 10
    def counts(values, categories):
        return torch.stack([torch.bincount(row, minlength=categories) for row in values.view(blocks, block)])

    for values, categories in ((draws.flip, 4), (draws.transpose.long(), 2)):  # 2.5 and 5 strata each
        assert counts(values, categories).min() >= block // categories
        assert counts(values, categories).max() <= -(-block // categories)
    assert counts(draws.offset[:, 0], 8).max() <= 2  # 1.25 strata each: i.i.d. draws would often give 3+
    colors = draws.color.view(blocks, block, 3)
    strata = ((colors - 0.2) / 0.8 * block).floor().sort(dim=1).values[:, :, 0]
    assert torch.equal(strata, torch.arange(block).float().expand(blocks, -1))
