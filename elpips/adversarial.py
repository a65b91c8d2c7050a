"""Adversarial attacks on a perceptual metric: make an image look closer to a reference while no pixel
moves more than a budget epsilon (the paper's first two claims: LPIPS falls for this, E-LPIPS does not).

    result = elpips.attack("lpips_vgg", reference, image, epsilon=8/255, judges=("elpips_vgg", "l2"),
                           anchor=anchor)
    result.image                      # (1, 3, H, W) in [0, 1], |result.image - image| <= epsilon
    result.record.judgement("elpips_vgg").after   # distances before/after under every metric asked for

The attack is projected gradient descent with signed steps (PGD, Madry et al. 2018): each step moves
every pixel by ``step_size`` against the sign of the distance's gradient, then projects back onto the
budget (the epsilon ball around the image, intersected with [0, 1]). ``norm="l2"`` bounds the root of the
summed squared pixel changes instead and steps along the normalised gradient.

A random metric (E-LPIPS) is attacked by expectation over transformations: each step averages the
gradient over ``samples_per_step`` draws (stratified, the reference and the attacked image sharing each
draw), as a strong attacker would, not over one. Before/after distances are then measured by
:func:`judge` under fresh draws the attack never saw, with an optional anchor image under the same
draws: the paper's question is whether the attacked image now ranks closer to the reference than the
anchor does.

Why a loop of its own inside ``elpips``: the library must not depend on ``geometry``, and the geometry
engine (Adam over coarse-to-fine stages, pixels clipped, checkpoints) is a different optimiser; PGD shares
nothing with it beyond "take a gradient of the metric". A fixed number of signed, projected steps is a
dozen lines, and keeping it beside the metric lets ``elpips attack`` run with the library alone.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .configs import METRIC_NAMES
from .errors import InputError
from .estimators import compare
from .images import as_image_batch
from .metric import Embedding, Metric, load_metric
from .transforms import Draws

NORMS = ("linf", "l2")
#: The pixel distance a judge can also be: the mean squared difference (no square root, like the metrics).
PIXEL_L2 = "l2"
JUDGES = METRIC_NAMES + (PIXEL_L2,)
#: Fresh draws per judgement of a random metric: before, after and the anchor share them (docs/metric.md).
JUDGE_SAMPLES = 200
#: 8-bit levels: the attacked image is rounded to them by default, as a PNG will hold it.
LEVELS = 255


@dataclass(frozen=True)
class AttackProgress:
    """What the callback receives after every step (the fields the app's progress watcher reads).

    energy: the attacked distance averaged over this step's draws, before the step (what the attack lowers;
    NaN in the step-0 call that only delivers the starting snapshot). snapshot: the current attacked image
    (1, 3, H, W) on CPU at the steps listed in ``snapshot_steps``, else None.
    """

    step: int
    total_steps: int
    energy: float
    elapsed_s: float
    eta_s: float | None
    snapshot: torch.Tensor | None = None


@dataclass(frozen=True)
class Judgement:
    """One metric's view of an attack: distances to the reference before (the image) and after (the
    attacked image), and of the anchor, all under the same draws. Standard errors are 0 for
    deterministic metrics; ``*_minus_anchor`` come from the shared draws, so their errors are small."""

    metric: str
    attacked: bool
    before: float
    after: float
    before_stderr: float
    after_stderr: float
    change_stderr: float
    samples: int
    anchor: float | None = None
    anchor_stderr: float | None = None
    before_minus_anchor: float | None = None
    after_minus_anchor: float | None = None
    after_minus_anchor_stderr: float | None = None

    @property
    def change(self) -> float:
        return self.after - self.before

    @property
    def relative_change(self) -> float:
        return self.change / self.before if self.before else math.nan

    @property
    def closer_than_anchor_before(self) -> bool | None:
        return None if self.anchor is None else self.before_minus_anchor < 0

    @property
    def closer_than_anchor_after(self) -> bool | None:
        """Whether the attacked image ranks closer to the reference than the anchor (the attack fooled
        this metric when it did not before); None without an anchor."""
        return None if self.anchor is None else self.after_minus_anchor < 0


@dataclass
class AttackRecord:
    """What an attack did: settings, status (``completed`` or ``cancelled``), steps taken, the attacked
    distance per step (``energies``), time, the perturbation's size, and every metric's judgement.

    ``evaluations`` counts network evaluations of the attacked image (forward and backward, one per
    draw per step): the budget that makes attacks on different metrics comparable.
    """

    metric: str
    norm: str
    epsilon: float
    step_size: float
    total_steps: int
    samples_per_step: int
    seed: int
    quantized: bool
    status: str = "completed"
    steps: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    energies: list[tuple[int, float]] = field(default_factory=list)
    linf: float = 0.0
    l2: float = 0.0
    psnr: float = math.inf
    judgements: list[Judgement] = field(default_factory=list)

    def judgement(self, metric: str) -> Judgement:
        for judgement in self.judgements:
            if judgement.metric == metric:
                return judgement
        raise KeyError(f"no judgement under {metric!r}; judged: {', '.join(j.metric for j in self.judgements)}")

    def to_dict(self) -> dict:
        """JSON-ready: non-finite numbers (the PSNR of no change, the relative change of a zero distance)
        become None."""
        data = asdict(self)
        data["judgements"] = [
            {**asdict(j), "relative_change": j.relative_change,
             "closer_than_anchor_before": j.closer_than_anchor_before,
             "closer_than_anchor_after": j.closer_than_anchor_after}
            for j in self.judgements
        ]
        return _finite(data)


@dataclass
class AttackResult:
    image: torch.Tensor  # (1, 3, H, W) CPU, in [0, 1], within the budget around the input image
    record: AttackRecord


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


# ------------------------------------------------------------------------------------------ reporting


def _cell(value: float | None, stderr: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if not stderr else f"{value:.4g} ± {stderr:.1g}"


def summary(record: AttackRecord) -> list[str]:
    """Two lines: what the attack did, and the perturbation's size."""
    draws = f" x {record.samples_per_step} draws" if record.samples_per_step > 1 else ""
    cancelled = " (cancelled)" if record.status == "cancelled" else ""
    return [
        f"attacked {record.metric}, {record.norm} budget {record.epsilon:.4g} ({record.epsilon * LEVELS:.3g}/255): "
        f"{record.steps}/{record.total_steps} steps{draws} = {record.evaluations} network evaluations in "
        f"{record.seconds:.1f} s{cancelled}",
        f"perturbation: L-inf {record.linf:.4g} ({record.linf * LEVELS:.3g}/255), L2 {record.l2:.4g}, "
        f"PSNR {record.psnr:.1f} dB",
    ]


