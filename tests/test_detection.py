"""Turn and zoom detection on a photographed-like texture (a brick wall with noise), from unaligned crops."""
from __future__ import annotations

import math

import pytest
import torch
from synthetic import brick_view

from geometry.paths.detection import (
    SEEN,
    TURN_MARGIN,
    confident,
    detect_similarity,
    seen_turn,
    tiled_distance,
    turn_distance,
)
from geometry.paths.quality import gaussian_blur


@pytest.mark.parametrize("degrees, zoom", [(60.0, 1.0), (0.0, 2.0)])
def test_a_turn_and_a_zoom_of_a_brick_wall_are_found_from_different_crops(degrees, zoom):
    a = brick_view(64, (100.0, 40.0))
    b = brick_view(64, (317.0, 251.0), degrees, zoom, seed=1)
    found = detect_similarity(a, b)
    assert math.degrees(found.angle) == pytest.approx(degrees, abs=10.0)
    assert found.scale == pytest.approx(zoom, rel=0.1)
    assert confident(found)   # "auto" takes the texture path for it
    assert found.agreement >= SEEN   # the spectra of independent halves agree on the turn (none for the zoom)


@pytest.mark.parametrize("zoom", [2.0, 3.0])
def test_the_tiled_judge_is_least_at_the_true_zoom(zoom):
    # the detection refines its zoom on this judge: it must bottom out at the truth, not keep falling with blur
    a, b = brick_view(64, (100.0, 40.0)), brick_view(64, (317.0, 251.0), 0.0, zoom, seed=1)
    below, at, above = (tiled_distance(a, b, 0.0, zoom * factor) for factor in (2 ** -0.5, 1.0, 2 ** 0.5))
    assert at < min(below, above)


@pytest.mark.parametrize("degrees", [0.0, 60.0])
def test_the_turn_judge_takes_a_turn_only_where_there_is_one(degrees):
    # both candidates are resampled alike: the true one must win by the margin, the other not
    a, b = brick_view(64, (100.0, 40.0)), brick_view(64, (317.0, 251.0), degrees, seed=1)
    at_none, at_turn = (turn_distance(a, b, math.radians(turn), 1.0) for turn in (0.0, 60.0))
    assert (at_turn < TURN_MARGIN * at_none) == (degrees == 60.0)


def test_a_turn_is_seen_by_independent_halves_of_the_crops():
    turn, agreement = seen_turn(brick_view(64, (100.0, 40.0)), brick_view(64, (317.0, 251.0), 60.0, seed=1), 1.0)
    assert math.degrees(turn) == pytest.approx(60.0, abs=10.0)
    assert agreement >= SEEN


def _isotropic_noise(seed: int) -> torch.Tensor:
    noise = gaussian_blur(torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(seed),
                                      dtype=torch.float64), 1.5)
    return (0.5 + 0.2 * noise / noise.std()).clamp(0, 1).expand(1, 3, 64, 64).float()


def test_no_turn_is_seen_between_two_crops_of_isotropic_noise():
    # the spectral peak of two noise crops lies anywhere; the halves of the crops do not agree on it
    _, agreement = seen_turn(_isotropic_noise(0), _isotropic_noise(1), 1.0)
    assert agreement < SEEN


def test_detection_rejects_images_of_two_sizes():
    with pytest.raises(ValueError, match="one size"):
        detect_similarity(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 48))
