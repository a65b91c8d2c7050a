"""Issue 25 item 5: what the Python API is handed wrongly is one line naming the fix, never a raw torch error or
warning: a device that is none, CUDA without a GPU, tensors on the meta device, a batch given to
pairwise_average, an input that requires grad."""

import warnings

import pytest
import torch

import elpips
import geometry
from elpips.errors import InputError

A, B = (torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(s)) for s in (0, 1))
QUICK = {"size": 32, "distance": "l2", "steps": 2, "motion": "none"}


@pytest.mark.parametrize("device", ["banana", "cuda:0"])
def test_a_device_that_is_none_here_is_one_line_in_the_metric_and_the_geometry_api(device):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    expected = "is not a device: use 'cpu'" if device == "banana" else "needs a CUDA GPU and there is none here"
    with pytest.raises(InputError, match=expected):
        elpips.load_metric("lpips_vgg", device=device)
    with pytest.raises(InputError, match=expected):
        geometry.pairwise_average(A, B, device=device, **QUICK)


def test_tensors_on_the_meta_device_are_one_line(metric_lpips):
    with pytest.raises(InputError, match="x is on the meta device .*create it with its pixels"):
        metric_lpips(A.to("meta"), B)
    with pytest.raises(InputError, match="image 0 is on the meta device"):
        geometry.geodesic(A.to("meta"), B, frames=3, **QUICK)


def test_pairwise_average_of_a_batch_says_it_takes_single_images():
    with pytest.raises(InputError, match="takes two single images, and a is a batch of 2") as error:
        geometry.pairwise_average(torch.cat([A, B]), B, **QUICK)
    assert "weights" not in str(error.value)


def test_an_input_that_requires_grad_leaks_no_warning(metric_lpips):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        geometry.pairwise_average(A.clone().requires_grad_(), B, **QUICK)
        metric_lpips(A.clone().requires_grad_(), B)