def table(record: AttackRecord) -> tuple[list[str], list[list[str]]]:
    """The judgements as a header and rows of text: per metric (the attacked one marked *), the distances
    before and after (± standard error for random metrics), the relative change, the anchor's distance, and
    whether the image ranked closer to the reference than the anchor before -> after."""
    header = ["metric", "before", "after", "change", "anchor", "closer than anchor"]
    rows = []
    for j in record.judgements:
        ranking = "-" if j.anchor is None else " -> ".join(
            "yes" if flag else "no" for flag in (j.closer_than_anchor_before, j.closer_than_anchor_after))
        rows.append([
            j.metric + (" *" if j.attacked else ""), _cell(j.before, j.before_stderr), _cell(j.after, j.after_stderr),
            f"{j.relative_change:+.1%}", _cell(j.anchor, j.anchor_stderr), ranking,
        ])
    return header, rows


def footnote(record: AttackRecord) -> str:
    """What the table's marks and errors mean."""
    sampled = [j.samples for j in record.judgements if j.samples > 1]
    errors = (f"; ± standard errors from {sampled[0]} fresh random transformations shared by all images"
              if sampled else "")
    return f"(* the attacked metric{errors})"


# ------------------------------------------------------------------------------------------ checks


def _metric(metric: Metric | str, device: str | torch.device | None) -> Metric:
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric not in METRIC_NAMES:
            raise InputError(f"unknown metric {metric!r} to attack: use one of {', '.join(METRIC_NAMES)}")
        return load_metric(metric, device=device or "cpu")
    raise InputError(f"metric must be an elpips.Metric or a name ({', '.join(METRIC_NAMES)}), "
                     f"got {type(metric).__name__}")


def _one_image(x, name: str) -> torch.Tensor:
    """One image as (1, 3, H, W) on the CPU (the attack moves it to the metric's device)."""
    batch = as_image_batch(x, name=name).detach().cpu()
    if batch.shape[0] != 1:
        raise InputError(f"{name} is a batch of {batch.shape[0]} images; attack one image at a time")
    return batch


