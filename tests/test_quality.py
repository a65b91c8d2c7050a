"""The ghost fraction: 0 for one object at the true place, 1 for a double exposure, R^2 near 0 for a blur."""
from __future__ import annotations

import pytest
import torch

from geometry.paths.quality import gaussian_blur, ghost_fraction


def textured_pan(size: int = 48, shift: int = 8, seed: int = 0):
    """Endpoints, true middle and cross-dissolve of a window panned by `shift` px over random texture."""
    texture = torch.rand(1, 3, size // 2, (size + shift) // 2, generator=torch.Generator().manual_seed(seed))
    big = torch.nn.functional.interpolate(texture, size=(size, size + shift), mode="bilinear", align_corners=False)
    a, b = big[..., :size], big[..., shift:shift + size]
    truth = big[..., shift // 2:shift // 2 + size]
    return a, b, truth, (a + b) / 2


def test_truth_scores_zero_and_the_dissolve_one():
    a, b, truth, dissolve = textured_pan()
    at_truth = ghost_fraction(truth, truth, dissolve)
    at_dissolve = ghost_fraction(dissolve, truth, dissolve)
    assert abs(at_truth.fraction) < 1e-6 and at_truth.r2 > 1 - 1e-9
    assert abs(at_dissolve.fraction - 1) < 1e-6 and at_dissolve.r2 > 1 - 1e-9


def test_a_partial_ghost_scores_its_share_and_contrast_does_not_matter():
    a, b, truth, dissolve = textured_pan(seed=1)
    mixed = 0.7 * truth + 0.3 * dissolve
    assert ghost_fraction(mixed, truth, dissolve).fraction == pytest.approx(0.3, abs=1e-6)
    sharpened = 0.5 + 1.6 * (dissolve - 0.5)   # more contrast, still a double exposure
    assert ghost_fraction(sharpened, truth, dissolve).fraction == pytest.approx(1.0, abs=1e-6)


def test_blur_and_noise_explain_little_of_the_edges():
    a, b, truth, dissolve = textured_pan(seed=2)
    blurred = gaussian_blur(truth, 3.0)
    assert ghost_fraction(blurred, truth, dissolve).r2 < 0.5
    noise = torch.rand(truth.shape, generator=torch.Generator().manual_seed(3))
    assert ghost_fraction(noise, truth, dissolve).r2 < 0.1


def test_a_brightness_offset_does_not_change_the_verdict():
    a, b, truth, dissolve = textured_pan(seed=4)
    fit = ghost_fraction(0.6 * truth + 0.4 * dissolve + 0.1, truth, dissolve)
    assert fit.fraction == pytest.approx(0.4, abs=1e-6) and fit.r2 > 1 - 1e-9


def test_inputs_are_checked():
    a, b, truth, dissolve = textured_pan()
    with pytest.raises(ValueError, match="single RGB images of one size"):
        ghost_fraction(truth[..., :40], truth, dissolve)
    with pytest.raises(ValueError, match="too small"):
        ghost_fraction(truth[..., :8, :8], truth[..., :8, :8], dissolve[..., :8, :8])
    assert ghost_fraction(truth[0], truth[0], dissolve[0]).fraction == pytest.approx(0.0, abs=1e-6)


def test_layout_correlation_sees_a_copied_arrangement_and_not_a_new_one():
    """Issue 27: a texture change's middle must not keep an endpoint's layout, which statistics do not see."""
    from geometry.paths.quality import layout_correlation

    a, other = textured_pan(seed=4)[0], textured_pan(seed=5)[0]
    assert layout_correlation(a, a) == pytest.approx(1.0)
    assert abs(layout_correlation(other, a)) < 0.1
    assert 0.5 < layout_correlation((a + other) / 2, a) < 0.9
    assert layout_correlation(1.7 * a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one size"):
        layout_correlation(a, a[..., :40])
