"""Turn and zoom detection on a photographed-like texture (a brick wall with noise), from unaligned crops."""
from __future__ import annotations

import math

import pytest
import torch

from geometry.paths.detection import detect_similarity


def brick_view(size: int, centre: tuple[float, float], degrees: float = 0.0, zoom: float = 1.0,
               seed: int = 0) -> torch.Tensor:
    """(1, 3, size, size): an endless wall of 12 x 5 px bricks in staggered rows with dark mortar and pixel noise,
    seen about `centre` (wall px) turned by `degrees` and enlarged by `zoom` as
    `geometry.paths.textures.similarity_warp` turns and enlarges."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    angle = math.radians(degrees)
    x = centre[1] + (math.cos(angle) * xx + math.sin(angle) * yy) / zoom
    y = centre[0] + (-math.sin(angle) * xx + math.cos(angle) * yy) / zoom
    row = torch.floor(y / 5)
    along = torch.remainder(x + 6 * torch.remainder(row, 2), 12)
    across = torch.remainder(y, 5)
    mortar = torch.sigmoid((1 - torch.minimum(along, 12 - along)) * 3) + torch.sigmoid((1 - torch.minimum(
        across, 5 - across)) * 3)
    noise = torch.randn(size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gray = (0.6 - 0.35 * mortar.clamp(0, 1) + 0.05 * noise).clamp(0, 1)
    return gray.expand(1, 3, size, size).float().clone()


@pytest.mark.parametrize("degrees, zoom", [(60.0, 1.0), (0.0, 2.0)])
def test_a_turn_and_a_zoom_of_a_brick_wall_are_found_from_different_crops(degrees, zoom):
    a = brick_view(64, (100.0, 40.0))
    b = brick_view(64, (317.0, 251.0), degrees, zoom, seed=1)
    found = detect_similarity(a, b)
    assert math.degrees(found.angle) == pytest.approx(degrees, abs=10.0)
    assert found.scale == pytest.approx(zoom, rel=0.1)


def test_detection_rejects_images_of_two_sizes():
    with pytest.raises(ValueError, match="one size"):
        detect_similarity(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 48))