def _check_judges(judges: Sequence[Metric | str]) -> None:
    for metric in judges:
        if isinstance(metric, str) and metric not in JUDGES:
            raise InputError(f"unknown metric {metric!r} to judge with: use any of {', '.join(JUDGES)}")


def _same_size(reference: torch.Tensor, other: torch.Tensor, name: str) -> None:
    if reference.shape[-2:] != other.shape[-2:]:
        raise InputError(
            f"the reference is {reference.shape[-1]}x{reference.shape[-2]} but {name} is "
            f"{other.shape[-1]}x{other.shape[-2]} pixels (width x height): they must have the same size; "
            "resize or crop one"
        )


def _check_settings(epsilon: float, norm: str, steps: int, samples_per_step: int, step_size: float | None) -> None:
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}: use 'linf' (the largest change of any pixel) or 'l2'")
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise InputError(f"epsilon must be a positive budget in [0, 1] pixel units (e.g. 8/255), got {epsilon}")
    if norm == "linf" and epsilon > 1:
        raise InputError(f"epsilon {epsilon} is larger than the whole [0, 1] range; "
                         "give it in [0, 1] units, e.g. 8/255")
    if int(steps) != steps or steps < 1:
        raise InputError(f"steps must be a whole number >= 1, got {steps}")
    if int(samples_per_step) != samples_per_step or samples_per_step < 1:
        raise InputError(f"samples_per_step must be a whole number >= 1, got {samples_per_step}")
    if step_size is not None and not (math.isfinite(step_size) and step_size > 0):
        raise InputError(f"step_size must be positive, got {step_size}")


# ------------------------------------------------------------------------------------------ the attack


def default_step_size(epsilon: float, steps: int) -> float:
    """2.5 epsilon / steps (Madry et al.): enough to cross the ball and back, small enough to settle."""
    return 2.5 * epsilon / steps


def _project(delta: torch.Tensor, image: torch.Tensor, epsilon: float, norm: str) -> torch.Tensor:
    """The perturbation brought back into the budget, then into [0, 1] (clamping only shrinks |delta|
    per pixel, so the budget still holds)."""
    if norm == "linf":
        delta = delta.clamp(-epsilon, epsilon)
    else:
        length = delta.norm()
        if length > epsilon:
            delta = delta * (epsilon / length)
    return (image + delta).clamp(0.0, 1.0) - image


