"""Issue 25 item 5: an empty file and a symlink loop each get their own line."""

import os

import pytest

from elpips.images import ImageError, load_image


def test_an_empty_file_says_empty_0_bytes(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png is empty \(0 bytes\)"):
        load_image(tmp_path / "empty.png")


def test_a_symlink_loop_is_not_no_such_file(tmp_path):
    os.symlink(tmp_path / "b.png", tmp_path / "a.png")
    os.symlink(tmp_path / "a.png", tmp_path / "b.png")
    with pytest.raises(ImageError, match="symbolic link loop") as error:
        load_image(tmp_path / "a.png")
    assert "no such file" not in str(error.value)
