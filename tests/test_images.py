"""Input handling: layouts, dtypes, channels, files, and the errors users see."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import elpips


@pytest.mark.parametrize(
    "value, shape",
    [
        (np.zeros((20, 30), np.uint8), (1, 3, 20, 30)),
        (np.zeros((20, 30, 3), np.uint8), (1, 3, 20, 30)),
        (np.zeros((20, 30, 4), np.uint8), (1, 3, 20, 30)),
        (np.zeros((2, 20, 30, 3), np.float32), (2, 3, 20, 30)),
        (torch.zeros(3, 20, 30), (1, 3, 20, 30)),
        (torch.zeros(20, 30, 3), (1, 3, 20, 30)),
        (torch.zeros(5, 1, 20, 30), (5, 3, 20, 30)),
    ],
)
def test_layouts_become_nchw_rgb(value, shape):
    assert elpips.as_image_batch(value).shape == shape


def test_values_are_scaled_to_unit_range_and_alpha_is_composited_onto_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 2] = 255  # blue where opaque, red stored under the transparent half
    rgba[:, :2, 3] = 255
    rgba[:, 2:, 0] = 255
    out = elpips.as_image_batch(rgba)[0]
    assert out[:, :, :2].eq(torch.tensor([0.0, 0.0, 1.0])[:, None, None]).all()  # opaque: as stored
    assert out[:, :, 2:].eq(1).all()  # transparent: the white background, not the red stored under it
    grey_alpha = np.stack([np.zeros((4, 4)), np.full((4, 4), 0.5)], -1).astype(np.float32)
    assert torch.allclose(elpips.as_image_batch(grey_alpha), torch.full((1, 3, 4, 4), 0.5))
    gray16 = np.full((4, 4), 65535, np.uint16)
    assert elpips.as_image_batch(gray16).eq(1).all()


@pytest.mark.parametrize(
    "value, message",
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.full((4, 4, 3), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((4, 4, 3), -0.5, np.float32), r"\[-1, 1\]"),
        (np.zeros((6, 6, 5), np.uint8), "channels"),
        (np.zeros((4, 4, 3), np.complex64), "dtype"),
        (np.zeros((1, 1, 1, 4, 4)), "dimensions"),
    ],
)
def test_bad_arrays_are_clear_errors(value, message):
    with pytest.raises(ValueError, match=message):
        elpips.as_image_batch(value)


def test_files_round_trip_and_unreadable_files_say_so(tmp_path):
    image = torch.rand(1, 3, 10, 12)
    elpips.save_image(tmp_path / "x.png", image)
    loaded = elpips.load_image(tmp_path / "x.png")
    assert loaded.shape == (1, 3, 10, 12) and (loaded - image).abs().max() <= 0.5 / 255 + 1e-6
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(elpips.ImageError, match="bad.png: not a readable image"):
        elpips.load_image(tmp_path / "bad.png")
    with pytest.raises(elpips.ImageError, match="no such file"):
        elpips.load_image(tmp_path / "missing.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png", "x.png"]  # no temp files left
