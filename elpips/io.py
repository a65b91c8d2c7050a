"""Atomic file writes (a reader never sees a half-written output, a crash leaves none behind), and a real
test of whether a folder can be written."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which would race with other threads.
_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The temporary file keeps ``path``'s suffix so that writers which choose a format by
    extension (imageio, torch.save of ``.pt``) behave as they would on ``path`` itself.
    An OSError with an errno (full disk, permissions, file size limit) is re-raised naming ``path``
    rather than the temporary file; whatever was at ``path`` before is left as it was.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except OSError as error:
        if error.errno is None:
            raise
        raise OSError(error.errno, os.strerror(error.errno), str(path)) from error
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that `atomic_write` left in `folder` (and below) when its process was
    killed before the rename (SIGKILL skips the cleanup). Call it only while no writer uses the folder."""
    stale = [path for path in Path(folder).rglob(".*.tmp*") if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def writable_folder_problem(folder: str | os.PathLike) -> str | None:
    """Why files cannot be written into ``folder`` (created on demand), or None when they can.

    Tried for real, not with ``os.access`` (wrong for root and read-only mounts): a temporary file is
    created and removed in ``folder``, or in its nearest existing ancestor if it does not exist yet
    (nothing is left behind, no folder is created).
    """
    folder = Path(folder)
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if existing is None:
        return f"{folder}: none of its parent folders exists"
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        fd, name = tempfile.mkstemp(prefix=".write-test-", dir=existing)
        os.close(fd)
        os.unlink(name)
    except OSError as error:
        return f"{existing} is not writable ({os_error_reason(error)})"
    return None


def os_error_reason(error: OSError) -> str:
    """``"No space left on device, errno 28 ENOSPC"``: the reason and the errno, for one-line messages."""
    if error.errno is None:
        return str(error) or type(error).__name__
    name = errno.errorcode.get(error.errno, "")
    return f"{error.strerror or os.strerror(error.errno)}, errno {error.errno} {name}".rstrip()


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON (objects such as paths as strings), atomically."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return Path(path)


def read_json(path: str | os.PathLike) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable (a marker file that is not there yet)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
