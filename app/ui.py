"""The Gradio interface: five tabs (Distance, Compare, Average, Geodesic, Robustness) wired to
`app.distance`, `app.runs` and `app.robustness`, one builder function per tab. Layout and event wiring only;
every computation happens in `elpips` and `geometry`. Distance and Compare stream their difference maps as they
form, with the samples done and the estimate so far, and stop early on request; the overlay switch redraws the
last maps from the session's state without computing again. The three long runs (Average, Geodesic, Robustness)
stream through one adapter, `stream_to_tab`. Every image input is checked when it is uploaded.

Every endpoint has an `api_name`, so the app is also usable through `gradio_client`:
``distance``, ``compare``, ``average_estimate``, ``average``, ``geodesic_estimate``, ``geodesic``,
``attack``, ``cancel`` (every tab's Cancel and Stop: it reaches the session's runs, waiting or running, and its
measurements). The device runs one job at a time: the long runs (average, geodesic, attack) wait for it in the
app's queue (`app.tasks.DeviceSlot`), where they say what they wait behind and Cancel withdraws them; the short
computations share one Gradio concurrency group (``concurrency_id="device"``, limit 1) and take the device pass
by pass through the same queue.
"""

from __future__ import annotations

import functools
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr
import numpy as np
import pandas as pd
import torch

from geometry.engine.distances import DISTANCE_NAMES, METRIC_NAMES
from geometry.engine.energies import ENERGY_FORMS
from geometry.engine.presets import run_recipe
from geometry.engine.problems import PROBLEMS
from geometry.paths.motion import MOTION_NAMES

from app import robustness, runs
from app.distance import DistanceRequest, Measurement, compare_candidates, measure_distance
from app.examples import adversarial_example_path, example_paths
from app.previews import Shown, browser_shows, file_digest, image_format, measured_file, preview_of
from app.runs import MAX_AVERAGE_IMAGES, AppContext, TabUpdate
from app.tasks import DeviceSlot
from app.uploads import display_name, image_input, not_an_image, upload_problem

HEAVY = dict(concurrency_id="device", concurrency_limit=1)
#: Long runs wait for the device in the app's own queue (`app.tasks.DeviceSlot`), not Gradio's: there they say
#: what they wait behind, and Cancel withdraws them.
RUN = dict(concurrency_limit=None)
IMAGE_INPUT = dict(sources=["upload", "clipboard"], height=200)
#: System fonts only: the page must not fetch web fonts (no outbound requests from the browser).
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)


def default_size(device: torch.device) -> int:
    """Short side of the images the engine works on: small on CPU, where a step costs ~100x more."""
    return 256 if device.type == "cuda" else 64


def default_distance_size(device: torch.device) -> int:
    """Short side for distances: the bundled examples' own 96 px on CPU (a 64-sample E-LPIPS estimate
    takes seconds there), 256 on a GPU."""
    return 256 if device.type == "cuda" else 96


def default_steps(kind: str, device: torch.device) -> int:
    """Total optimisation steps: the fast preset's own on a CPU; four times as many on a GPU, where a step
    takes milliseconds and longer runs keep lowering the energy (geometry.engine.presets)."""
    side = default_size(device)
    steps = run_recipe(runs.PRESET, PROBLEMS[kind], (side, side)).steps
    return 4 * steps if device.type == "cuda" else steps


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


#: The energy plot of a run shows the mean of the last this-fraction of its steps: one step's energy is measured
#: under one random draw, and its noise hides the descent.
SMOOTHING = 0.1


def running_mean(values: list[float], window: int) -> np.ndarray:
    """values[k] averaged with the up to `window` - 1 values before it."""
    sums = np.concatenate([[0.0], np.cumsum(np.asarray(values, dtype=np.float64))])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