def _step(delta: torch.Tensor, grad: torch.Tensor, step_size: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta - step_size * grad.sign()
    return delta - step_size * grad / grad.norm().clamp_min(1e-12)


def quantize(adversarial: torch.Tensor, image: torch.Tensor, epsilon: float, norm: str = "linf") -> torch.Tensor:
    """``adversarial`` rounded to 8-bit levels without leaving the budget. Under ``"linf"`` every pixel takes
    the level nearest to it inside [image - epsilon, image + epsilon]; under ``"l2"`` the level nearest to it
    between the image's value and its own, so that no pixel moves further from the image and the length of
    the change cannot grow. For an image on 8-bit levels (any PNG or JPEG) such a level always exists;
    elsewhere the level nearest the image is taken."""
    if norm == "linf":
        low, high = image - epsilon, image + epsilon
    else:
        low, high = torch.minimum(adversarial, image), torch.maximum(adversarial, image)
    level_low = torch.ceil(low.clamp(0, 1) * LEVELS - 1e-4)
    level_high = torch.floor(high.clamp(0, 1) * LEVELS + 1e-4)
    rounded = torch.round(adversarial * LEVELS).clamp(level_low, level_high)
    rounded = torch.where(level_low > level_high, torch.round(image * LEVELS), rounded)
    return rounded / LEVELS


def _with_reference(reference: Embedding, attacked: Embedding) -> Embedding:
    """One embedding of [reference, attacked] from two embeddings under the same identity draw."""
    (indices, ref_maps), (_, adv_maps) = reference.groups[0], attacked.groups[0]
    return Embedding(reference.count, [(indices, [torch.cat([r, a], dim=1) for r, a in zip(ref_maps, adv_maps)])])


@torch.enable_grad()  # a library call: a caller's `torch.no_grad()` must not stop the descent
def perturb(
    metric: Metric | str,
    reference,
    image,
    *,
    epsilon: float = 8 / 255,
    norm: str = "linf",
    steps: int = 100,
    samples_per_step: int = 8,
    step_size: float | None = None,
    seed: int = 0,
    quantized: bool = True,
    callback: Callable[[AttackProgress], Any] | None = None,
    cancel: threading.Event | None = None,
    snapshot_steps: Sequence[int] | None = None,
    device: str | torch.device | None = None,
) -> AttackResult:
    """The attack's descent alone (no judging): :func:`attack` without the before/after measurements.

    Returns the attacked image and a record whose ``judgements`` are empty.
    """
    metric = _metric(metric, device)
    reference = _one_image(reference, "reference")
    image = _one_image(image, "image")
    _same_size(reference, image, "the image")
    _check_settings(epsilon, norm, steps, samples_per_step, step_size)
    random = metric.config.transforms is not None
    draws_per_step = int(samples_per_step) if random else 1  # a deterministic metric's draws are all equal
    step_size = float(step_size) if step_size is not None else default_step_size(epsilon, int(steps))
    record = AttackRecord(metric.config.name, norm, float(epsilon), step_size, int(steps), draws_per_step,
                          int(seed), bool(quantized))
    snapshots = {int(s) for s in (snapshot_steps or ())}

    device = metric.device
    x = image.to(device)
    ref = reference.to(device)
    delta = torch.zeros_like(x)
    generator = torch.Generator().manual_seed(2 * int(seed))
    identity = Draws.identities(1)
    with torch.no_grad():
        ref_embedding = None if random else metric.embed(ref, identity)

    def current() -> torch.Tensor:
        return (x + delta).detach().cpu().clone()

    started = time.perf_counter()
    if callback is not None and 0 in snapshots:
        callback(AttackProgress(0, record.total_steps, math.nan, 0.0, None, current()))
    for step in range(1, record.total_steps + 1):
        if cancel is not None and cancel.is_set():
            record.status = "cancelled"
            break
        attacked = (x + delta).requires_grad_(True)
        if random:
            draws = metric.sample_draws(draws_per_step, generator, stratify=draws_per_step)
            embedding = metric.embed(torch.cat([ref, attacked]), draws)
        else:
            embedding = _with_reference(ref_embedding, metric.embed(attacked, identity))
        distance = metric.embedding_distance(embedding, [1], [0]).float().mean()
        (grad,) = torch.autograd.grad(distance, attacked)
        with torch.no_grad():
            delta = _project(_step(delta, grad, step_size, norm), x, epsilon, norm)
        record.steps = step
        record.evaluations += draws_per_step
        record.energies.append((step, distance.item()))
        if callback is not None:
            elapsed = time.perf_counter() - started
            eta = elapsed / step * (record.total_steps - step)
            callback(AttackProgress(step, record.total_steps, record.energies[-1][1], elapsed, eta,
                                    current() if step in snapshots else None))
    record.seconds = time.perf_counter() - started
    adversarial = current()
    if quantized:
        adversarial = quantize(adversarial, image, epsilon, norm)
    change = adversarial - image
    record.linf = float(change.abs().max())
    record.l2 = float(change.norm())
    mse = float(change.square().mean())
    record.psnr = 10 * math.log10(1.0 / mse) if mse > 0 else math.inf
    return AttackResult(adversarial, record)


def judge(
    metrics: Sequence[Metric | str],
    reference,
    image,
    adversarial,
    *,
    anchor=None,
    samples: int = JUDGE_SAMPLES,
    seed: int = 0,
    attacked: str | None = None,
    device: str | torch.device | None = None,
) -> list[Judgement]:
    """Distances of ``image`` (before) and ``adversarial`` (after), and of ``anchor``, to ``reference``
    under each metric (a Metric, a metric name, or ``"l2"``, the mean squared pixel difference).

    A random metric is measured over ``samples`` fresh draws shared by all three images, so the change and
    the ranking against the anchor are known far more precisely than the distances themselves. The draws
    come from a generator seeded with 2 seed + 1; the attack's own come from 2 seed, another stream.
    """
    reference = _one_image(reference, "reference")
    candidates = [_one_image(image, "image"), _one_image(adversarial, "the attacked image")]
    if anchor is not None:
        candidates.append(_one_image(anchor, "anchor"))
    for name, candidate in zip(("the image", "the attacked image", "the anchor"), candidates):
        _same_size(reference, candidate, name)
    if int(samples) != samples or samples < 1:
        raise InputError(f"samples must be a whole number >= 1, got {samples}")
    _check_judges(metrics)
    judgements = []
    for metric in metrics:
        if isinstance(metric, str) and metric == PIXEL_L2:
            values = torch.stack([(c - reference).square().mean() for c in candidates])
            diff, diff_stderr, stderr, count = values[:, None] - values[None, :], torch.zeros(3, 3), torch.zeros(3), 1
            name = PIXEL_L2
        else:
            metric = _metric(metric, device)
            generator = torch.Generator().manual_seed(2 * int(seed) + 1)
            random = metric.config.transforms is not None
            with torch.no_grad():
                result = compare(metric, reference.to(metric.device), [c.to(metric.device) for c in candidates],
                                 samples=int(samples) if random else 1, generator=generator)
            values, stderr, diff, diff_stderr = result.values, result.stderr, result.diff, result.diff_stderr
            count, name = result.samples, metric.config.name
        with_anchor = anchor is not None
        judgements.append(Judgement(
            metric=name, attacked=name == attacked,
            before=float(values[0]), after=float(values[1]),
            before_stderr=float(stderr[0]), after_stderr=float(stderr[1]), change_stderr=float(diff_stderr[1, 0]),
            samples=int(count),
            anchor=float(values[2]) if with_anchor else None,
            anchor_stderr=float(stderr[2]) if with_anchor else None,
            before_minus_anchor=float(diff[0, 2]) if with_anchor else None,
            after_minus_anchor=float(diff[1, 2]) if with_anchor else None,
            after_minus_anchor_stderr=float(diff_stderr[1, 2]) if with_anchor else None,
        ))
    return judgements


def attack(
    metric: Metric | str,
    reference,
    image,
    *,
    epsilon: float = 8 / 255,
    norm: str = "linf",
    steps: int = 100,
    samples_per_step: int = 8,
    step_size: float | None = None,
    seed: int = 0,
    judges: Sequence[Metric | str] = (),
    anchor=None,
    judge_samples: int = JUDGE_SAMPLES,
    quantized: bool = True,
    callback: Callable[[AttackProgress], Any] | None = None,
    cancel: threading.Event | None = None,
    snapshot_steps: Sequence[int] | None = None,
    device: str | torch.device | None = None,
) -> AttackResult:
    """Perturb ``image`` within ``epsilon`` so that it looks closer to ``reference`` under ``metric``.

    metric: an :class:`elpips.Metric` or a name (loaded on ``device``, default CPU). reference, image
    (and anchor): one image each, (1, 3, H, W) or anything :func:`elpips.as_image_batch` reads, of one
    size. epsilon: the budget in [0, 1] pixel units, for ``norm`` ``"linf"`` (each pixel value moves at
    most epsilon) or ``"l2"`` (the whole change's Euclidean length). steps x samples_per_step: the
    descent's length and, for random metrics, draws averaged per step (deterministic metrics use one).
    step_size: default :func:`default_step_size`. seed: draws of the attack and of the judging.
    quantized: round the result to 8-bit levels inside the budget (what a PNG holds; the distances
    "after" are those of the rounded image). callback gets an :class:`AttackProgress` after every step
    (snapshots at ``snapshot_steps``); setting ``cancel`` stops after the current step and judges what
    was reached (status ``cancelled``).

    Returns the attacked image (CPU) and an :class:`AttackRecord` with the judgements of the attacked
    metric (first) and of every metric in ``judges`` (names, ``"l2"`` or Metric objects), each with
    ``judge_samples`` fresh draws for random metrics.
    """
    _check_judges(judges)  # before the descent, not after it
    metric = _metric(metric, device)
    if anchor is not None:
        anchor = _one_image(anchor, "anchor")
        _same_size(_one_image(reference, "reference"), anchor, "the anchor")
    result = perturb(metric, reference, image, epsilon=epsilon, norm=norm, steps=steps,
                     samples_per_step=samples_per_step, step_size=step_size, seed=seed, quantized=quantized,
                     callback=callback, cancel=cancel, snapshot_steps=snapshot_steps)
    name = metric.config.name
    others = [m for m in judges if (m.config.name if isinstance(m, Metric) else m) != name]
    result.record.judgements = judge(
        [metric, *others], reference, image, result.image, anchor=anchor,
        samples=judge_samples, seed=seed, attacked=name, device=metric.device,
    )
    return result
