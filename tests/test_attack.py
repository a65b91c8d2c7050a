"""The adversarial attack (elpips.attack): budget, range, effect, reproducibility, cancellation, bad inputs.

Tiny images (32 px crops of cat and dog), a few steps; E-LPIPS with one scale level.
"""

import math
import threading

import pytest
import torch

import elpips
from elpips.adversarial import LEVELS, quantize

EPS = 4 / 255


@pytest.fixture(scope="module")
def pair(small_images):
    """(reference, image) 32 x 32 crops; the image has a saturated black and white patch, so that the
    [0, 1] range, not only the budget, limits some pixels."""
    cat, dog = (image[..., 16:48, 16:48].clone() for image in small_images)
    dog[..., :4, :4] = 0.0
    dog[..., -4:, -4:] = 1.0
    return cat, dog


@pytest.fixture(scope="module")
def elpips_1():
    return elpips.load_metric("elpips_vgg", num_scales=1)


def _within_budget(result, image, epsilon, norm="linf"):
    change = result.image - image
    size = change.abs().max() if norm == "linf" else change.norm()
    return float(size) <= epsilon + 1e-6 and float(result.image.min()) >= 0 and float(result.image.max()) <= 1


def test_linf_attack_stays_in_budget_and_range_and_lowers_the_attacked_distance(metric_lpips, pair):
    reference, image = pair
    result = elpips.attack(metric_lpips, reference, image, epsilon=EPS, steps=6, judges=["l2"])
    record = result.record
    assert _within_budget(result, image, EPS)
    assert record.linf == pytest.approx(float((result.image - image).abs().max()))
    assert record.linf > EPS - 1.5 / LEVELS  # sign steps use the budget
    levels = result.image * LEVELS
    assert torch.equal(levels, levels.round())  # quantized: what a PNG holds, still within the budget
    assert (record.status, record.steps, record.evaluations, record.samples_per_step) == ("completed", 6, 6, 1)
    attacked, pixels = record.judgements
    assert attacked.metric == "lpips_vgg" and attacked.attacked and pixels.metric == "l2" and not pixels.attacked
    with torch.no_grad():
        assert attacked.before == pytest.approx(metric_lpips(reference, image).item(), rel=1e-5)
        assert attacked.after == pytest.approx(metric_lpips(reference, result.image).item(), rel=1e-5)
    assert attacked.after < 0.8 * attacked.before
    assert pixels.before == pytest.approx(float((image - reference).square().mean()), rel=1e-6)
    assert record.psnr == pytest.approx(10 * math.log10(1 / float((result.image - image).square().mean())))


def test_the_attack_runs_when_the_caller_has_gradients_disabled(metric_lpips, pair):
    reference, image = pair
    free = elpips.perturb(metric_lpips, reference, image, epsilon=EPS, steps=2, quantized=False)
    with torch.no_grad():
        disabled = elpips.perturb(metric_lpips, reference, image, epsilon=EPS, steps=2, quantized=False)
        assert not torch.is_grad_enabled()  # the caller's setting is restored
    assert torch.equal(disabled.image, free.image) and not torch.equal(disabled.image, image)


def test_l2_attack_stays_in_its_budget(metric_lpips, pair):
    reference, image = pair
    epsilon = 0.5
    for quantized in (False, True):
        result = elpips.attack(metric_lpips, reference, image, epsilon=epsilon, norm="l2", steps=4,
                               quantized=quantized)
        assert _within_budget(result, image, epsilon, "l2")
        assert result.record.l2 > 0.8 * epsilon
        assert result.record.judgements[0].change < 0


def test_quantize_rounds_to_levels_inside_the_budget():
    generator = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (1, 3, 16, 16), generator=generator) / LEVELS
    epsilon = 3.4 / LEVELS
    attacked = (image + (torch.rand(image.shape, generator=generator) * 2 - 1) * epsilon).clamp(0, 1)
    rounded = quantize(attacked, image, epsilon)
    assert torch.equal(rounded * LEVELS, (rounded * LEVELS).round())
    assert float((rounded - image).abs().max()) <= 3 / LEVELS + 1e-6  # 3.4 levels allow 3
    change = (rounded - attacked).abs()
    assert float(change.max()) <= 1 / LEVELS and float(change.mean()) < 0.3 / LEVELS
    rounded = quantize(attacked, image, 10.0, "l2")  # never further from the image, pixel by pixel
    assert bool(((rounded - image).abs() <= (attacked - image).abs() + 1e-6).all())


