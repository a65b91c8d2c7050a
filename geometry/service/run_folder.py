"""An output folder a run can be resumed in: its ``run.json`` (settings and status), the checks that the folder
is writable and has room for a checkpoint, and what a run created (removed again when it fails before writing).

Every front end's run (`geometry.service.runs`) writes through one of these, so that a run interrupted in any of them
continues with ``resume=True`` (the tools' ``--resume``, a job file run again, the app never: each run there
has a new folder).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from elpips.errors import InputError
from elpips.io import read_json, write_json
from geometry.service.folder_claim import LOCK_FILE

#: The folder's own state: what resuming checks (not an output of the run).
RUN_FILE = "run.json"
#: The engine's record of the run (and, for a geodesic, its timing and every pair's record).
RECORD_NAME = "record.json"
#: The files a geodesic writes (patterns in its folder; the movies of `geometry.service.video.write_movies`), and an
#: average (its snapshots aside: `geometry.service.runs.run_average` adds those asked for). A folder holding one
#: without a run record of its own (`geometry.service.folder_claim.check_no_foreign_outputs`) is someone else's.
GEODESIC_OUTPUTS = ("frames/frame_*.png", "geodesic.mp4", "geodesic.gif", "geodesic.webp", "geodesic.apng",
                    "contact_sheet.png", "montage.mp4", RECORD_NAME)
AVERAGE_NAME = "average.png"
AVERAGE_OUTPUTS = (AVERAGE_NAME, RECORD_NAME)
#: The checkpoint of a run of one optimisation (an average, a two-image geodesic).
CHECKPOINT_NAME = "checkpoint.pt"
#: The flow search's progress beside a checkpoint (``checkpoint.pt.flow.pt``, `geometry.paths.motion.flow_store`):
#: a run stopped in its motion start resumes from it.
FLOW_SUFFIX = ".flow.pt"
#: A clip's pairs: their checkpoints (``checkpoints/pair_0003.pt``) and, in a run in parts, each finished pair's
#: record (``pairs/pair_0003.json``: pairs finishing at the same time never share a file).
CHECKPOINTS_DIR = "checkpoints"
PAIRS_DIR = "pairs"


def checkpoint_file(out: str | os.PathLike, pair: int | None = None) -> Path:
    """The checkpoint of the run in ``out``: ``checkpoint.pt`` for one optimisation (``pair`` None), else
    pair ``pair``'s of a clip."""
    if pair is None:
        return Path(out) / CHECKPOINT_NAME
    return Path(out) / CHECKPOINTS_DIR / f"pair_{pair:04d}.pt"


def pair_record_file(out: str | os.PathLike, pair: int) -> Path:
    """Where a run in parts keeps finished pair ``pair``'s record until the run's last part folds it into run.json."""
    return Path(out) / PAIRS_DIR / f"pair_{pair:04d}.json"


def pair_files(out: str | os.PathLike) -> list[Path]:
    """The pairs' checkpoints and records in ``out`` (what a finished or restarted clip run removes)."""
    out = Path(out)
    return [*(out / CHECKPOINTS_DIR).glob("pair_*.pt"), *(out / PAIRS_DIR).glob("pair_*.json")]


def flow_file(checkpoint: str | os.PathLike) -> Path:
    """Where the flow search of the run checkpointed in ``checkpoint`` keeps its progress."""
    return Path(f"{os.fspath(checkpoint)}{FLOW_SUFFIX}")


def resumable(out: Path) -> bool:
    """Whether ``out`` holds a run that ``--resume`` continues (a checkpoint, a flow search's progress, or an
    unfinished run.json)."""
    out = Path(out)
    stored = read_json(out / RUN_FILE)
    return ((out / CHECKPOINT_NAME).is_file() or flow_file(out / CHECKPOINT_NAME).is_file()
            or any((out / CHECKPOINTS_DIR).glob("*.pt")) or (stored or {}).get("status") == "running")


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RunFolder:
    """An output folder with a ``run.json`` that makes ``--resume`` safe.

    ``run.json`` holds the tool's settings and status ("running" or "done"). A new run refuses a folder
    whose run is unfinished (``--resume`` continues it) or finished (``overwrite`` replaces it); ``--resume``
    refuses settings that differ from the stored ones. The folder must be writable, and the file size limit
    and free space must allow a checkpoint of ``checkpoint_bytes``, before anything runs. If the run fails on
    bad input or is interrupted before it produced anything, the folders it created are removed (never after a
    failed write: the folder then holds what was kept).
    """

    def __init__(self, out: Path, settings: dict, resume: bool, checkpoints: Sequence[Path],
                 checkpoint_bytes: int = 0, overwrite: bool = False):
        self.out = Path(out)
        self.path = self.out / RUN_FILE
        self.settings = settings
        self.created: list[Path] = []
        if resume and overwrite:
            raise InputError("give --resume (continue the unfinished run in --out) or --overwrite (replace the "
                             "finished one), not both", field="overwrite")
        stored = read_json(self.path)
        self.new_state = not self.path.exists()  # run.json is this run's own: removed again if nothing else is
        unfinished = (any(Path(c).exists() or flow_file(c).exists() for c in checkpoints)
                      or (stored or {}).get("status") == "running")
        if resume and stored is not None and stored.get("settings") != settings:
            changed = changes(stored.get("settings") or {}, settings)
            raise InputError(f"{self.out} holds a run with other settings ({changed}): use the same inputs and "
                             "options to resume, or another --out", field="out", path=self.out)
        if not resume and unfinished:
            raise InputError(f"{self.out} holds an unfinished run: pass --resume to continue it, "
                             "or choose another --out", field="resume", path=self.out)
        if not resume and not overwrite and (stored or {}).get("status") == "done":
            raise InputError(f"{self.out} holds a finished run: pass --overwrite to replace it, or choose another "
                             "--out", field="overwrite", path=self.out)
        kept = sum(Path(c).stat().st_size for c in checkpoints if Path(c).is_file()) if resume else 0
        check_output_folder(self.out, checkpoint_bytes, kept)
        self.state = stored if resume and stored else {"settings": settings, "status": "running"}

    def checkpoint(self, pair: int | None = None) -> Path:
        """This run's checkpoint (`checkpoint_file`): pair ``pair``'s for a clip, else the one."""
        return checkpoint_file(self.out, pair)

    def pair_record(self, pair: int) -> Path:
        """Where finished pair ``pair``'s record waits for the run's last part (`pair_record_file`)."""
        return pair_record_file(self.out, pair)

    def mkdir(self, folder: Path) -> Path:
        """Create ``folder`` (and parents), remembering what was new for :meth:`discard_if_empty`."""
        missing = []
        for parent in [folder, *folder.parents]:
            if parent.exists():
                break
            missing.append(parent)
        folder.mkdir(parents=True, exist_ok=True)
        self.created.extend(missing)
        return folder

    def save(self, **fields: Any) -> None:
        self.state.update(fields)
        self.mkdir(self.out)
        write_json(self.path, self.state)

    def discard_if_empty(self, error: BaseException | None = None) -> None:
        """After a failure: remove the folders this run created if nothing was written into them, and the
        ``run.json`` it wrote when the folder holds nothing else (not after a failed write, `error` an OSError: the
        user looks for the folder the message names)."""
        if isinstance(error, OSError):
            return
        if self.new_state and self.path.is_file() and [
                p.name for p in self.out.iterdir() if p.name != LOCK_FILE] == [RUN_FILE]:  # the claim's lock aside
            self.path.unlink()
        for folder in sorted(self.created, key=lambda f: len(f.parts), reverse=True):  # deepest first
            try:
                folder.rmdir()
            except OSError:
                pass


