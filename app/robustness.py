"""The Robustness tab's run: an adversarial attack (`elpips.attack`) on a worker thread, streamed to the
browser like the Average and Geodesic runs (`app.tasks`, `app.runs.follow_task`).

The uploads are brought to one size (`app.uploads`) and rounded to 8-bit levels, the form they are saved
in, so that the attacked image, rounded to levels too (`elpips.adversarial.quantize`), stays within the
budget as a PNG. Before the run, a few attack steps are timed on this device for the estimate. The run
folder keeps the inputs, the attacked image, its perturbation magnified, the settings and the record with
every metric's distances before and after.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import gradio as gr
import torch

import elpips
from elpips.adversarial import JUDGES, LEVELS, PIXEL_L2, AttackProgress, AttackRecord, footnote, summary, table
from geometry.engine.eta import TimeLeft
from geometry.service.run_folder import FolderLayout

from app.forecast import snapshot_steps
from app.runs import AppContext, TabUpdate, follow_task, step_line, write_json
from app.tasks import DeviceTask, format_seconds, new_run_folder, time_steps
from app.uploads import display_name, load_upload, prepare_uploads

#: Attack steps timed the first time a setting is seen (the first is dropped as warm-up).
PROBE_STEPS = 4
#: The first line of an attack waiting for the device before its speed has been measured.
UNMEASURED = "The attack time is estimated when the attack gets the device (a few steps are timed first)."

#: The largest budget the tab offers, in 8-bit levels (32/255: clearly visible).
MAX_EPSILON_LEVELS = 32


@dataclass(frozen=True)
class AttackSpec:
    """A prepared attack: the images (reference, image, anchor or None), the metrics and the settings."""

    key: tuple  # the SpeedTable key: what a step's time depends on
    images: torch.Tensor  # (2 or 3, 3, H, W) on 8-bit levels: reference, image[, anchor]
    names: tuple[str, ...]
    metric: Any  # the attacked elpips.Metric
    judges: tuple  # other metrics (Metric objects or "l2")
    epsilon: float
    steps: int
    samples_per_step: int
    judge_samples: int
    seed: int

    @property
    def reference(self) -> torch.Tensor:
        return self.images[0:1]

    @property
    def image(self) -> torch.Tensor:
        return self.images[1:2]

    @property
    def anchor(self) -> torch.Tensor | None:
        return self.images[2:3] if len(self.images) > 2 else None

    def settings(self) -> dict:
        return {"metric": self.metric.config.name, "epsilon": self.epsilon, "epsilon_levels": self.epsilon * LEVELS,
                "norm": "linf", "steps": self.steps, "samples_per_step": self.samples_per_step,
                "judges": [_name(j) for j in self.judges], "judge_samples": self.judge_samples, "seed": self.seed,
                "inputs": list(self.names), "size": list(self.images.shape[-2:])}


@dataclass(frozen=True)
class AttackOutcome:
    record: AttackRecord
    image: torch.Tensor  # (1, 3, H, W) the attacked image
    png: Path
    table: str  # Markdown


def _name(metric) -> str:
    return metric if isinstance(metric, str) else metric.config.name


def prepare_attack(ctx: AppContext, path_reference, path_image, path_anchor, metric: str, epsilon_levels: float,
                   steps: int, samples_per_step: int, judges: list[str], judge_samples: int, size: int,
                   seed: int) -> tuple[AttackSpec, str]:
    """Check the uploads and settings of an attack; returns the prepared attack and the resize note."""
    if not 0 < float(epsilon_levels) <= MAX_EPSILON_LEVELS:
        raise gr.Error(f"Robustness: epsilon must be above 0 and at most {MAX_EPSILON_LEVELS}/255.")
    if int(steps) < 1 or int(samples_per_step) < 1 or int(judge_samples) < 1:
        raise gr.Error("Robustness: steps, draws per step and measurement samples must be at least 1.")
    unknown = [name for name in judges or [] if name not in JUDGES]
    if unknown:
        raise gr.Error(f"Robustness: unknown metric {', '.join(unknown)}; choose among {', '.join(JUDGES)}.")
    labelled = [("Reference", path_reference), ("Image", path_image)]
    if path_anchor:
        labelled.append(("Anchor", path_anchor))
    images = [load_upload(path, label) for label, path in labelled]
    names = [f"{label} ({display_name(path)})" for label, path in labelled]
    batch, note = prepare_uploads(images, names, int(size), paths=[path for _, path in labelled])
    batch = torch.round(batch * LEVELS) / LEVELS  # what the saved inputs hold
    size_hw = tuple(batch.shape[-2:])
    attacked = ctx.shelf.at_size(metric, size_hw)  # raises gr.Error for unknown metrics and too small sizes
    others = tuple(name if name == PIXEL_L2 else ctx.shelf.at_size(name, size_hw)
                   for name in judges or [] if name != metric)
    random = attacked.config.transforms is not None
    draws = int(samples_per_step) if random else 1
    spec = AttackSpec(
        key=("attack", metric, size_hw, draws, str(ctx.device)), images=batch, names=tuple(names), metric=attacked,
        judges=others, epsilon=float(epsilon_levels) / LEVELS, steps=int(steps), samples_per_step=draws,
        judge_samples=int(judge_samples), seed=int(seed),
    )
    return spec, note


def seconds_per_step(ctx: AppContext, spec: AttackSpec, hold_slot: bool = True) -> float:
    """Measured on this device the first time a setting is seen (a few real attack steps, taking the device slot
    unless the caller holds it), then refreshed by every finished attack (`SpeedTable`)."""

    def measure() -> float:
        with ctx.slot if hold_slot else contextlib.nullcontext():
            return time_steps(lambda callback: elpips.perturb(
                spec.metric, spec.reference, spec.image, epsilon=spec.epsilon, steps=PROBE_STEPS,
                samples_per_step=spec.samples_per_step, seed=spec.seed, callback=callback))

    return ctx.speeds.seconds_per_step(spec.key, measure)


def forecast_text(ctx: AppContext, spec: AttackSpec, step_seconds: float) -> str:
    height, width = spec.images.shape[-2:]
    draws = f" of {spec.samples_per_step} draws each" if spec.samples_per_step > 1 else ""
    return (f"Estimated attack time: **{format_seconds(spec.steps * step_seconds, about=True)}** ({spec.steps} "
            f"steps{draws} at {width}x{height} px on {ctx.device.type}; measured here: {step_seconds:.3g} s per "
            f"step), then the distances before and after under {1 + len(spec.judges)} metric(s).")


def attack_line(latest: AttackProgress, seconds_left: float | None) -> str:
    line = step_line(latest, seconds_left, "attacked distance")
    if latest.step == latest.total_steps:
        line += ". Measuring the distances before and after under every metric..."
    return line


def perturbation_view(attacked: torch.Tensor, image: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The perturbation magnified to the full range: mid-grey is no change, black and white are -/+ epsilon."""
    return (0.5 + (attacked - image) / (2 * epsilon)).clamp(0, 1)


