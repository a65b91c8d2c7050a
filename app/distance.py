"""The Distance and Compare tabs' computations: one distance with its error, or which of two candidates
is closer, each with difference maps of where the images differ.

Both are thin calls into `elpips.difference_maps`, which draws the same samples as `estimate`,
`estimate_adaptive` and `compare` and yields after every network pass, so that the maps can be shown
while they form, with the samples done, the estimate so far and the time left. A `Measurement` lets the
session's Stop button end one early: the answer is then the estimate so far, with its error.
This module loads the metrics once per device, prepares the uploads, words the answer
and keeps what is needed to redraw the maps (`MapView`).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import gradio as gr
import numpy as np
import torch

import elpips
from elpips import heatmap
from elpips.errors import InputError
from elpips.images import to_uint8
from elpips.sampling import Z_95
from elpips.sampling import confidence as sampling_confidence
from geometry.engine.distances import METRIC_NAMES, DistanceFamily

from app.scale import scale_of, scale_sentence
from app.tasks import format_seconds, time_left
from app.uploads import display_name, load_upload, prepare_uploads

#: The UI's error target is absolute; this disables `estimate_adaptive`'s relative one.
NO_RELATIVE_TARGET = 1e9
#: Least seconds between two live updates of a forming map (passes can take milliseconds on a GPU).
LIVE_INTERVAL = 0.3


class MetricShelf:
    """The app's metrics on its device, by name; loaded once per process (`geometry.engine.distances.load_cached`)."""

    def __init__(self, device: torch.device):
        self.device = device

    def at_size(self, name: str, size_hw: tuple[int, int]):
        """The metric `name` for images of `size_hw`, with fewer E-LPIPS scale levels if they are small."""
        if name not in METRIC_NAMES:
            raise gr.Error(f"Unknown metric {name!r}: choose one of {', '.join(METRIC_NAMES)}.")
        try:
            return DistanceFamily(name, self.device).at_size(size_hw)
        except InputError as error:
            raise gr.Error(f"{error.worded('app')}. Raise the resolution.") from None


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
        return (f"`{config.name}` is deterministic: one evaluation is exact. The map shows how much the images "
                "differ at each pixel; its mean is the distance.")
    return (f"`{config.name}` with {config.transforms.num_scales} scale level(s), averaged over random "
            "transformations. The map shows how much the images differ at each pixel under the same "
            "transformations, with E-LPIPS' extra weight on pixels near the borders divided out.")


@dataclass(frozen=True)
class MapView:
    """Difference maps as the tabs show them, kept so that the overlay can be switched without computing
    again: (K, H, W) maps on one colour scale, the images they are laid over, a caption each."""

    maps: np.ndarray
    backgrounds: np.ndarray
    captions: tuple[str, ...]

    def render(self, overlay: bool) -> list[np.ndarray]:
        vmax = float(self.maps.max())
        return [
            heatmap.render(values, vmax=vmax, background=background if overlay else None, caption=caption)
            for values, background, caption in zip(self.maps, self.backgrounds, self.captions)
        ]


def _map_view(result: elpips.DifferenceMap, backgrounds: torch.Tensor, names: list[str]) -> MapView:
    pixels = np.stack([to_uint8(image) for image in backgrounds.cpu()])
    captions = tuple(f"{name}: distance {float(value):.4g} ({result.samples} samples)"
                     for name, value in zip(names, result.estimate.value))
    return MapView(result.density[:, 0].numpy(), pixels, captions)


class Measurement:
    """A distance or comparison in progress, put on the session's `TaskBoard` so that its Stop button (the
    shared cancel endpoint) reaches it: it then ends after the current network pass with the estimate so far."""

    kind = "measurement"
    started = True  # it takes the device pass by pass: Stop ends it, waiting or not

    def __init__(self, what: str = "distance"):
        self.what = what
        self.cancel_event = threading.Event()

    def describe(self) -> str:
        """How it appears to the runs waiting behind it (`app.tasks.DeviceSlot`)."""
        return f"a {self.what} measurement"

    def cancel(self) -> None:
        self.cancel_event.set()


@dataclass(frozen=True)
class Live:
    """One update of a forming measurement: `finished` (every sample asked for, or `stopped` early), the
    maps so far (None before the first pass), the seconds it has taken, and while it waits for the device, what
    it waits behind."""

    finished: bool
    stopped: bool
    result: elpips.DifferenceMap | None
    seconds: float
    waiting: str | None = None


