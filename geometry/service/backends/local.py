"""The local backend: jobs one after another in this process, each network loaded once for all jobs."""

from __future__ import annotations

import threading
from typing import Callable, Iterator, Sequence

import torch

from geometry.service.backends import JobEvent, JobResult, run_job
from geometry.service.jobs import Job


class LocalBackend:
    """Runs jobs sequentially on ``device`` (None/"auto": CUDA when available, else CPU).

    Networks are loaded once per process (`geometry.engine.distances.load_cached`); ``cancel`` stops the
    running job at its next step (it is reported failed, with its checkpoint kept for a rerun).
    """

    name = "local"

    def __init__(self, device: torch.device | str | None = None, cancel: threading.Event | None = None) -> None:
        self.device = device
        self.cancel = cancel

    def run(self, jobs: Sequence[Job], on_event: Callable[[JobEvent], None]) -> Iterator[JobResult]:
        for job in jobs:
            yield run_job(job, self.device, on_event, cancel=self.cancel)