def _energy_frame(energies: list[tuple[int, float]], max_points: int = 400, smooth: bool = True) -> pd.DataFrame:
    """Steps and energies for the plot, with `smooth` the running mean over the last SMOOTHING of the steps;
    thinned to about `max_points` (the last one always kept) so the browser redraws it quickly, with numeric
    dtypes even when empty (the plot takes its axis types from them)."""
    if smooth and energies:
        window = max(1, round(SMOOTHING * len(energies)))
        energies = list(zip([step for step, _ in energies], running_mean([e for _, e in energies], window)))
    every = max(1, -(-len(energies) // max_points))
    kept = energies[::every] + ([energies[-1]] if energies and (len(energies) - 1) % every else [])
    steps = [step for step, _ in kept]
    values = [float(energy) for _, energy in kept]
    return pd.DataFrame({"step": pd.Series(steps, dtype="int64"), "energy": pd.Series(values, dtype="float64")})


def on_click(button: gr.Button, function, inputs: list, outputs: list, stop: gr.Button | None = None, **kwargs):
    """``button.click(function, inputs, outputs, ...)`` with `function`'s `gr.Error`s shown in the status area,
    the first of ``outputs`` (`shows_errors`, told how many outputs the event has by the list itself).

    Given the tab's `stop` (its Cancel or Stop button), the click is one chain of events: `stop` made active and
    `button` inactive, the run, then both back. Two separate listeners on the click (one turning `stop` on, the
    run turning it off when it ends) raced: a run that ended at once (refused, or a short one) could be answered
    before the first, leaving `stop` active after the run. `button` inactive while its run goes on keeps a second
    press from queuing the same run again (a chain's first event ends at once, so Gradio's own "once" trigger
    mode no longer holds the button)."""
    function = shows_errors(len(outputs))(function)
    if stop is None:
        return button.click(function, inputs, outputs, **kwargs)
    started = button.click(running_buttons(True), None, [stop, button], queue=False, api_name=False)
    running = started.then(function, inputs, outputs, **kwargs)
    running.then(running_buttons(False), None, [stop, button], queue=False, api_name=False)
    return running


def running_buttons(running: bool) -> Callable[[], tuple]:
    """The updates of a tab's (stop, run) buttons while a run goes on (`running`) or after it."""
    return lambda: (gr.update(interactive=running), gr.update(interactive=not running))


def shows_errors(outputs: int):
    """A tab function whose `gr.Error`s go to the tab's status area (its first output), where they stay, and to a
    toast; its other outputs keep what they show. (Raised, Gradio would cover every output with a bare "Error".)"""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                result = function(*args, **kwargs)
                if inspect.isgenerator(result):
                    yield from result
                else:
                    yield result
            except gr.Error as error:
                error_toast(error.message)
                yield (runs.error_status(error.message),) + (gr.skip(),) * (outputs - 1)

        return wrapper

    return decorate


def error_toast(message: str) -> None:
    """A red toast titled "Error" that the event survives (its outputs then show the error in the status area).
    `gr.Warning(title="Error")` is titled "Warning" all the same: Gradio's browser code titles a toast by its
    level, and only its log messages, not `gr.Warning` nor `gr.Info`, take the level "error" without raising."""
    from gradio.helpers import log_message

    log_message(message, title="Error", level="error")  # type: ignore[arg-type]  (the message type takes "error")


def _distance_request(metric, size, mode, samples, error_target, max_samples, seed) -> DistanceRequest:
    return DistanceRequest(
        metric=metric,
        size=int(size),
        samples=int(samples),
        error_target=float(error_target) if mode == "Error target" else None,
        max_samples=int(max_samples),
        seed=int(seed),
    )


def _redraw_maps(view, overlay: bool):
    """The difference maps of the last result with the overlay switched (nothing until there is a result)."""
    if view is None:
        return gr.skip()
    pictures = view.render(overlay)
    return pictures[0] if len(pictures) == 1 else pictures


def size_slider(value: int, elem_id: str | None = None) -> gr.Slider:
    return gr.Slider(16, 512, value=value, step=16, label="Resolution (short side, px)", elem_id=elem_id,
                     info="Inputs are centre-cropped to the first image's aspect ratio and resized.")


def seed_box() -> gr.Number:
    return gr.Number(0, precision=0, label="Seed", info="Same seed, same result.")


def run_buttons(prefix: str, estimate: bool = True) -> tuple[gr.Button | None, gr.Button, gr.Button]:
    """The Estimate, Run and Cancel buttons of a long-run tab; Cancel is inactive until a run starts
    (`on_click` given it as the run's `stop`)."""
    with gr.Row():
        estimate_button = gr.Button("Estimate time") if estimate else None
        run = gr.Button("Attack" if prefix == "robustness" else "Run", variant="primary", elem_id=f"{prefix}-run")
        cancel = stop_button("Cancel", f"{prefix}-cancel")
    return estimate_button, run, cancel


def stop_button(label: str, elem_id: str, **kwargs) -> gr.Button:
    """A Cancel or Stop button, inactive while nothing runs."""
    return gr.Button(label, variant="stop", elem_id=elem_id, interactive=False, **kwargs)


def check_on_upload(image: gr.Image, label: str, status: gr.Markdown) -> gr.State:
    """Check `image` as soon as it is uploaded: a file the run would refuse is named in the tab's `status` at once
    (not only when Run is pressed); a good upload clears an earlier word about the same input. A file that is
    no image at all is taken out of the input (the browser would show a broken-image icon in its place), the
    status line saying why. A file browsers do not display (TIFF) is shown as the app's own picture of it
    (`app.previews`), the status saying so; the returned state remembers the upload behind that picture, which
    the run reads (`measured_file`)."""

    def check(path, shown: str | None):
        problem = upload_problem(path, label)
        if problem is not None:
            words = upload_words(shown, label, runs.error_status(problem))
            return words, (None if not_an_image(path) else gr.skip()), None
        if browser_shows(path):
            said = any(_about(part, label) for part in (shown or "").split("\n\n"))
            return (upload_words(shown, label, None) if said else gr.skip()), gr.skip(), None
        preview = preview_of(path)
        return upload_words(shown, label, preview_note(label, path)), preview, Shown.of(path, preview)

    upload = gr.State(None)
    image.upload(check, [image, status], [status, image, upload], api_name=False, queue=False)
    return upload


#: The words of a status line about an upload shown as the app's own picture of it (`preview_note`).
NOT_DISPLAYED = "browsers do not display"


def preview_note(label: str, path) -> str:
    """What the status says of an upload shown as the app's own picture of it (`app.previews.preview_of`)."""
    return (f"{label}: {NOT_DISPLAYED} {display_name(path)} (a {image_format(path)} file): the input shows the app's "
            "picture of what is measured; the run reads the file itself.")


def upload_words(shown: str | None, label: str, line: str | None) -> str:
    """A tab's status after an upload to its input `label`: what it said about the tab's other uploads (errors,
    preview notes) kept, what it said about this input replaced by `line` (or dropped), a previous result dropped."""
    parts = [part for part in (shown or "").split("\n\n")
             if (part.startswith(runs.error_status("")) or f": {NOT_DISPLAYED} " in part) and not _about(part, label)]
    return "\n\n".join(parts + ([line] if line else []))


def _about(part: str, label: str) -> bool:
    """Whether a status line is an error or a preview note about the input `label`."""
    return part.startswith((runs.error_status(f"{label}: "), f"{label}: {NOT_DISPLAYED} "))


# ---------------------------------------------------------------- the one adapter for long runs


@dataclass(frozen=True)
class LiveTab:
    """How a long-run tab shows a run: `preview(images)` gives the values of its live pictures, `results(outcome)`
    those of its result components; `final_images(outcome)` the images the live pictures show at the end (None:
    the last snapshot); `smooth`: plot the running mean of the energies rather than each step's."""

    live_count: int
    result_count: int
    preview: Callable[[Any], tuple]
    results: Callable[[Any], tuple]
    final_images: Callable[[Any], Any] = lambda outcome: None
    smooth: bool = True


def stream_to_tab(views: Iterator[TabUpdate], note: str, tab: LiveTab) -> Iterator[tuple]:
    """A run's `TabUpdate`s as the values of its tab's outputs: status, progress bar, note, the live pictures, the
    energy plot, the results. The first update clears the previous run's pictures and results."""
    skip_live, skip_results = (gr.skip(),) * tab.live_count, (gr.skip(),) * tab.result_count
    yield (runs.STARTING, "", note, *(None,) * tab.live_count, _energy_frame([], smooth=tab.smooth),
           *(None,) * tab.result_count)
    for view in views:
        watch, done = view.watch, view.outcome
        live = skip_live
        final = tab.final_images(done) if done is not None else None
        if final is not None:
            live = tab.preview(final)
        elif view.new_snapshot and watch is not None and watch.snapshot is not None:
            live = tab.preview(watch.snapshot)
        plot = _energy_frame(watch.energies, smooth=tab.smooth) if watch is not None else gr.skip()
        results = tab.results(done) if done is not None else skip_results
        yield (view.status, runs.progress_bar(view), note, *live, plot, *results)


# ---------------------------------------------------------------- tabs


def distance_tab(ctx: AppContext, examples: dict[str, str]) -> gr.Button:
    """Distance: one distance with its error and a map of where the images differ. Returns its Stop button."""
    with gr.Tab("Distance"):
        with gr.Row():
            dist_a = image_input(examples["disc_left"], label="Image A", elem_id="distance-a", **IMAGE_INPUT)
            dist_b = image_input(examples["disc_left_shifted"], label="Image B", elem_id="distance-b",
                                 **IMAGE_INPUT)
            dist_map = gr.Image(label="Where they differ", interactive=False,
                                height=IMAGE_INPUT["height"], elem_id="distance-map")
        with gr.Row():
            dist_metric = gr.Dropdown(list(METRIC_NAMES), value="elpips_vgg", label="Metric",
                                      elem_id="distance-metric")
            dist_size = size_slider(default_distance_size(ctx.device), elem_id="distance-size")
            dist_seed = seed_box()
        with gr.Row():
            dist_mode = gr.Radio(["Sample budget", "Error target"], value="Sample budget",
                                 label="Precision (E-LPIPS averages random transformations)")
            dist_samples = gr.Slider(1, 2000, value=64, step=1, label="Samples", elem_id="distance-samples")
            dist_error = gr.Number(0.005, label="Error target (95 %, absolute)", minimum=1e-5)
            dist_max = gr.Slider(10, 5000, value=1000, step=10, label="Max samples (error target)")
        with gr.Row():
            dist_button = gr.Button("Measure distance", variant="primary", elem_id="distance-run", scale=3)
            dist_stop = stop_button("Stop (keep the estimate so far)", "distance-stop")
            dist_overlay = gr.Checkbox(False, label="Overlay the map on image A", elem_id="distance-overlay")
        dist_answer = gr.Markdown(elem_id="distance-answer")
        dist_view = gr.State()
        dist_details = gr.JSON(label="Details")
        gr.Examples(
            [[examples["disc_left"], examples["disc_left_shifted"]],
             [examples["disc_left"], examples["disc_left_noisy"]],
             [examples["texture_blobs"], examples["texture_stripes"]]],
            inputs=[dist_a, dist_b], cache_examples=False,
        )
        dist_uploads = [check_on_upload(image, label, dist_answer) for image, label in ((dist_a, "Image A"),
                                                                                         (dist_b, "Image B"))]

        def on_distance(a, b, metric, size, mode, samples, error, max_samples, seed, overlay, upload_a, upload_b,
                        request: gr.Request):
            a, b = measured_file(a, upload_a), measured_file(b, upload_b)
            distance_request = _distance_request(metric, size, mode, samples, error, max_samples, seed)
            with stoppable(ctx, request, "distance") as stop:
                for answer, details, view in measure_distance(ctx.slot, ctx.shelf, a, b, distance_request, stop):
                    yield (answer, details, gr.skip(), gr.skip()) if view is None else (
                        answer, details, view.render(overlay)[0], view)

        on_click(
            dist_button, on_distance,
            [dist_a, dist_b, dist_metric, dist_size, dist_mode, dist_samples, dist_error, dist_max, dist_seed,
             dist_overlay, *dist_uploads],
            [dist_answer, dist_details, dist_map, dist_view], stop=dist_stop, api_name="distance", **HEAVY,
        )
        dist_overlay.change(_redraw_maps, [dist_view, dist_overlay], [dist_map], api_name=False, queue=False)
    return dist_stop


def compare_tab(ctx: AppContext, examples: dict[str, str]) -> gr.Button:
    """Compare: which of two candidates is closer to a reference. Returns its Stop button."""
    with gr.Tab("Compare"):
        gr.Markdown("Which candidate is closer to the reference? Both are measured under the same "
                    "random transformations, so the answer needs few samples.")
        with gr.Row():
            cmp_ref = image_input(examples["disc_left"], label="Reference", elem_id="compare-reference",
                                  **IMAGE_INPUT)
            cmp_a = image_input(examples["disc_left_shifted"], label="Candidate A", elem_id="compare-a",
                                **IMAGE_INPUT)
            cmp_b = image_input(examples["disc_left_noisy"], label="Candidate B", elem_id="compare-b",
                                **IMAGE_INPUT)
        with gr.Row():
            with gr.Column():
                gr.Markdown("Where each candidate differs from the reference, on one colour scale; the maps "
                            "form as samples accumulate.")
                cmp_overlay = gr.Checkbox(False, label="Overlay each map on its candidate")
            cmp_map_a = gr.Image(label="Where A differs", interactive=False, height=IMAGE_INPUT["height"])
            cmp_map_b = gr.Image(label="Where B differs", interactive=False, height=IMAGE_INPUT["height"])
        with gr.Row():
            cmp_metric = gr.Dropdown(list(METRIC_NAMES), value="elpips_vgg", label="Metric")
            cmp_size = size_slider(default_distance_size(ctx.device))
            cmp_samples = gr.Slider(1, 2000, value=32, step=1, label="Samples")
            cmp_seed = seed_box()
        with gr.Row():
            cmp_button = gr.Button("Compare", variant="primary", elem_id="compare-run", scale=3)
            cmp_stop = stop_button("Stop (keep the estimate so far)", "compare-stop")
        cmp_answer = gr.Markdown(elem_id="compare-answer")
        cmp_details = gr.JSON(label="Details")
        cmp_view = gr.State()
        cmp_uploads = [check_on_upload(image, label, cmp_answer)
                       for image, label in ((cmp_ref, "Reference"), (cmp_a, "Candidate A"), (cmp_b, "Candidate B"))]

        def on_compare(ref, a, b, metric, size, samples, seed, overlay, upload_ref, upload_a, upload_b,
                       request: gr.Request):
            ref, a, b = (measured_file(*pair) for pair in ((ref, upload_ref), (a, upload_a), (b, upload_b)))
            compare_request = _distance_request(metric, size, "Sample budget", samples, 0, samples, seed)
            with stoppable(ctx, request, "comparison") as stop:
                for answer, details, view in compare_candidates(ctx.slot, ctx.shelf, ref, a, b, compare_request,
                                                                stop):
                    yield (answer, details, gr.skip(), gr.skip(), gr.skip()) if view is None else (
                        answer, details, *view.render(overlay), view)

        on_click(
            cmp_button, on_compare,
            [cmp_ref, cmp_a, cmp_b, cmp_metric, cmp_size, cmp_samples, cmp_seed, cmp_overlay, *cmp_uploads],
            [cmp_answer, cmp_details, cmp_map_a, cmp_map_b, cmp_view], stop=cmp_stop, api_name="compare", **HEAVY,
        )
        cmp_overlay.change(_redraw_maps, [cmp_view, cmp_overlay], [cmp_map_a, cmp_map_b], api_name=False,
                           queue=False)
    return cmp_stop


class stoppable:
    """A `Measurement` on the session's board for the length of a `with` block: the Stop button reaches it."""

    def __init__(self, ctx: AppContext, request: gr.Request | None, what: str):
        self.ctx, self.session, self.measurement = ctx, _session(request), Measurement(what)

    def __enter__(self) -> Measurement:
        self.ctx.board.add(self.session, self.measurement)
        return self.measurement

    def __exit__(self, *exc) -> None:
        self.ctx.board.remove(self.session, self.measurement)


AVERAGE_TEXT = (
    "The image that minimises the weighted sum of squared distances to the inputs (a barycenter). Under L2 it is "
    "the pixel mean; under E-LPIPS the two textures here end 19.6/255 from it (benchmarks/"
    "bench_app_average_default.py). Two images start from their motion (one object, or one texture synthesised, in "
    "between, kept with no refinement step: docs/motion.md); three or more from the pixel mean, refined (3.5/255 "
    "from it for three discs)."
)


def average_tab(ctx: AppContext, examples: dict[str, str]) -> gr.Button:
    """Average: the barycenter of 2 to MAX_AVERAGE_IMAGES weighted uploads, formed live. Returns its Cancel button.
    The examples are preloaded and a one-click choice; an upload replaces them (`runs.without_examples`), and the
    tab says which images and weights Run will average. Status, progress and live picture sit beside the buttons,
    where a run shows without scrolling."""
    with gr.Tab("Average"):
        gr.Markdown(AVERAGE_TEXT)
        example_sets = [[examples[name] for name in names] for names in AVERAGE_EXAMPLES]
        avg_defaults = example_sets[0]
        digests = frozenset(file_digest(path) for path in examples.values())
        with gr.Row():
            with gr.Column():
                avg_files = gr.File(avg_defaults, file_count="multiple", file_types=["image"],
                                    label=f"Images (2 to {MAX_AVERAGE_IMAGES}; an upload replaces the examples)",
                                    elem_id="average-files")
                avg_plan = gr.Markdown(runs.average_plan(avg_defaults, [1.0] * len(avg_defaults)),
                                       elem_id="average-plan")
                # no fixed height: a fixed one cut the square thumbnails off at the bottom
                avg_preview = gr.Gallery(avg_defaults, label="Inputs", columns=MAX_AVERAGE_IMAGES, height="auto",
                                         object_fit="contain", interactive=False, allow_preview=False,
                                         elem_id="average-preview")
                avg_weights = [
                    gr.Slider(0, 1, value=1.0, step=0.05, visible=path is not None,
                              label=f"Weight of {display_name(path)}" if path else None)
                    for path in avg_defaults + [None] * (MAX_AVERAGE_IMAGES - len(avg_defaults))
                ]
                gr.Examples([[paths] for paths in example_sets], inputs=[avg_files],
                            cache_examples=False, label="Examples (replace the images above)")
            with gr.Column():
                with gr.Row():
                    avg_distance = gr.Dropdown(list(DISTANCE_NAMES), value="elpips_vgg", label="Distance",
                                               elem_id="average-distance")
                    avg_seed = seed_box()
                with gr.Row():
                    avg_size = size_slider(default_size(ctx.device), elem_id="average-size")
                    avg_steps = gr.Slider(10, 5000, value=default_steps("barycenter", ctx.device), step=10,
                                          label="Steps", elem_id="average-steps")
                avg_motion = motion_dropdown("average-motion", average_motion_info(len(avg_defaults)),
                                             interactive=len(avg_defaults) == 2)
                avg_estimate, avg_run, avg_cancel = run_buttons("average")
                avg_status = gr.Markdown(elem_id="average-status")
                avg_progress = gr.HTML(elem_id="average-progress")
                avg_live = gr.Image(label="Average (forming live)", interactive=False, height=112,
                                    elem_id="average-live")
        with gr.Row():
            avg_plot = gr.LinePlot(_energy_frame([]), x="step", y="energy", height=256,
                                   title=f"Energy over steps (running mean of the last {SMOOTHING:.0%} of them)")
            avg_result = gr.File(label="Result (PNG)")
        avg_note = gr.Markdown()

        def on_files(files, *weights):
            files, _ = runs.average_selection(files)
            names = [display_name(path) for path in files]
            sliders = [gr.update(visible=k < len(files), label=f"Weight of {names[k]}" if k < len(files) else None)
                       for k in range(MAX_AVERAGE_IMAGES)]
            return [shown_pictures(files), runs.average_plan(files, list(weights)), average_motion_update(len(files)),
                    *sliders]

        def on_upload(files):
            # an upload replaces the examples; more files than weight sliders: the extra ones are taken out, named
            uploaded, replaced = runs.without_examples(files, digests)
            kept, message = runs.average_selection(uploaded)
            problems = [problem for k, path in enumerate(kept)
                        if (problem := upload_problem(path, f"Image {k + 1}")) is not None]
            lines = [runs.error_status(problem) for problem in problems] + ([message] if message else [])
            if replaced:
                lines.insert(0, "Your uploads replace the example images.")
            return (kept if message or replaced else gr.skip()), "\n\n".join(lines)

        avg_files.change(on_files, [avg_files, *avg_weights], [avg_preview, avg_plan, avg_motion, *avg_weights],
                         api_name=False, queue=False)
        avg_files.upload(on_upload, avg_files, [avg_files, avg_status], api_name=False, queue=False)
        for slider in avg_weights:
            slider.change(lambda files, *weights: runs.average_plan(files, list(weights)), [avg_files, *avg_weights],
                          avg_plan, api_name=False, queue=False)

        # Gradio passes the request only to a named parameter, hence one parameter per slider.
        def on_average_estimate(files, distance, size, steps, seed, w1, w2, w3, w4, w5, w6, motion):
            weights = [w1, w2, w3, w4, w5, w6]
            spec, note = runs.prepare_average(ctx, files, weights, distance, size, steps, seed, motion)
            return runs.forecast_text(ctx, spec), note

        live = LiveTab(1, 1, preview=lambda images: (runs.enlarged(runs.to_pixels(images[0])),),
                       results=lambda done: (str(done.png),), final_images=lambda done: done.image)

        def on_average(files, distance, size, steps, seed, w1, w2, w3, w4, w5, w6, motion, request: gr.Request):
            weights = [w1, w2, w3, w4, w5, w6]
            spec, note = runs.prepare_average(ctx, files, weights, distance, size, steps, seed, motion)
            yield from stream_to_tab(runs.stream_run(ctx, spec, _session(request)), note, live)

        avg_inputs = [avg_files, avg_distance, avg_size, avg_steps, avg_seed, *avg_weights, avg_motion]
        on_click(avg_estimate, on_average_estimate, avg_inputs, [avg_status, avg_note],
                 api_name="average_estimate", **RUN)  # the stored cost model: nothing runs on the device
        on_click(avg_run, on_average, avg_inputs,
                             [avg_status, avg_progress, avg_note, avg_live, avg_plot, avg_result], avg_cancel,
                             api_name="average", **RUN)
    return avg_cancel


#: The Average tab's example sets, the first preloaded.
#: The first is where the E-LPIPS average differs most from the pixel mean at the tab's defaults (19.6/255 on average,
#: against 16.4 for the two discs and 3.5 for the three: benchmarks/bench_app_average_default.py).
AVERAGE_EXAMPLES = (("texture_blobs", "texture_stripes"), ("disc_left", "disc_right"),
                    ("disc_left", "disc_right", "disc_top"))
#: Each motion start in one line, shown where it is chosen (`geometry.paths.motion`, docs/motion.md).
MOTION_WORDS = {
    "none": "the cross-dissolve (the pixel mean), refined: what moves stays a sharpened double exposure",
    "auto": "texture where the spectra differ by a turn or a scaling, else warp where the flow explains the pair, "
            "else change for two textures, else none",
    "warp": "the two images warped towards each other along the engine's own flow, kept as it is (no refinement)",
    "dis": "the same warp along OpenCV's DIS optical flow, kept as it is",
    "texture": "two textures turned and scaled towards each other, kept as it is (no refinement step)",
    "change": "one texture becoming another (synthesised in between), kept as it is (no refinement step)",
}


def shown_pictures(files: list) -> list[str]:
    """The Average tab's pictures of its input files, as a browser displays them (`app.previews.preview_of`: the
    app's own picture of a TIFF); a file the run would refuse is left out (the status names it)."""
    return [preview_of(path) for path in files if upload_problem(path, "Image") is None]


def average_motion_info(count: int) -> str:
    """What the Average tab's motion start does for `count` images (it applies to two only)."""
    if count == 2:
        return "Two images: the average starts from this (each choice described in the list)."
    if count < 2:
        return "Applies to an average of two images."
    return (f"Not used for {count} images: a motion start applies to two images only; {count} images start from "
            "their pixel mean and are refined.")


def average_motion_update(count: int):
    """The Average tab's motion start for `count` images: a choice for two, inactive and saying why otherwise."""
    return gr.update(interactive=count == 2, info=average_motion_info(count))


def motion_dropdown(elem_id: str, info: str | None = None, interactive: bool = True) -> gr.Dropdown:
    """The motion start of a geodesic or two-image average (`geometry.paths.motion`), each choice described."""
    choices = [(f"{name}: {MOTION_WORDS[name]}", name) for name in MOTION_NAMES]
    return gr.Dropdown(choices, value="auto", elem_id=elem_id, label="Motion start", info=info,
                       interactive=interactive)


GEODESIC_TEXT = (
    "The shortest path of frames from A to B under the distance (a morph). Under L2 it is the cross-dissolve. "
    "The default motion start warps A and B towards each other along a flow the engine finds itself (textures: "
    "turns and scales them)."
)
GEODESIC_DETAILS = (
    "With the motion start \"none\" the path starts from the cross-dissolve and what moves stays a sharpened "
    "double exposure: beyond about a pixel per frame the E-LPIPS path energy of the double exposure is lower "
    "than that of the true motion. \"warp\" starts from the endpoints warped by the engine's own "
    "coarse-to-fine flow, \"dis\" by OpenCV's DIS flow; the refinement keeps the motion "
    "(docs/motion.md, benchmarks/bench_motion.py). \"texture\" turns and scales two textures towards each other "
    "(from the cross-dissolve their middle frame is a plaid of both; docs/textures.md, benchmarks/bench_texture.py); "
    "\"auto\" (default) takes \"texture\" where the two spectra differ by a turn or a scaling, else \"warp\". "
    "A warp start is kept as it is: on real footage the E-LPIPS refinement took its frames further from the true "
    "ones (benchmarks/results/refine-variants.md); so is a texture start: the refinement lowered the energy but "
    "drifted the texture towards the plaid (benchmarks/results/bench_texture_budget_64px.txt). The frames come "
    "out at the resolution set here."
)


def geodesic_tab(ctx: AppContext, examples: dict[str, str]) -> gr.Button:
    """Geodesic: a path of frames from A to B, formed live, with gallery, MP4, GIF and ZIP. Returns its Cancel
    button. The results come right under the buttons, the examples last, so a run shows without scrolling."""
    with gr.Tab("Geodesic"):
        gr.Markdown(GEODESIC_TEXT)
        with gr.Accordion("What moves and what fades", open=False):
            gr.Markdown(GEODESIC_DETAILS)
        with gr.Row():
            geo_a = image_input(examples["disc_left"], label="Start (A)", elem_id="geodesic-a", **IMAGE_INPUT)
            geo_b = image_input(examples["disc_right"], label="End (B)", elem_id="geodesic-b", **IMAGE_INPUT)
            with gr.Column():
                geo_frames = gr.Slider(3, 64, value=10, step=1, label="Frames (both ends included)",
                                       elem_id="geodesic-frames")
                geo_distance = gr.Dropdown(list(DISTANCE_NAMES), value="elpips_vgg", label="Distance",
                                           elem_id="geodesic-distance")
                geo_energy = gr.Radio(list(ENERGY_FORMS), value="squared",
                                      label="Path energy: sum of d^2 or of d")
                geo_motion = motion_dropdown("geodesic-motion")
            with gr.Column():  # a fourth column rather than a row: the results start higher up
                geo_size = size_slider(default_size(ctx.device), elem_id="geodesic-size")
                geo_steps = gr.Slider(10, 5000, value=default_steps("geodesic", ctx.device), step=10,
                                      label="Steps", elem_id="geodesic-steps")
                geo_fps = gr.Slider(1, 30, value=8, step=1, label="Video frames per second")
                geo_seed = seed_box()
        geo_estimate, geo_run, geo_cancel = run_buttons("geodesic")
        with gr.Row():  # the status beside the forming frames: both in view under the buttons while it runs
            with gr.Column(scale=2):
                geo_status = gr.Markdown(elem_id="geodesic-status")
                geo_progress = gr.HTML(elem_id="geodesic-progress")
            geo_live = gr.Image(label="Frames (forming live)", interactive=False, height=128, scale=3,
                                elem_id="geodesic-live")
        geo_plot = gr.LinePlot(_energy_frame([]), x="step", y="energy", height=200,
                               title=f"Path energy over steps (running mean of the last {SMOOTHING:.0%})")
        # no fixed height: 220 px cut the second row (frames 8-9 of the default 10) off
        geo_gallery = gr.Gallery(label="Frames", columns=10, height="auto", object_fit="contain",
                                 elem_id="geodesic-gallery")
        with gr.Row():
            # a few frames last a fraction of a second: the video loops
            geo_video = gr.Video(label="Video (MP4, looping)", elem_id="geodesic-video", height=256, loop=True,
                                 autoplay=True)
            geo_files = gr.File(label="Downloads: MP4, GIF, ZIP of the frames, contact sheet",
                                file_count="multiple")
        geo_note = gr.Markdown(elem_id="geodesic-note")
        gr.Examples(
            [[examples["disc_left"], examples["disc_right"]],
             [examples["texture_blobs"], examples["texture_stripes"]]],
            inputs=[geo_a, geo_b], cache_examples=False, elem_id="geodesic-examples",
        )
        geo_uploads = [check_on_upload(geo_a, "Start (A)", geo_status), check_on_upload(geo_b, "End (B)", geo_status)]

        def on_geodesic_estimate(a, b, frames, distance, energy, size, steps, seed, fps, motion, upload_a, upload_b):
            a, b = measured_file(a, upload_a), measured_file(b, upload_b)
            spec, note = runs.prepare_geodesic(ctx, a, b, frames, distance, energy, size, steps, seed, fps, motion)
            return runs.forecast_text(ctx, spec), note

        def results(done) -> tuple:
            gallery = [(str(path), f"frame {k}") for k, path in enumerate(done.frames)]
            return gallery, str(done.mp4), [str(done.mp4), str(done.gif), str(done.zip), str(done.sheet)]

        live = LiveTab(1, 3, preview=lambda frames: (runs.enlarged(runs.filmstrip(frames)),), results=results,
                       final_images=lambda done: done.images)

        def on_geodesic(a, b, frames, distance, energy, size, steps, seed, fps, motion, upload_a, upload_b,
                        request: gr.Request):
            a, b = measured_file(a, upload_a), measured_file(b, upload_b)
            spec, note = runs.prepare_geodesic(ctx, a, b, frames, distance, energy, size, steps, seed, fps, motion)
            yield from stream_to_tab(runs.stream_run(ctx, spec, _session(request)), note, live)

        geo_inputs = [geo_a, geo_b, geo_frames, geo_distance, geo_energy, geo_size, geo_steps, geo_seed, geo_fps,
                      geo_motion, *geo_uploads]
        on_click(geo_estimate, on_geodesic_estimate, geo_inputs, [geo_status, geo_note],
                 api_name="geodesic_estimate", **RUN)  # the stored cost model: nothing runs on the device
        on_click(geo_run, on_geodesic, geo_inputs,
                           [geo_status, geo_progress, geo_note, geo_live, geo_plot, geo_gallery, geo_video, geo_files],
                           geo_cancel, api_name="geodesic", **RUN)
    return geo_cancel


#: What the tab's default run does and what the robustness benchmark measured, in place of a promise the
#: default contradicted ("E-LPIPS does not" fall for it, while the default fooled it too).
ROBUSTNESS_MEASURED = (
    "What to expect, measured: the default here (the noisy disc attacked against LPIPS-VGG at 8/255, 50 steps, "
    "64 px) lowers LPIPS-VGG by 89 % and E-LPIPS by about 30 %, and **both** then rank it closer than the moved "
    "anchor (4 of 4 seeds; benchmarks/bench_app_attack_default.py). Across 16 photo and procedural pairs an "
    "attack on LPIPS-VGG (8/255, 48 steps) fooled LPIPS-VGG in 13 and E-LPIPS in none, and an attack on "
    "E-LPIPS itself fooled it in 4 (25 %) (docs/robustness.md, benchmarks/bench_robustness.py): E-LPIPS is "
    "harder to fool, not immune."
)


def robustness_tab(ctx: AppContext, examples: dict[str, str], adversarial: str) -> gr.Button:
    """Robustness: attack a metric on the user's images (`app.robustness`). Returns its Cancel button."""
    cpu = ctx.device.type == "cpu"
    with gr.Tab("Robustness"):
        gr.Markdown("Change every pixel of an image by at most epsilon so that a metric calls it closer to the "
                    "reference: an adversarial attack (projected gradient steps; a random metric like E-LPIPS is "
                    "attacked through the average over several random transformations per step). Then see under "
                    "every metric whether the image now ranks closer to the reference than an anchor does.\n\n"
                    + ROBUSTNESS_MEASURED)
        with gr.Row():
            rob_ref = image_input(examples["disc_left"], label="Reference", elem_id="robustness-reference",
                                  **IMAGE_INPUT)
            rob_image = image_input(examples["disc_left_noisy"], label="Image to attack", elem_id="robustness-image",
                                    **IMAGE_INPUT)
            rob_anchor = image_input(examples["disc_left_moved"], label="Anchor (optional)",
                                     elem_id="robustness-anchor", **IMAGE_INPUT)
        with gr.Row():
            rob_metric = gr.Dropdown(list(METRIC_NAMES), value="lpips_vgg", label="Attacked metric",
                                     elem_id="robustness-metric")
            rob_epsilon = gr.Slider(1, robustness.MAX_EPSILON_LEVELS, value=8, step=1, label="Epsilon (/255)",
                                    info="The largest change of any pixel value, in 8-bit levels.")
            rob_judges = gr.CheckboxGroup(list(robustness.JUDGES), value=["elpips_vgg", "lpips_vgg", "l2"],
                                          label="Distances before and after under")
        with gr.Row():
            rob_size = size_slider(default_size(ctx.device), elem_id="robustness-size")
            rob_steps = gr.Slider(1, 1000, value=50 if cpu else 200, step=1, label="Steps", elem_id="robustness-steps")
            rob_draws = gr.Slider(1, 32, value=4 if cpu else 8, step=1, label="Random transformations per step",
                                  info="E-LPIPS only: the attacker averages its gradient over these.")
            rob_samples = gr.Slider(10, 1000, value=50 if cpu else 200, step=10, label="Samples for the distances",
                                    info="E-LPIPS only: fresh transformations, shared by all images.")
            rob_seed = seed_box()
        _, rob_run, rob_cancel = run_buttons("robustness", estimate=False)
        rob_status = gr.Markdown(elem_id="robustness-status")
        rob_progress = gr.HTML(elem_id="robustness-progress")
        with gr.Row():
            rob_live = gr.Image(label="Attacked image (forming live)", interactive=False, height=256)
            rob_perturbation = gr.Image(label="Perturbation, magnified (grey: none; black, white: -, + epsilon)",
                                        interactive=False, height=256)
            rob_plot = gr.LinePlot(_energy_frame([]), x="step", y="energy", title="Attacked distance over steps",
                                   height=256)
        rob_table = gr.Markdown(elem_id="robustness-table")
        with gr.Row():
            rob_file = gr.File(label="Attacked image (PNG)")
            rob_details = gr.JSON(label="Record")
        rob_note = gr.Markdown()
        gr.Examples(
            [[examples["disc_left"], examples["disc_left_noisy"], examples["disc_left_moved"]],
             [examples["disc_left"], adversarial, examples["disc_left_moved"]],
             [examples["texture_blobs"], examples["texture_stripes"], None]],
            inputs=[rob_ref, rob_image, rob_anchor], cache_examples=False,
            label="Examples (the second image was made by this attack against LPIPS-VGG at 8/255)",
        )
        rob_uploads = [check_on_upload(image, label, rob_status)
                       for image, label in ((rob_ref, "Reference"), (rob_image, "Image"), (rob_anchor, "Anchor"))]

        def on_attack(ref, image, anchor, metric, epsilon, judges, size, steps, draws, samples, seed, upload_ref,
                      upload_image, upload_anchor, request: gr.Request):
            ref, image, anchor = (measured_file(*pair) for pair in
                                  ((ref, upload_ref), (image, upload_image), (anchor, upload_anchor)))
            spec, note = robustness.prepare_attack(ctx, ref, image, anchor, metric, epsilon, steps, draws, judges,
                                                   samples, size, seed)

            def views(images) -> tuple:
                magnified = robustness.perturbation_view(images, spec.image, spec.epsilon)
                return runs.enlarged(runs.to_pixels(images[0])), runs.enlarged(runs.to_pixels(magnified[0]))

            # unsmoothed: each step's attacked distance is exact (LPIPS) or already a mean over its draws
            live = LiveTab(2, 3, preview=views, final_images=lambda done: done.image, smooth=False,
                           results=lambda done: (done.table, str(done.png), done.record.to_dict()))
            yield from stream_to_tab(robustness.stream_attack(ctx, spec, _session(request)), note, live)

        on_click(
            rob_run, on_attack,
            [rob_ref, rob_image, rob_anchor, rob_metric, rob_epsilon, rob_judges, rob_size, rob_steps, rob_draws,
             rob_samples, rob_seed, *rob_uploads],
            [rob_status, rob_progress, rob_note, rob_live, rob_perturbation, rob_plot, rob_table, rob_file,
             rob_details],
            stop=rob_cancel, api_name="attack", **RUN,
        )
    return rob_cancel


def build_app(output_dir: str | os.PathLike, device: str | torch.device) -> gr.Blocks:
    """The app, with results written under `output_dir` and computations on `device`."""
    device = torch.device(device)
    output_root = Path(output_dir)
    ctx = AppContext(output_root=output_root, device=device, slot=DeviceSlot(str(device)))
    runs.warm_up()
    examples = {name: str(path) for name, path in example_paths(output_root / "examples").items()}
    adversarial = str(adversarial_example_path(output_root / "examples"))

    # analytics_enabled=False: no usage reports (Gradio then also turns off huggingface_hub's telemetry)
    with gr.Blocks(title="E-LPIPS: distances, averages, geodesics", analytics_enabled=False) as demo:
        gr.Markdown(
            "# E-LPIPS: perceptual distances, averages and geodesics\n"
            f"Computing on **{device}**. Averages, geodesics and attacks are saved under `{output_root}`; "
            "distances and comparisons are not."
        )
        stops = [distance_tab(ctx, examples), compare_tab(ctx, examples), average_tab(ctx, examples),
                 geodesic_tab(ctx, examples), robustness_tab(ctx, examples, adversarial)]

        # One endpoint for every tab's Cancel and Stop: it reaches the session's runs, waiting or running, and its
        # measurements in progress.
        def on_cancel(request: gr.Request) -> str:
            message = runs.cancel_session(ctx, _session(request))
            gr.Info(message)
            return message

        cancel_note = gr.Markdown(visible=False)
        gr.on([button.click for button in stops], on_cancel, None, cancel_note, api_name="cancel",
              concurrency_limit=None)

    demo.queue(default_concurrency_limit=1)
    return demo


def launch_options(output_dir: str | os.PathLike) -> dict:
    """Options every launch of the app uses (the command line adds host, port and share)."""
    from app.examples import REPO_EXAMPLES_DIR
    from app.uploads import MAX_FILE_SIZE

    return dict(
        theme=THEME,
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[str(Path(output_dir).resolve()), str(REPO_EXAMPLES_DIR)],
        footer_links=["api"],
    )