def _live(slot, results: Iterator[elpips.DifferenceMap], stop: Measurement | None = None) -> Iterator[Live]:
    """The running maps at most every `LIVE_INTERVAL` seconds, then the finished ones (after the pass in which
    `stop` was asked, if it was). Each network pass runs holding the device `slot`, which is free between updates
    (a generator may be resumed on another thread, or never again if the browser leaves); while another run holds
    it, the updates say what the measurement waits behind."""
    started = shown = time.monotonic()
    result = None
    holder = stop if stop is not None else "a distance measurement"
    while True:
        turns = slot.wait_turn(holder)
        for line in turns:
            if stop is not None and stop.cancel_event.is_set():
                turns.close()
                yield Live(True, True, result, time.monotonic() - started)
                return
            yield Live(False, False, result, time.monotonic() - started, waiting=line)
        try:
            following = next(results, None)
        finally:
            slot.release()
        if following is None:
            yield Live(True, False, result, time.monotonic() - started)
            return
        result = following
        if stop is not None and stop.cancel_event.is_set():
            yield Live(True, True, result, time.monotonic() - started)
            return
        if time.monotonic() - shown >= LIVE_INTERVAL:
            shown = time.monotonic()
            yield Live(False, False, result, time.monotonic() - started)


def waiting_update(live: Live) -> str | None:
    """The answer while a measurement waits for the device, or stopped before its first sample (else None)."""
    if live.waiting is not None:
        return f"**Waiting {live.waiting}.** {STOP_HINT if live.result is not None else 'Stop withdraws it.'}"
    if live.result is None:
        return "Stopped before the first sample: nothing was measured."
    return None


def progress_line(live: Live, request: DistanceRequest, error95: float) -> str:
    """'32 of 64 samples (50 %), about 12 s left': the samples done, out of those asked for or, with an error
    target, of the samples the error so far says it needs (it shrinks as one over their square root)."""
    done = live.result.samples
    if request.error_target is None:
        goal = request.samples
    else:
        needed = done * (error95 / request.error_target) ** 2 if error95 > 0 else done
        goal = min(request.max_samples, max(done, math.ceil(needed)))
    line = f"{done} of {'about ' if request.error_target is not None else ''}{goal} samples ({100 * done / goal:.0f} %)"
    return line + f", {time_left(live.seconds / done * (goal - done))}"


STOP_HINT = "Stop ends it now with this estimate."


def _difference_maps(metric, x: torch.Tensor, y: torch.Tensor, request: DistanceRequest):
    generator = torch.Generator().manual_seed(int(request.seed))
    device = metric.device
    x, y = x.to(device), y.to(device)
    if metric.config.transforms is None or request.error_target is None:
        return elpips.difference_maps(metric, x, y, int(request.samples), generator=generator)
    return elpips.difference_maps(
        metric,
        x,
        y,
        max_error=float(request.error_target),
        max_rel_error=NO_RELATIVE_TARGET,
        max_samples=int(request.max_samples),
        generator=generator,
    )


def measure_distance(slot, shelf: MetricShelf, path_a, path_b, request: DistanceRequest,
                     stop: Measurement | None = None) -> Iterator[tuple[str, dict, MapView | None]]:
    """Distance between two uploaded images -> (Markdown answer, JSON-ready details, difference map), as the
    map forms and once finished (or `stop`ped); the map is None while there is none yet."""
    a = load_upload(path_a, "Image A")
    b = load_upload(path_b, "Image B")
    batch, note = prepare_uploads([a, b], _names(("Image A", path_a), ("Image B", path_b)), request.size,
                                   paths=[path_a, path_b])
    metric = shelf.at_size(request.metric, tuple(batch.shape[-2:]))
    for live in _live(slot, _difference_maps(metric, batch[:1], batch[1:], request), stop):
        result, waiting = live.result, waiting_update(live)
        if waiting is not None:
            yield waiting, {}, None if result is None else _map_view(result, batch[:1], ["B vs A"])
            continue
        estimate = result.estimate
        value, stderr = float(estimate.value[0]), float(estimate.stderr[0])
        view = _map_view(result, batch[:1], ["B vs A"])
        if not live.finished:
            yield (f"Measuring: {value:.5f} ± {Z_95 * stderr:.5f} after {progress_line(live, request, Z_95 * stderr)}. "
                   f"{STOP_HINT}", {}, view)
            continue
        details = {
            "metric": metric.config.name,
            "num_scales": None if metric.config.transforms is None else metric.config.transforms.num_scales,
            "distance": value,
            "stderr": stderr,
            "error95": Z_95 * stderr,
            "samples": int(estimate.samples),
            "size": list(batch.shape[-2:]),
            "map_max": float(result.density.max()),
            "map_relative_error": float(result.relative_error[0]),
            "stopped_early": live.stopped,
            "seconds": live.seconds,
        }
        if metric.config.transforms is not None:
            answer = (
                f"### Distance: {value:.5f} ± {Z_95 * stderr:.5f}\n"
                f"(95 % interval from {int(estimate.samples)} samples in {format_seconds(live.seconds)}"
                f"{'; stopped early, at your request' if live.stopped else ''})"
            )
        else:
            answer = f"### Distance: {value:.5f}"
        scale = scale_sentence(metric.config.name, min(batch.shape[-2:]), value)
        answer += f"\n\n{scale}" if scale else ""
        yield f"{answer}\n\n{_metric_note(metric)}\n\n{note}", details, view