#: How a resume refusal names the stored settings that are no option of their own.
_SETTING_NAMES = {
    "inputs": "the input files", "input_sha256": "the inputs' contents", "start_sha256": "the --init frames",
    "mode": "two images or --video", "recipe": "--preset or --steps",
    **dict.fromkeys(("frames_per_pair", "timing"), "the frames or their timing (--frames, --insert, --to-fps, --fps)"),
}


def changes(stored: dict, given: dict) -> str:
    """The settings that differ between a stored run's and this run's, as options: ``--size was 32, now 24``."""
    named = []
    for key in sorted(set(stored) | set(given)):
        old, new = stored.get(key), given.get(key)
        if old == new:
            continue
        option = f"--{key.replace('_', '-')}"
        scalar = all(value is None or isinstance(value, (int, float, str)) for value in (old, new))
        named.append(_SETTING_NAMES.get(key) or (f"{option} was {old}, now {new}" if scalar else option))
    return "; ".join(dict.fromkeys(named))


def check_output_folder(out: Path, checkpoint_bytes: int = 0, kept: int = 0) -> None:
    """Raise InputError unless files can be written in ``out`` and a checkpoint of ``checkpoint_bytes``
    fits the file size limit (``ulimit -f``) and the free space (twice: the new one is written beside the old;
    ``kept``: the bytes of the run's own checkpoints already there, which a resumed run replaces)."""
    import resource
    import shutil

    from elpips.io import writable_folder_problem
    from elpips.memory import format_bytes

    problem = writable_folder_problem(out)
    if problem is not None:
        raise InputError(f"--out {out}: {problem}; choose another --out or fix its permissions",
                         field="out", path=out)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and limit < checkpoint_bytes:
        raise InputError(f"the file size limit (ulimit -f) is {limit} bytes, but this run's checkpoint needs about "
                         f"{format_bytes(checkpoint_bytes)}: raise the limit, or use a smaller --size")
    existing = next(p for p in [Path(out), *Path(out).parents] if p.exists())
    free = shutil.disk_usage(existing).free
    needed = max(checkpoint_bytes, 2 * checkpoint_bytes - kept)
    if free < needed:
        raise InputError(f"{existing} has {format_bytes(free)} free, but this run's checkpoints need about "
                         f"{format_bytes(needed)} more: free some space or choose another --out")


def checkpoint_bytes(free_images: int, size: tuple[int, int]) -> int:
    """About the size of a checkpoint of ``free_images`` images of ``size``: pixels and two Adam moments."""
    return 3 * free_images * 3 * size[0] * size[1] * 4 + 64 * 1024


@dataclass
class RunArtefacts:
    """What a run wrote: the folder, its output files (relative to ``out``, in the order written; not the
    bookkeeping ``run.json`` nor the checkpoint), ``record.json``'s content (``record_json``) and the engine's
    record (`geometry.api.RunRecord`, as a dict) of each optimisation it ran (one for an average, one per
    optimised pair for a geodesic)."""

    out: Path
    files: list[str]
    record_json: dict
    engine_records: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        """"completed", or "cancelled" when a cancel event stopped it (its checkpoint is kept)."""
        cancelled = any(r.get("status") == "cancelled" for r in self.engine_records)
        return "cancelled" if cancelled else "completed"

    @property
    def steps(self) -> int:
        return sum(int(r.get("steps", 0)) for r in self.engine_records)

    @property
    def seconds(self) -> float:
        return sum(float(r.get("seconds", 0.0)) for r in self.engine_records)
