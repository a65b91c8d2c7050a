"""The Ray backend: jobs run in parallel on a Ray cluster, on a pool of workers that each load a network once.

    elpips-batch jobs.toml --backend ray                   # a private Ray cluster on this machine (loopback),
                                                           # or the one in RAY_ADDRESS when that is set
    elpips-batch jobs.toml --backend ray --address auto    # the cluster this machine belongs to (`ray start`,
                                                           # or inside `ray job submit`)
    elpips-batch jobs.toml --backend ray --address 10.0.0.5:6379

How it works:

* One :class:`JobWorker` actor per concurrent job: as many as the cluster has GPUs (each actor holds one
  GPU), or, on a cluster without GPUs (or with ``device="cpu"``), as many as it has CPUs divided by
  ``cpus_per_job``; never more than there are jobs (but a clip job's pairs may use them all). An actor is a
  process that keeps its metrics loaded (`geometry.engine.distances.load_cached`), so a network is loaded once per
  worker, not once per job. The driver hands a job to each idle actor.
* A "clip" job is spread over the workers at pair granularity: one worker starts it (`start_clip`: cut
  detection, the pairs left), each of its pairs is then a unit of work that the next idle worker takes
  (`run_clip_pair`: the pair's checkpoint, frames and record are its own files in the clip's folder), and
  once all are done one worker finishes it (`finish_clip`: movies, montage, record.json, done.json). A clip's
  pairs and its finish go to the front of the queue, so a clip is finished before later jobs start. The driver
  holds the clip's folder lock (`geometry.service.folder_claim`, with the driver's pid and host) from before its
  start until none of its parts runs any more: a second run on that folder is refused meanwhile, and takes a
  dead driver's lock over. A whole job's worker holds its own job's folder.
* Jobs run through the same `run_job` as the local backend, in the job's output folder, so the driver
  (`geometry.tools.batch`) writes the same manifest and skips the same finished jobs. The folders (outputs,
  checkpoints, done markers) and the input images must be on storage every node reaches at the same path
  (NFS, a cluster file system): a job whose outputs the driver cannot see afterwards is reported failed.
* Fault tolerance: when a worker process dies mid-job (killed, out of memory, node lost), Ray restarts
  the actor and runs the job again, up to ``max_retries`` times; the job resumes from its last checkpoint
  (every ``checkpoint_every`` steps) and, the engine's resume being bit-for-bit, ends with the outputs of
  an uninterrupted run (a clip's pair likewise, from its own checkpoint; finished pairs are kept). Outputs and
  markers are written atomically and ``done.json`` last, so a job is either finished or resumable, never
  half-written.
* Progress: each worker sends its jobs' events (throttled) to a small inbox actor that the driver drains
  while it waits, and passes on to the driver's progress bar. :attr:`RayBackend.worker_pids` tells which
  process (on its node) runs each job, :attr:`RayBackend.job_pids` every process that ran a part of it.

Ray is optional (``pip install 'elpips-torch[cluster]'``): this module imports it only when a backend
connects. A private cluster is kept on loopback and Ray's usage statistics are off.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator, Sequence

from elpips.errors import InputError
from geometry.service.backends import (
    JobEvent,
    JobResult,
    finish_clip,
    finished_result,
    hold_clip_folder,
    run_clip_pair,
    run_job,
    start_clip,
)
from geometry.service.folder_claim import FolderClaim
from geometry.service.jobs import Job

__all__ = ["RayBackend", "JobWorker"]

#: Seconds between a worker's progress events for one job (started/finished events are always sent).
PROGRESS_INTERVAL_S = 0.1
#: Seconds the driver waits for a result before draining progress events again.
POLL_INTERVAL_S = 0.1
#: Seconds running jobs get to checkpoint and stop when the driver is interrupted.
STOP_GRACE_S = 10.0

#: The parts of a job a worker runs: the whole job, or a clip job's start, one of its pairs (an int) or finish.
WHOLE, START, FINISH = "whole", "start", "finish"


class JobWorker:
    """Runs jobs one at a time in a Ray worker process; its networks stay loaded between jobs.

    Created as a threaded actor (two threads) so that :meth:`stop` can reach it while :meth:`run` works.
    """

    def __init__(self, device: str | None) -> None:
        self.device = device
        self.cancel = threading.Event()

    def run(self, job: Job, part: str | int, inbox: Any) -> Any:
        """Run ``part`` of ``job`` (resuming its checkpoint), sending its events to the `EventInbox` actor ``inbox``:
        WHOLE (a JobResult), or a clip's START (its pairs left, or a failed JobResult), pair ``part`` (None, or
        a failed JobResult) or FINISH (a JobResult)."""
        last_progress = [0.0]
        pid = os.getpid()

        def send(event: JobEvent) -> None:
            if event.kind == "progress":
                now = time.monotonic()
                if now - last_progress[0] < PROGRESS_INTERVAL_S and event.step != event.total_steps:
                    return
                last_progress[0] = now
            inbox.put.remote(pid, event)  # fire and forget: progress never slows the job down

        if part == WHOLE:
            return run_job(job, self.device, send, cancel=self.cancel)
        if part == START:
            return start_clip(job, self.device, send)
        if part == FINISH:
            return finish_clip(job, self.device, send)
        return run_clip_pair(job, part, self.device, send, cancel=self.cancel)

    def stop(self) -> None:
        """Stop the running job at its next step; the engine writes its checkpoint first."""
        self.cancel.set()


class EventInbox:
    """Collects (worker pid, JobEvent) pairs from the workers until the driver takes them."""

    def __init__(self) -> None:
        self.events: list[tuple[int, JobEvent]] = []

    def put(self, pid: int, event: JobEvent) -> None:
        self.events.append((pid, event))

    def take(self) -> list[tuple[int, JobEvent]]:
        events, self.events = self.events, []
        return events


class RayBackend:
    """Runs jobs on a Ray cluster (see the module docstring).

    address: None joins the cluster in ``RAY_ADDRESS`` when that is set (as under ``ray job submit``), else
        starts a private Ray cluster on this machine when the jobs run (on loopback; ``num_cpus`` caps its
        CPUs); "auto" joins the cluster this machine belongs to; "HOST:PORT" (or "ray://HOST:PORT")
        that cluster's head. A cluster named by address is joined here, so that a wrong address is a
        InputError before anything runs. When Ray is already initialised in this process, that connection is
        used as it is.
    device: None/"auto" (a GPU per job where the cluster has GPUs, else CPU), "cpu", or "cuda".
    max_retries: how many times a job is run again after its worker process died.
    cpus_per_job: CPUs each job reserves (and its torch threads) on a cluster without GPUs.
    """

    name = "ray"

    def __init__(self, device: str | None = None, address: str | None = None, *, num_cpus: int | None = None,
                 max_retries: int = 3, cpus_per_job: int = 1) -> None:
        if importlib.util.find_spec("ray") is None:
            raise InputError("backend 'ray' needs Ray: pip install 'elpips-torch[cluster]'")
        if max_retries < 0 or cpus_per_job < 1:
            raise InputError(f"max_retries = {max_retries} and cpus_per_job = {cpus_per_job}: "
                             "use max_retries >= 0 and cpus_per_job >= 1")
        self.device = None if device in (None, "auto") else str(device)
        self.address = address if address is not None else os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self.cpus_per_job = cpus_per_job
        #: job name -> pid (on the worker's node) of the process running it, from its latest event.
        self.worker_pids: dict[str, int] = {}
        #: job name -> the pids of every process that sent an event of it (a clip's pairs run on several).
        self.job_pids: dict[str, set[int]] = {}
        self._connected_here = _connect(self.address, num_cpus) if self.address is not None else False

    def run(self, jobs: Sequence[Job], on_event: Callable[[JobEvent], None]) -> Iterator[JobResult]:
        if not jobs:
            return
        started_here = _connect(self.address, self.num_cpus) or self._connected_here
        self._connected_here = False
        ray = _ray()
        inbox = ray.remote(EventInbox).options(num_cpus=0, max_restarts=-1, max_task_retries=-1).remote()
        spread = any(job.kind == "clip" for job in jobs)  # a clip's pairs can keep every worker busy
        workers = self._start_workers(ray, None if spread else len(jobs))
        idle = deque(workers)
        holds: dict[str, FolderClaim] = {}  # clip name -> this driver's hold on its folder, while a part of it runs
        queue: deque = deque()
        for job in jobs:
            refused = self._hold_clip(job, holds, on_event) if job.kind == "clip" else None
            if refused is not None:
                yield refused
            else:
                queue.append((job, START if job.kind == "clip" else WHOLE))
        clips = {job.name: _ClipState() for job, _ in queue if job.kind == "clip"}
        running: dict[Any, tuple[Job, str | int, Any]] = {}  # result ref -> (job, part, worker)
        try:
            while queue or running:
                while idle and queue:
                    (job, part), worker = queue.popleft(), idle.popleft()
                    if part == START:
                        clips[job.name].started = time.perf_counter()
                    running[worker.run.remote(job, part, inbox)] = (job, part, worker)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_INTERVAL_S)
                self._forward_events(ray, inbox, on_event)
                for ref in ready:
                    job, part, worker = running.pop(ref)
                    idle.append(worker)
                    result = self._part_ended(ray, ref, job, part, queue, clips)
                    if result is not None:
                        yield result
                busy = {job.name for job, _, _ in running.values()}
                for name in [name for name in holds if name not in clips and name not in busy]:
                    holds.pop(name).release()  # the clip ended and none of its parts runs any more
            self._forward_events(ray, inbox, on_event)
        finally:
            self._stop(ray, running, workers + [inbox])
            for hold in holds.values():
                hold.release()
            if started_here:
                ray.shutdown()

    @staticmethod
    def _hold_clip(job: Job, holds: dict, on_event: Callable[[JobEvent], None]) -> JobResult | None:
        """Claim a clip's folder in this driver (its parts run on several workers); the job's failed result when
        the folder is refused (another live run holds it, it holds the job's inputs), else None."""
        claim = hold_clip_folder(job, on_event)
        if isinstance(claim, JobResult):
            return claim
        holds[job.name] = claim
        return None

    def _start_workers(self, ray, job_count: int | None) -> list:
        """One actor per concurrent job (``job_count`` at most, None: as many as the cluster holds): a GPU each
        where the cluster has GPUs, else ``cpus_per_job`` CPUs."""
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        use_gpu = gpus > 0 and not (self.device or "").startswith("cpu")
        if use_gpu:
            # Ray shows each actor its GPU as cuda:0
            count, options, device = gpus, {"num_gpus": 1, "num_cpus": 1}, "cuda"
        else:
            count = int(resources.get("CPU", 1)) // self.cpus_per_job
            options, device = {"num_cpus": self.cpus_per_job}, self.device or "cpu"
        actor = ray.remote(JobWorker).options(max_restarts=-1, max_task_retries=self.max_retries,
                                              max_concurrency=2, **options)
        return [actor.remote(device) for _ in range(max(1, min(count, job_count or count)))]

    def _forward_events(self, ray, inbox, on_event: Callable[[JobEvent], None]) -> None:
        """Pass the workers' events on; events lost with a restarting inbox only cost progress display."""
        try:
            events = ray.get(inbox.take.remote())
        except ray.exceptions.RayError:
            return
        for pid, event in events:
            self.worker_pids[event.job] = pid
            self.job_pids.setdefault(event.job, set()).add(pid)
            on_event(event)

    def _part_ended(self, ray, ref, job: Job, part: str | int, queue: deque, clips: dict) -> JobResult | None:
        """The job's result when ``part`` ended it (the whole job, a clip's finish, or a failed part), else None;
        a clip's next parts are queued: its pairs after its start, its finish (first in line) after its last pair."""
        if part in (WHOLE, FINISH):
            result = self._result(ray, ref, job)
            if part == FINISH:
                result.seconds = time.perf_counter() - clips.pop(job.name).started
            return result
        clip = clips.get(job.name)
        if clip is None:
            return None  # a pair of a clip that has failed meanwhile: its files are kept for a rerun
        value = self._value(ray, ref, job)
        if isinstance(value, JobResult):  # the clip failed: its other queued pairs are dropped
            for unit in [unit for unit in queue if unit[0] is job]:
                queue.remove(unit)
            value.seconds = time.perf_counter() - clips.pop(job.name).started
            return value
        if part == START:
            clip.left = set(value)
            queue.extendleft((job, index) for index in reversed(value))
        else:
            clip.left.discard(part)
        if not clip.left:
            queue.appendleft((job, FINISH))
        return None

    def _value(self, ray, ref, job: Job) -> Any:
        """What the part returned; a failed JobResult when its worker died more than ``max_retries`` times."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as error:
            cause = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
            if isinstance(error, ray.exceptions.RayActorError):
                cause = f"its worker died {self.max_retries + 1} time(s) ({cause})"
            return JobResult(name=job.name, kind=job.kind, output=job.output, status="failed",
                             error=f"{cause}; rerun the job file to resume from its checkpoint")

    def _result(self, ray, ref, job: Job) -> JobResult:
        """The job's result; a job whose worker died more than ``max_retries`` times, or whose outputs the
        driver cannot see, is failed."""
        result = self._value(ray, ref, job)
        if result.status == "done" and finished_result(job) is None:
            result.status, result.outputs = "failed", []
            result.error = (f"the worker finished but its outputs are not visible here in {job.output}: output "
                            "folders must be on storage every node shares, at the same path")
        return result

    def _stop(self, ray, running: dict, actors: list) -> None:
        """Let running jobs checkpoint and stop (the driver was interrupted), then end the actors."""
        if running:
            for _, _, worker in running.values():
                worker.stop.remote()
            ray.wait(list(running), num_returns=len(running), timeout=STOP_GRACE_S)
        for actor in actors:
            ray.kill(actor, no_restart=True)


class _ClipState:
    """A clip job on its way through the workers: when it started, and its pairs not yet done."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.left: set[int] = set()


def _ray():
    import ray

    return ray


def _connect(address: str | None, num_cpus: int | None) -> bool:
    """Initialise Ray unless this process already did; True when this call initialised it."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if address is None:
        # Ray binds a cluster to the machine's network address unless this is off (read when ray is imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = _ray()
    if ray.is_initialized():
        return False
    if address is None:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        return True
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except ConnectionError as error:
        raise InputError(f"cannot reach a Ray cluster at address {address!r} ({' '.join(str(error).split())}): "
                         "start one with `ray start --head`, or check --address") from None
    return True
