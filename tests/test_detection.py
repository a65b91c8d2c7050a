"""Turn and zoom detection on a photographed-like texture (a brick wall with noise), from unaligned crops."""
from __future__ import annotations

import math

import pytest
import torch
from synthetic import brick_view

from geometry.paths.detection import confident, detect_similarity


@pytest.mark.parametrize("degrees, zoom", [(60.0, 1.0), (0.0, 2.0)])
def test_a_turn_and_a_zoom_of_a_brick_wall_are_found_from_different_crops(degrees, zoom):
    a = brick_view(64, (100.0, 40.0))
    b = brick_view(64, (317.0, 251.0), degrees, zoom, seed=1)
    found = detect_similarity(a, b)
    assert math.degrees(found.angle) == pytest.approx(degrees, abs=10.0)
    assert found.scale == pytest.approx(zoom, rel=0.1)
    assert confident(found)   # "auto" takes the texture path for it


def test_detection_rejects_images_of_two_sizes():
    with pytest.raises(ValueError, match="one size"):
        detect_similarity(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 48))
