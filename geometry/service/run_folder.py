"""An output folder a run can be resumed in: every path of its layout (`FolderLayout`: the one place a file name or
sub-folder of a run folder is spelled), its ``run.json`` (settings and status), the checks that the folder is
writable and has room for a checkpoint, and what a run created (removed again when it fails before writing).

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

#: The layout of a run folder, spelled here only (`FolderLayout` makes the paths). The folder's own state: what
#: resuming checks (not an output of the run).
RUN_FILE = "run.json"
#: The engine's record of the run (and, for a geodesic, its timing and every pair's record).
RECORD_NAME = "record.json"
#: The checkpoint of a run of one optimisation (an average, a two-image geodesic).
CHECKPOINT_NAME = "checkpoint.pt"
#: A clip's pairs: their checkpoints (``checkpoints/pair_0003.pt``) and, in a run in parts, each finished pair's
#: record (``pairs/pair_0003.json``: pairs finishing at the same time never share a file).
CHECKPOINTS_DIR = "checkpoints"
PAIRS_DIR = "pairs"
#: An average's image; a geodesic's frames (``frames/frame_000.png`` ...), movies (``geodesic.mp4`` ...,
#: ``contact_sheet.png``: `geometry.service.video.movie_name`) and montage.
AVERAGE_NAME = "average.png"
FRAMES_DIR = "frames"
MOVIE_STEM = "geodesic"
MONTAGE_NAME = "montage.mp4"
#: A batch job's spec (what the folder's run computes) and its finished marker (`geometry.service.backends`).
SPEC_FILE = "job.json"
DONE_FILE = "done.json"
#: The lock of a claimed folder (`geometry.service.folder_claim`): ``{"pid": ..., "host": ...}`` of its holder.
LOCK_FILE = ".elpips-lock"
#: The app's own files beside the run's: its inputs (``input_0.png`` ...), its settings, the frames zipped.
APP_SETTINGS_NAME = "settings.json"
FRAMES_ZIP = "frames.zip"


class FolderLayout:
    """Every path of the run folder ``out``: the one place that names a file or sub-folder of it.

    Example:
        >>> layout = FolderLayout("out")
        >>> layout.checkpoint(3).as_posix(), layout.pair_record(3).as_posix()
        ('out/checkpoints/pair_0003.pt', 'out/pairs/pair_0003.json')
    """

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)

    @property
    def run_file(self) -> Path:
        return self.out / RUN_FILE

    @property
    def record(self) -> Path:
        return self.out / RECORD_NAME

    @property
    def average(self) -> Path:
        return self.out / AVERAGE_NAME

    @property
    def montage(self) -> Path:
        return self.out / MONTAGE_NAME

    @property
    def spec(self) -> Path:
        return self.out / SPEC_FILE

    @property
    def done(self) -> Path:
        return self.out / DONE_FILE

    @property
    def lock(self) -> Path:
        return self.out / LOCK_FILE

    @property
    def frames(self) -> Path:
        return self.out / FRAMES_DIR

    @property
    def app_settings(self) -> Path:
        return self.out / APP_SETTINGS_NAME

    @property
    def frames_zip(self) -> Path:
        return self.out / FRAMES_ZIP

    def app_input(self, index: int) -> Path:
        """The app's copy of input ``index``."""
        return self.out / f"input_{index}.png"

    def checkpoint(self, pair: int | None = None) -> Path:
        """The checkpoint: ``checkpoint.pt`` for one optimisation (``pair`` None), else pair ``pair``'s of a clip."""
        if pair is None:
            return self.out / CHECKPOINT_NAME
        return self.out / CHECKPOINTS_DIR / f"pair_{pair:04d}.pt"

    def checkpoints(self, pairs: int) -> list[Path]:
        """The checkpoints of a run of ``pairs`` optimisations: the one, or each pair's."""
        return [self.checkpoint(None if pairs == 1 else i) for i in range(pairs)]

    def pair_record(self, pair: int) -> Path:
        """Where a run in parts keeps finished pair ``pair``'s record until the run's last part folds it into
        run.json."""
        return self.out / PAIRS_DIR / f"pair_{pair:04d}.json"

    def pair_files(self) -> list[Path]:
        """The pairs' checkpoints and records (what a finished or restarted clip run removes)."""
        return [*(self.out / CHECKPOINTS_DIR).glob("pair_*.pt"), *(self.out / PAIRS_DIR).glob("pair_*.json")]

    def pair_folders(self) -> list[Path]:
        """The folders of `pair_files` (removed once empty)."""
        return [self.out / PAIRS_DIR, self.out / CHECKPOINTS_DIR]

    def flow(self, checkpoint: str | os.PathLike | None = None) -> Path:
        """Where the flow search of the run checkpointed in ``checkpoint`` (default: `checkpoint`) keeps its
        progress (`geometry.paths.motion.flow_path`): a run stopped in its motion start resumes from it."""
        from geometry.paths.motion import flow_path

        return Path(flow_path(self.checkpoint() if checkpoint is None else checkpoint))

    def snapshot(self, step: int) -> Path:
        """An average's image at ``step``: ``000100.png`` for step 100, as the reference scripts name them."""
        return self.out / f"{step:06d}.png"

    def frame(self, index: int, total: int) -> Path:
        """Output frame ``index`` of ``total`` (`geometry.service.video.png_frame_name`)."""
        from geometry.service.video import png_frame_name

        return self.frames / png_frame_name(index, total)

    @property
    def frame_pattern(self) -> str:
        """The frames' names, relative to ``out``, as a glob pattern."""
        return f"{FRAMES_DIR}/frame_*.png"

    def movie(self, kind: str) -> Path:
        """The movie of format ``kind`` ("mp4", "gif", "webp", "apng" or "sheet")."""
        from geometry.service.video import movie_name

        return self.out / movie_name(kind, MOVIE_STEM)

    def geodesic_outputs(self) -> list[str]:
        """What a geodesic writes, as glob patterns relative to ``out``: its frames, every movie, the montage and
        the record (a folder holding one without a run of its own is someone else's:
        `geometry.service.folder_claim.check_no_foreign_outputs`)."""
        from geometry.service.video import MOVIE_FORMATS

        return [self.frame_pattern, *(self.relative(self.movie(kind)) for kind in MOVIE_FORMATS), MONTAGE_NAME,
                RECORD_NAME]

    def average_outputs(self, snapshot_steps: Sequence[int] | None = ()) -> list[str]:
        """What an average writes, as glob patterns relative to ``out``: its image, the record and the snapshots at
        ``snapshot_steps`` (None: the reference's steps, any step's name)."""
        snapshots = (["[0-9]" * 6 + ".png"] if snapshot_steps is None
                     else [self.relative(self.snapshot(step)) for step in snapshot_steps])
        return [AVERAGE_NAME, RECORD_NAME, *snapshots]

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` as the run's file list names it: relative to ``out``, with forward slashes."""
        return Path(path).relative_to(self.out).as_posix()

    def marks_run(self) -> bool:
        """Whether the folder has a run of its own: its ``run.json`` or a job's ``job.json``."""
        return self.run_file.exists() or self.spec.exists()

    def holds_run(self) -> bool:
        """Whether the folder holds a run's state (checkpoint, run.json, done.json or a clip's pair files)."""
        return (any(path.exists() for path in (self.checkpoint(), self.run_file, self.done))
                or bool(self.pair_files()))

    def holds_finished_run(self) -> bool:
        """Whether the folder holds a finished run (its ``done.json``, or a ``run.json`` that says done)."""
        return self.done.exists() or (read_json(self.run_file) or {}).get("status") == "done"

    def resumable(self) -> bool:
        """Whether the folder holds a run that ``--resume`` continues (a checkpoint, a flow search's progress, or
        an unfinished run.json)."""
        return (self.checkpoint().is_file() or self.flow().is_file()
                or any((self.out / CHECKPOINTS_DIR).glob("*.pt"))
                or (read_json(self.run_file) or {}).get("status") == "running")


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RunFolder(FolderLayout):
    """An output folder with a ``run.json`` that makes ``--resume`` safe (its paths: `FolderLayout`).

    ``run.json`` holds the tool's settings and status ("running" or "done"). A new run refuses a folder
    whose run is unfinished (``--resume`` continues it) or finished (``overwrite`` replaces it); ``--resume``
    refuses settings that differ from the stored ones. The folder must be writable, and the file size limit
    and free space must allow a checkpoint of ``checkpoint_bytes``, before anything runs. If the run fails on
    bad input or is interrupted before it produced anything, the folders it created are removed (never after a
    failed write: the folder then holds what was kept).
    """

    def __init__(self, out: Path, settings: dict, resume: bool, checkpoints: Sequence[Path],
                 checkpoint_bytes: int = 0, overwrite: bool = False):
        super().__init__(out)
        self.settings = settings
        self.created: list[Path] = []
        if resume and overwrite:
            raise InputError("give --resume (continue the unfinished run in --out) or --overwrite (replace the "
                             "finished one), not both", field="overwrite")
        stored = read_json(self.run_file)
        self.new_state = not self.run_file.exists()  # run.json is this run's own: removed again if nothing else is
        unfinished = (any(Path(c).exists() or self.flow(c).exists() for c in checkpoints)
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
        write_json(self.run_file, self.state)

    def discard_if_empty(self, error: BaseException | None = None) -> None:
        """After a failure: remove the folders this run created if nothing was written into them, and the
        ``run.json`` it wrote when the folder holds nothing else (not after a failed write, `error` an OSError: the
        user looks for the folder the message names)."""
        if isinstance(error, OSError):
            return
        if self.new_state and self.run_file.is_file() and [
                p for p in self.out.iterdir() if p != self.lock] == [self.run_file]:  # the claim's lock aside
            self.run_file.unlink()
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
