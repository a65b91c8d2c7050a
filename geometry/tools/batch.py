"""``elpips-batch``: run a file of geometry jobs (averages, barycenters, geodesics, bary10, clips), resumably.

    elpips-batch jobs.toml                       # = python -m geometry.tools.batch jobs.toml
    elpips-batch jobs.json --device cuda --manifest runs/manifest.json
    elpips-batch jobs.toml --backend local       # the default
    elpips-batch jobs.toml --backend ray --address auto   # on a Ray cluster (pip install 'elpips-torch[cluster]';
                                                          # see geometry.service.backends.ray_backend)

The job file format (TOML or JSON: kinds, inputs, weights, settings, output folders) is documented in
`geometry.service.jobs`; relative paths in it are relative to the job file's folder.

What a run does:

1. Reads and validates EVERY job first and reports all problems (missing or unreadable image, wrong
   number of inputs, invalid weights or size, unknown kind or setting) on stderr; those jobs are
   marked failed and the others still run.
2. Skips finished jobs: a job is finished when its output folder's ``done.json`` matches the job
   (kind, inputs and their contents, weights, settings) and the outputs it lists exist. A changed job
   that had not finished starts afresh; one that had finished is refused (its outputs kept) unless its
   settings say ``overwrite = true``.
3. Runs the rest on the backend (local: one after another, each network loaded once for all jobs).
   A job interrupted earlier (Ctrl-C, crash, killed machine) resumes from the checkpoint in its
   output folder. A progress bar counts jobs, with the running job's step and ETA.
4. Writes the manifest (default ``<job file>.manifest.json`` beside the job file) atomically after
   every job: each job's status (done, failed, skipped; pending while waiting), error message,
   output files and run record.

Outputs per job, in its output folder: ``average.png`` (barycenter, perturbed_barycenter) or
``frames/frame_000.png ...``, ``geodesic.mp4``, ``geodesic.gif``, ``contact_sheet.png`` (geodesic; a clip:
what ``elpips-geodesic --video`` writes, its pairs resumed one by one, spread over the workers on Ray);
``record.json`` (the engine's run record) and ``done.json``.

Exit code: 0 when every job is done or skipped, 1 when any failed, 2 when the job file itself is
unusable, 130 when interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from elpips.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_device_option,
    add_no_progress_option,
    import_native_modules,
    one_line,
    print_error,
)
from elpips.errors import InputError
from elpips.io import write_json
from geometry.service.backends import BACKENDS, JobEvent, JobResult, finished_result, make_backend
from geometry.service.jobs import load_job_file
from geometry.tools.support import exit_interrupted, tool_parser

PROG = "elpips-batch"


def default_manifest_path(job_file: Path) -> Path:
    return job_file.with_name(job_file.stem + ".manifest.json")


class Manifest:
    """The manifest file: one entry per job in job-file order, rewritten atomically on every change."""

    def __init__(self, path: Path, job_file: Path, backend: str, names: Sequence[str]):
        self.path = path
        self.header = {"job_file": str(job_file), "backend": backend,
                       "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.entries: dict[str, dict] = {name: {"name": name, "status": "pending"} for name in names}

    def set(self, result: JobResult) -> None:
        self.entries[result.name] = result.to_dict()

    def write(self) -> None:
        statuses = [entry["status"] for entry in self.entries.values()]
        summary = {status: statuses.count(status) for status in ("done", "skipped", "failed", "pending")}
        write_json(self.path, {**self.header, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "summary": summary, "jobs": list(self.entries.values())})


class JobsBar:
    """A progress bar over jobs; its postfix shows the running job's step and ETA."""

    def __init__(self, total: int, finished: int, disable: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=finished, unit="job", desc=PROG, disable=disable,
                        dynamic_ncols=True, file=sys.stderr)
        self._last_refresh = 0.0

    def on_event(self, event: JobEvent) -> None:
        if event.kind == "progress":
            postfix = {"job": event.job, "step": f"{event.step}/{event.total_steps}"}
            if event.eta_s is not None:
                postfix["job_eta"] = f"{event.eta_s:.0f}s"
            now = time.monotonic()
            refresh = now - self._last_refresh > 0.5  # a step can take microseconds: don't redraw each one
            self._last_refresh = now if refresh else self._last_refresh
            self.bar.set_postfix(postfix, refresh=refresh)
        elif event.kind == "started":
            self.bar.set_postfix({"job": event.job})

    def job_ended(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def build_parser() -> argparse.ArgumentParser:
    parser = tool_parser(PROG, "Run a job file (TOML or JSON) of averages, barycenters and geodesics; skips "
                               "finished jobs and resumes interrupted ones.", ["elpips-batch jobs.toml --device cuda"],
                         note="Job file format: see "
                         "`python -c 'import geometry.service.jobs; help(geometry.service.jobs)'`.")
    parser.add_argument("job_file", type=Path, help="jobs.toml or jobs.json")
    parser.add_argument("--backend", default="local", choices=sorted(BACKENDS), help="where jobs run (default local)")
    parser.add_argument("--address", default=None,
                        help="with --backend ray: 'auto' (the cluster this machine joined) or HOST:PORT of its head "
                             "(default: RAY_ADDRESS when set, else a private Ray cluster on this machine)")
    add_device_option(parser)
    parser.add_argument("--manifest", type=Path, default=None,
                        help="manifest path (default: <job file name>.manifest.json beside the job file)")
    add_no_progress_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # during start-up (validation, loading); run_batch also handles it while jobs run
        print(f"{PROG}: interrupted; run the same command again to resume (finished jobs are skipped)",
              file=sys.stderr)
        exit_interrupted()


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # usage errors and --help: return the code rather than raise
        return int(exit.code or 0)
    import_native_modules()
    try:
        if args.address is not None and args.backend != "ray":
            raise InputError("--address applies to --backend ray only")
        job_file = load_job_file(args.job_file)
        options = {"address": args.address} if args.address is not None else {}
        backend = make_backend(args.backend, device=args.device, **options)
    except InputError as error:  # JobFileError too; any other exception keeps its traceback
        if args.verbose:
            traceback.print_exc()
        print_error(PROG, one_line(error.worded("tool")))
        return EXIT_USAGE
    return run_batch(job_file, backend, manifest_path=args.manifest, progress=not args.no_progress)


def run_batch(job_file, backend, *, manifest_path: Path | None = None, progress: bool = True) -> int:
    """Run a validated `geometry.service.jobs.JobFile` on `backend`, keeping the manifest; returns the exit code."""
    names = job_file.names
    manifest = Manifest(manifest_path or default_manifest_path(job_file.path), job_file.path, backend.name, names)
    for problem in job_file.problems:
        print(f"{PROG}: job {problem.name!r} is invalid: {problem.message}", file=sys.stderr)
        manifest.set(JobResult(name=problem.name, kind=problem.kind, output=problem.output, status="failed",
                               error=problem.message))
    pending = []
    for job in job_file.jobs:
        finished = finished_result(job)
        if finished is not None:
            manifest.set(finished)
        else:
            pending.append(job)
    manifest.write()

    bar = JobsBar(total=len(names), finished=len(names) - len(pending), disable=not progress)
    started = time.perf_counter()
    failed = len(job_file.problems)
    try:
        for result in backend.run(pending, bar.on_event):
            manifest.set(result)
            manifest.write()
            bar.job_ended()
            if result.status == "failed":
                failed += 1
                bar.bar.write(f"{PROG}: job {result.name!r} failed: {result.error}", file=sys.stderr)
    except KeyboardInterrupt:
        bar.close()
        manifest.write()
        print(f"{PROG}: interrupted; run the same command again to resume (finished jobs are skipped)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    summary = {status: sum(e["status"] == status for e in manifest.entries.values())
               for status in ("done", "skipped", "failed")}
    print(f"{PROG}: {summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed "
          f"in {time.perf_counter() - started:.1f}s; manifest: {manifest.path}", file=sys.stderr)
    return EXIT_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
