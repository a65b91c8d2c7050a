"""A run's claim on its output folder: inputs never lie under it, and two live runs never share it."""

import hashlib
import json
import os
import socket
import subprocess
import sys

import pytest

from elpips.errors import InputError
from geometry.service.folder_claim import FolderRefused, claim_folder, lock_owner
from geometry.service.run_folder import LOCK_FILE


def _digests(folder):
    return {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_refuses_folder_holding_or_above_inputs(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "frame_000.png").write_bytes(b"original")
    before = _digests(tmp_path)
    for out, source in ((tmp_path, frames), (frames, frames), (tmp_path, frames / "frame_000.png")):
        with pytest.raises(FolderRefused, match="holds the input .*choose an --out folder outside") as error:
            with claim_folder(out, inputs=[source]):
                pass
        assert isinstance(error.value, InputError) and str(out) in str(error.value)
    assert _digests(tmp_path) == before


def test_second_claim_refused_while_first_lives(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from geometry.service.folder_claim import claim_folder\n"
         f"c = claim_folder({str(tmp_path)!r}).acquire(); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # waits for the event, not a clock
        with pytest.raises(FolderRefused, match=f"in use by another run \\(pid {holder.pid} .*choose another --out"):
            claim_folder(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with claim_folder(tmp_path) as claim:  # its owner died: the lock is stale
        assert lock_owner(tmp_path) == {"pid": os.getpid(), "host": socket.gethostname()}
        assert claim.held
    assert not (tmp_path / LOCK_FILE).exists()


def test_stale_lock_of_dead_pid_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with claim_folder(tmp_path):
        assert lock_owner(tmp_path)["pid"] == os.getpid()


def test_lock_of_other_host_is_kept(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(FolderRefused, match="pid 1 on elsewhere"):
        claim_folder(tmp_path).acquire()
    assert lock_owner(tmp_path) == {"pid": 1, "host": "elsewhere"}