def compare_candidates(
    slot, shelf: MetricShelf, path_ref, path_a, path_b, request: DistanceRequest,
    stop: Measurement | None = None,
) -> Iterator[tuple[str, dict, MapView | None]]:
    """Which of two candidates is closer to a reference -> (Markdown answer, JSON-ready details, the two
    candidates' difference maps on one colour scale), as the maps form and once finished.

    Both candidates are measured under the same random transformations, so their difference has a
    much smaller error than either distance. The confidence is the normal probability that the
    sign of that difference is right.
    """
    images = [load_upload(path, label) for path, label in
              ((path_ref, "Reference"), (path_a, "Candidate A"), (path_b, "Candidate B"))]
    names = _names(("Reference", path_ref), ("Candidate A", path_a), ("Candidate B", path_b))
    batch, note = prepare_uploads(images, names, request.size, paths=[path_ref, path_a, path_b])
    metric = shelf.at_size(request.metric, tuple(batch.shape[-2:]))
    samples = 1 if metric.config.transforms is None else int(request.samples)
    request = DistanceRequest(request.metric, request.size, samples, None, samples, request.seed)
    captions = ["A vs reference", "B vs reference"]
    for live in _live(slot, _difference_maps(metric, batch[:1], batch[1:], request), stop):
        maps, waiting = live.result, waiting_update(live)
        if waiting is not None:
            yield waiting, {}, None if maps is None else _map_view(maps, batch[1:], captions)
            continue
        view = _map_view(maps, batch[1:], captions)
        result = elpips.Comparison.from_draws(maps.distances, maps.block)
        values = [float(v) for v in result.values]
        errors = [float(e) for e in result.stderr]
        diff, diff_err = float(result.diff[0, 1]), float(result.diff_stderr[0, 1])
        if not live.finished:
            yield (f"Comparing: A - B {diff:+.5f} ± {Z_95 * diff_err:.5f} (A {values[0]:.5f}, B {values[1]:.5f}) "
                   f"after {progress_line(live, request, Z_95 * diff_err)}. {STOP_HINT}", {}, view)
            continue
        closest = int(result.closest)
        confidence = sampling_confidence(abs(diff), diff_err)
        winner = "A" if closest == 0 else "B"
        details = {
            "metric": metric.config.name,
            "closest": winner,
            "confidence": confidence,
            "distances": {"A": values[0], "B": values[1]},
            "stderr": {"A": errors[0], "B": errors[1]},
            "difference": diff,
            "difference_stderr": diff_err,
            "samples": maps.samples,
            "stopped_early": live.stopped,
            "seconds": live.seconds,
        }
        answer = (
            f"### Candidate {winner} is closer to the reference (confidence {100 * confidence:.1f} %)\n"
            f"- A: {values[0]:.5f} ± {Z_95 * errors[0]:.5f}\n"
            f"- B: {values[1]:.5f} ± {Z_95 * errors[1]:.5f}\n"
            f"- A - B: {diff:+.5f} ± {Z_95 * diff_err:.5f} (same transformations for both, {maps.samples} samples in "
            f"{format_seconds(live.seconds)}{'; stopped early, at your request' if live.stopped else ''})"
        )
        scale = scale_of(metric.config.name, min(batch.shape[-2:]), {"A": values[0], "B": values[1]})
        answer += f"\n\n{scale}" if scale else ""
        yield f"{answer}\n\n{_metric_note(metric)}\n\n{note}", details, view
