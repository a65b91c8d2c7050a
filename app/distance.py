"""The Distance tab's computations: one distance with its error, or which of two candidates is closer.

Both are thin calls into `elpips` (`estimate`, `estimate_adaptive`, `compare`); this module loads
the metrics once per device, prepares the uploads and words the answer.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import gradio as gr
import torch

import elpips
from geometry.distances import DistanceFamily

from app.uploads import display_name, load_upload, prepare_uploads

METRICS = ("elpips_vgg", "lpips_vgg", "vgg", "alex")
#: Error bars are 95 % intervals: 1.96 standard errors, as in the reference's adaptive evaluator.
Z95 = 1.96
#: The UI's error target is absolute; this disables `estimate_adaptive`'s relative one.
NO_RELATIVE_TARGET = 1e9


class MetricShelf:
    """The metrics loaded so far, one `DistanceFamily` per (name, device), shared by all requests."""

    def __init__(self, device: torch.device):
        self.device = device
        self._lock = threading.Lock()
        self._families: dict[str, DistanceFamily] = {}

    def at_size(self, name: str, size_hw: tuple[int, int]):
        """The metric `name` for images of `size_hw`, with fewer E-LPIPS scale levels if they are small."""
        if name not in METRICS:
            raise gr.Error(f"Unknown metric {name!r}: choose one of {', '.join(METRICS)}.")
        with self._lock:
            family = self._families.setdefault(name, DistanceFamily(name, self.device))
            try:
                return family.at_size(size_hw)
            except ValueError as error:
                raise gr.Error(f"{error}. Raise the resolution.") from None


@dataclass(frozen=True)
class DistanceRequest:
    metric: str
    size: int
    samples: int
    error_target: float | None  # None: use the fixed sample budget
    max_samples: int
    seed: int


def _names(*labelled_paths) -> list[str]:
    return [f"{label} ({display_name(path)})" for label, path in labelled_paths]


def _metric_note(metric) -> str:
    config = metric.config
    if config.transforms is None:
        return f"`{config.name}` is deterministic: one evaluation is exact."
    return (f"`{config.name}` with {config.transforms.num_scales} scale level(s), averaged over random "
            "transformations.")


def _estimate(metric, x: torch.Tensor, y: torch.Tensor, request: DistanceRequest):
    generator = torch.Generator().manual_seed(int(request.seed))
    device = metric.device
    x, y = x.to(device), y.to(device)
    with torch.no_grad():
        if metric.config.transforms is None:
            return elpips.estimate(metric, x, y, samples=1, generator=generator)
        if request.error_target is None:
            return elpips.estimate(metric, x, y, samples=int(request.samples), generator=generator)
        return elpips.estimate_adaptive(
            metric,
            x,
            y,
            max_error=float(request.error_target),
            max_rel_error=NO_RELATIVE_TARGET,
            max_samples=int(request.max_samples),
            generator=generator,
        )


def measure_distance(shelf: MetricShelf, path_a, path_b, request: DistanceRequest) -> tuple[str, dict]:
    """Distance between two uploaded images -> (Markdown answer, JSON-ready details)."""
    a = load_upload(path_a, "Image A")
    b = load_upload(path_b, "Image B")
    batch, note = prepare_uploads([a, b], _names(("Image A", path_a), ("Image B", path_b)), request.size)
    metric = shelf.at_size(request.metric, tuple(batch.shape[-2:]))
    estimate = _estimate(metric, batch[:1], batch[1:], request)
    value, stderr = float(estimate.value[0]), float(estimate.stderr[0])
    details = {
        "metric": metric.config.name,
        "num_scales": None if metric.config.transforms is None else metric.config.transforms.num_scales,
        "distance": value,
        "stderr": stderr,
        "error95": Z95 * stderr,
        "samples": int(estimate.samples),
        "size": list(batch.shape[-2:]),
    }
    if metric.config.transforms is not None:
        answer = (
            f"### Distance: {value:.5f} ± {Z95 * stderr:.5f}\n"
            f"(95 % interval from {int(estimate.samples)} samples)"
        )
    else:
        answer = f"### Distance: {value:.5f}"
    return f"{answer}\n\n{_metric_note(metric)}\n\n{note}", details


def compare_candidates(
    shelf: MetricShelf, path_ref, path_a, path_b, request: DistanceRequest
) -> tuple[str, dict]:
    """Which of two candidates is closer to a reference -> (Markdown answer, JSON-ready details).

    Both candidates are measured under the same random transformations, so their difference has a
    much smaller error than either distance. The confidence is the normal probability that the
    sign of that difference is right.
    """
    images = [load_upload(path, label) for path, label in
              ((path_ref, "Reference"), (path_a, "Candidate A"), (path_b, "Candidate B"))]
    names = _names(("Reference", path_ref), ("Candidate A", path_a), ("Candidate B", path_b))
    batch, note = prepare_uploads(images, names, request.size)
    metric = shelf.at_size(request.metric, tuple(batch.shape[-2:]))
    samples = 1 if metric.config.transforms is None else int(request.samples)
    generator = torch.Generator().manual_seed(int(request.seed))
    batch = batch.to(metric.device)
    with torch.no_grad():
        result = elpips.compare(metric, batch[:1], [batch[1:2], batch[2:3]], samples=samples, generator=generator)
    values = [float(v) for v in result.values]
    errors = [float(e) for e in result.stderr]
    diff, diff_err = float(result.diff[0, 1]), float(result.diff_stderr[0, 1])
    closest = int(result.closest)
    confidence = 1.0 if diff_err == 0 else 0.5 * (1 + math.erf(abs(diff) / diff_err / math.sqrt(2)))
    winner = "A" if closest == 0 else "B"
    details = {
        "metric": metric.config.name,
        "closest": winner,
        "confidence": confidence,
        "distances": {"A": values[0], "B": values[1]},
        "stderr": {"A": errors[0], "B": errors[1]},
        "difference": diff,
        "difference_stderr": diff_err,
        "samples": samples,
    }
    answer = (
        f"### Candidate {winner} is closer to the reference (confidence {100 * confidence:.1f} %)\n"
        f"- A: {values[0]:.5f} ± {Z95 * errors[0]:.5f}\n"
        f"- B: {values[1]:.5f} ± {Z95 * errors[1]:.5f}\n"
        f"- A - B: {diff:+.5f} ± {Z95 * diff_err:.5f} (same transformations for both, {samples} samples)"
    )
    return f"{answer}\n\n{_metric_note(metric)}\n\n{note}", details