def test_elpips_is_attacked_through_several_shared_draws_per_step_and_judged_on_fresh_ones(elpips_1, pair):
    reference, image = pair
    anchor = (reference + 0.02).clamp(0, 1)
    result = elpips.attack(elpips_1, reference, image, epsilon=8 / 255, steps=4, samples_per_step=3,
                           anchor=anchor, judge_samples=20)
    record = result.record
    assert (record.evaluations, record.samples_per_step) == (12, 3)
    judgement = record.judgement("elpips_vgg")
    assert judgement.samples == 20 and judgement.before_stderr > 0
    assert judgement.change < -3 * judgement.change_stderr  # the attacked distance fell, beyond its error
    assert judgement.closer_than_anchor_before is False and judgement.anchor < judgement.before
    assert judgement.after_minus_anchor_stderr > 0


def test_seeded_runs_repeat_exactly_and_other_seeds_differ(elpips_1, pair):
    reference, image = pair
    runs = [elpips.attack(elpips_1, reference, image, steps=3, samples_per_step=2, seed=seed, judge_samples=4)
            for seed in (7, 7, 8)]
    assert torch.equal(runs[0].image, runs[1].image)
    assert runs[0].record.energies == runs[1].record.energies
    assert runs[0].record.judgements == runs[1].record.judgements
    assert runs[0].record.energies != runs[2].record.energies


def test_progress_reaches_the_callback_with_snapshots_at_the_steps_asked(metric_lpips, pair):
    reference, image = pair
    seen = []
    elpips.perturb(metric_lpips, reference, image, steps=4, callback=seen.append, snapshot_steps=[0, 2])
    assert [p.step for p in seen] == [0, 1, 2, 3, 4]
    assert [p.snapshot is not None for p in seen] == [True, False, True, False, False]
    assert torch.equal(seen[0].snapshot, image) and math.isnan(seen[0].energy)
    assert all(p.total_steps == 4 and p.energy > 0 and p.eta_s >= 0 for p in seen[1:])
    assert seen[-1].eta_s == 0


def test_cancel_stops_after_the_current_step_and_judges_what_was_reached(metric_lpips, pair):
    reference, image = pair
    cancel = threading.Event()

    def stop_at_two(progress):
        if progress.step == 2:
            cancel.set()

    result = elpips.attack(metric_lpips, reference, image, steps=50, callback=stop_at_two, cancel=cancel)
    assert (result.record.status, result.record.steps) == ("cancelled", 2)
    assert _within_budget(result, image, 8 / 255) and result.record.judgements[0].change < 0
    result = elpips.attack(metric_lpips, reference, image, steps=50, cancel=cancel)  # cancelled before starting
    assert result.record.steps == 0 and torch.equal(result.image, image)
    assert result.record.to_dict()["psnr"] is None  # no change: infinite PSNR, stored JSON-safe


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image": "smaller"}, "must have the same size"),
        ({"anchor": "smaller"}, "the anchor is 24x24"),
        ({"epsilon": 0}, "epsilon must be a positive budget"),
        ({"epsilon": -1 / 255}, "epsilon must be a positive budget"),
        ({"epsilon": 2.0}, "larger than the whole [0, 1] range"),
        ({"metric": "lpips_vgg16"}, "unknown metric 'lpips_vgg16' to attack"),
        ({"judges": ["elpips"]}, "unknown metric 'elpips' to judge with"),
        ({"norm": "l1"}, "unknown norm 'l1'"),
        ({"steps": 0}, "steps must be a whole number >= 1"),
        ({"samples_per_step": 0}, "samples_per_step must be a whole number >= 1"),
    ],
)
def test_bad_inputs_get_one_line_errors(metric_lpips, pair, change, message):
    reference, image = pair
    smaller = image[..., :24, :24]
    arguments = {"metric": metric_lpips, "image": image, "steps": 1, **change}
    for key in ("image", "anchor"):
        if arguments.get(key) == "smaller":
            arguments[key] = smaller
    metric, image = arguments.pop("metric"), arguments.pop("image")
    with pytest.raises(ValueError) as error:
        elpips.attack(metric, reference, image, **arguments)
    assert message in str(error.value) and "\n" not in str(error.value)
