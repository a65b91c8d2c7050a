"""Who may write into an output folder: a run claims its folder before writing and holds the claim until it ends.

A claim refuses (`FolderRefused`, one line naming the folder and the fix) a folder that is or lies above one of
the run's inputs, and a folder another live run holds. The hold is a lock file, ``.elpips-lock``, created
exclusively and holding the owner's pid and host; a lock whose owner on this host no longer runs is stale and
taken over. The lock is removed when the claim is released (the run's lifetime, in every front end).

Example:
    >>> with claim_folder("out/", inputs=["a.png", "b.png"]):   # doctest: +SKIP
    ...     write_outputs("out/")
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Iterable

from elpips.errors import InputError
from geometry.service.run_folder import RUN_FILE, SPEC_FILE, FolderLayout


class FolderRefused(InputError):
    """An output folder this run may not write into (it holds inputs, or another live run holds it)."""

    def __init__(self, message: str, *, path: str | os.PathLike):
        super().__init__(message, field="out", path=path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def check_not_over_inputs(folder: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse ``folder`` when it is one of ``inputs`` or lies above one in a subfolder (a clip's frames folder:
    the run's ``frames/`` could replace them). A file directly in ``folder`` is allowed: the app keeps its
    uploads there beside the run's outputs."""
    out = Path(folder).resolve()
    for item in inputs:
        source = Path(item).resolve()
        beside = source.parent == out and not source.is_dir()
        if source == out or (out in source.parents and not beside):
            raise FolderRefused(f"--out {folder} holds the input {item}: choose an --out folder outside the "
                                f"inputs (a new or empty one)", path=folder)


def lock_owner(folder: str | os.PathLike) -> dict | None:
    """The ``{"pid", "host"}`` of the run holding ``folder``'s lock, or None when it has none (or is unreadable)."""
    try:
        owner = json.loads(FolderLayout(folder).lock.read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _stale(owner: dict | None) -> bool:
    """A lock whose owner is on this host and no longer runs (an unreadable lock is a writer mid-write: live)."""
    if owner is None:
        return False
    return owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int) and not _alive(owner["pid"])


class FolderClaim:
    """The exclusive hold of one output folder by this process; a context manager (`release` on exit)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.lock = FolderLayout(self.folder).lock
        self.held = False
        self.created: list[Path] = []  # the folders acquire made, removed on release when left empty

    def acquire(self) -> "FolderClaim":
        from elpips.io import writable_folder_problem

        problem = writable_folder_problem(self.folder)  # a file in the way, a read-only mount: one line
        if problem is not None:
            raise FolderRefused(f"--out {self.folder}: {problem}; choose another --out or fix its permissions",
                                path=self.folder)
        self.created = [p for p in [self.folder, *self.folder.parents] if not p.exists()]
        self.folder.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):  # a second try after removing a stale lock
            try:
                descriptor = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = lock_owner(self.folder)
                if owner == me:  # this process holds it already (a run inside a held job)
                    return self
                if _stale(owner):
                    self.lock.unlink(missing_ok=True)
                    continue
                who = f"pid {owner.get('pid')} on {owner.get('host')}" if owner else "another run"
                raise FolderRefused(f"{self.folder} is in use by another run ({who}): wait for it to end or "
                                    f"choose another --out folder", path=self.folder) from None
            with os.fdopen(descriptor, "w") as handle:
                json.dump(me, handle)
            self.held = True
            return self
        raise FolderRefused(f"{self.folder} is in use by another run: wait for it to end or choose another --out "
                            f"folder", path=self.folder)

    def release(self) -> None:
        """Remove the lock if this claim created it, and the folders it created if the run left them empty."""
        if self.held and lock_owner(self.folder) == {"pid": os.getpid(), "host": socket.gethostname()}:
            self.lock.unlink(missing_ok=True)
            for folder in self.created:  # deepest first
                try:
                    folder.rmdir()
                except OSError:  # the run wrote into it: kept
                    break
        self.held = False

    def __enter__(self) -> "FolderClaim":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def claim_folder(folder: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> FolderClaim:
    """Check ``folder`` against ``inputs`` and take its lock; use as ``with claim_folder(out, inputs): ...``."""
    check_not_over_inputs(folder, inputs)
    return FolderClaim(folder)


def check_no_foreign_outputs(folder: str | os.PathLike, patterns: Iterable[str]) -> None:
    """Refuse ``folder`` when it holds files named like the run's outputs (``patterns``, relative to it:
    `FolderLayout.geodesic_outputs`, `FolderLayout.average_outputs`) but no run record of its own
    (`FolderLayout.marks_run`: a run's ``run.json``, a batch job's ``job.json``): they are someone else's, and the
    run would replace or remove them."""
    folder = Path(folder)
    if FolderLayout(folder).marks_run():
        return
    foreign = next(iter(sorted(path for pattern in patterns for path in folder.glob(pattern))), None)
    if foreign is not None:
        raise FolderRefused(f"{folder} holds {foreign.relative_to(folder)} that no run here wrote (no "
                            f"{RUN_FILE} or {SPEC_FILE}): choose another --out folder (a new or empty one)",
                            path=folder)