def table_markdown(record: AttackRecord) -> str:
    header, rows = table(record)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n\n" + "\n\n".join([footnote(record), *summary(record)])


def stream_attack(ctx: AppContext, spec: AttackSpec, session: str) -> Iterator[TabUpdate]:
    """Estimate, run and save the attack, yielding `TabUpdate`s; the last one carries an `AttackOutcome`."""
    folder = new_run_folder(ctx.output_root, "attack")
    for name, image in zip(("reference", "image", "anchor"), spec.images):
        elpips.save_image(folder / f"{name}.png", image)
    write_json(FolderLayout(folder).app_settings, {**spec.settings(), "device": str(ctx.device)})
    saved = f" Results are saved in `{folder}`."
    known = ctx.speeds.known(spec.key)
    header = (UNMEASURED if known is None else forecast_text(ctx, spec, known)) + saved
    eta = TimeLeft([(spec.steps, known)])

    def run(callback, cancel):
        if ctx.speeds.known(spec.key) is None:
            callback(f"Measuring the speed of this attack on {ctx.device.type}...{saved}")
        step_seconds = seconds_per_step(ctx, spec, hold_slot=False)
        eta.legs = [(spec.steps, step_seconds)]
        callback(forecast_text(ctx, spec, step_seconds) + saved)
        return elpips.attack(
            spec.metric, spec.reference, spec.image, epsilon=spec.epsilon, steps=spec.steps,
            samples_per_step=spec.samples_per_step, seed=spec.seed, judges=spec.judges, anchor=spec.anchor,
            judge_samples=spec.judge_samples, callback=callback, cancel=cancel,
            snapshot_steps=snapshot_steps(spec.steps),
        )

    def save(result) -> AttackOutcome:
        if 0 in eta.measured():
            ctx.speeds.refresh(spec.key, eta.measured()[0])
        png = folder / "attacked.png"
        elpips.save_image(png, result.image)
        magnified = perturbation_view(result.image, spec.image, spec.epsilon)
        elpips.save_image(folder / "perturbation_magnified.png", magnified)
        write_json(FolderLayout(folder).record, result.record.to_dict())
        return AttackOutcome(result.record, result.image, png, table_markdown(result.record))

    job = DeviceTask("attack", ctx.slot, run=run, save=save, eta=eta,
              on_withdraw=lambda: shutil.rmtree(folder, ignore_errors=True))
    yield from follow_task(ctx, job, session, header, describe=attack_line, tally=lambda outcome: outcome.record)
