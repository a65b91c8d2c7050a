"""Weight files with reproducible bytes, readable without unpickling: the safetensors layout.

``torch.save`` writes a zip whose bytes change from one save to the next (a random serialization id,
the archive name), so a ``.pth`` file cannot be checked with ``sha256sum`` against a published hash, and
reading it runs an unpickler. The converted weights are therefore stored in the safetensors layout
(https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON header
``{name: {"dtype", "shape", "data_offsets"}}``, then the raw little-endian tensor bytes. This module
writes it canonically (tensors in name order, compact JSON, the header padded with spaces to a
multiple of 8 bytes), so the same tensors always give the same bytes and the same sha256, whatever
the torch version; the files open with the ``safetensors`` package too.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch

from .errors import InputError

_DTYPES = {torch.float32: ("F32", np.dtype("<f4"))}
_BY_CODE = {code: (dtype, np_dtype) for dtype, (code, np_dtype) in _DTYPES.items()}


class TensorFileError(InputError):
    """A file that is not a well-formed tensor file of the kinds this module writes."""


def tensor_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """The canonical file content for ``tensors`` (float32 only)."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        if tensor.dtype not in _DTYPES:
            raise TypeError(f"{name} is {tensor.dtype}; tensor files hold float32 tensors only")
        code, np_dtype = _DTYPES[tensor.dtype]
        data = tensor.numpy().astype(np_dtype, copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a file written by :func:`tensor_bytes` (any well-formed float32 safetensors file)."""
    data = Path(path).read_bytes()
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + length])
        body = memoryview(data)[8 + length:]
        tensors = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            dtype, np_dtype = _BY_CODE[entry["dtype"]]
            begin, end = entry["data_offsets"]
            shape = tuple(int(n) for n in entry["shape"])
            if not 0 <= begin <= end <= len(body) or end - begin != np_dtype.itemsize * int(np.prod(shape)):
                raise InputError(f"{name}: data offsets {begin}..{end} do not fit the file or the shape {shape}")
            array = np.frombuffer(body[begin:end], dtype=np_dtype).reshape(shape)
            tensors[name] = torch.from_numpy(array.astype(np_dtype.newbyteorder("="), copy=True)).to(dtype)
    except (struct.error, ValueError, KeyError, TypeError, AttributeError) as error:
        raise TensorFileError(f"{path}: not a readable tensor file ({error})") from None
    return tensors
