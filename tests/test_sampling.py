"""The one sampling loop (elpips.sampling): block sizes, the stopping rule, the standard error."""

import math

import pytest
import torch

from elpips.sampling import SamplingPlan, block_size, confidence, sample_blocks, standard_error


def recorded(plan: SamplingPlan, stop_after: int | None = None) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    for _ in sample_blocks(lambda count, stratify: calls.append((count, stratify)), plan,
                           lambda: stop_after is not None and len(calls) >= stop_after):
        pass
    return calls


def test_a_fixed_count_is_one_call_stratified_in_sub_blocks():
    assert recorded(SamplingPlan(samples=64).resolved(False)) == [(64, 8)]
    assert recorded(SamplingPlan(samples=7).resolved(False)) == [(7, 1)]  # a prime: independent draws


def test_open_ended_blocks_stop_on_the_rule_or_at_the_cap():
    assert recorded(SamplingPlan(max_samples=100), stop_after=3) == [(10, 10)] * 3
    assert recorded(SamplingPlan(max_samples=25)) == [(10, 10), (10, 10), (5, 5)]  # last block cut by the cap
    assert recorded(SamplingPlan(max_samples=20, block=16, stratified=False)) == [(16, 1), (4, 1)]


def test_a_deterministic_metric_takes_one_draw_whatever_the_plan():
    assert recorded(SamplingPlan(max_samples=5000).resolved(True)) == [(1, 1)]
    assert recorded(SamplingPlan(samples=60).resolved(True)) == [(1, 1)]


@pytest.mark.parametrize("plan", [dict(samples=0), dict(max_samples=0), dict(block=0)])
def test_counts_below_one_are_refused(plan):
    with pytest.raises(ValueError, match="must be >= 1"):
        SamplingPlan(**plan)


def test_block_size_splits_into_two_whole_blocks_at_least():
    assert [block_size(n, 10) for n in (1, 2, 20, 24, 60, 64, 97)] == [1, 1, 10, 8, 10, 8, 1]


def test_standard_error_from_block_means_and_from_single_draws():
    per_draw = torch.tensor([1.0, 3.0, 2.0, 6.0])
    assert torch.isclose(standard_error(per_draw, 2), torch.tensor([2.0, 4.0]).std() / math.sqrt(2))
    assert torch.isclose(standard_error(per_draw, 1), per_draw.std() / 2)
    assert standard_error(per_draw[:1], 1) == 0


def test_a_running_mean_between_whole_blocks_keeps_the_block_statistic():
    """60 of 64 draws in blocks of 8: the error is the 7 whole blocks' spread scaled to 60 draws, the statistic
    the finished 64 get, not the independent-draws bound (which was twice as wide and jumped at the end)."""
    generator = torch.Generator().manual_seed(0)
    per_draw = torch.rand(64, generator=generator)
    whole = per_draw[:56].unflatten(0, (7, 8)).mean(dim=1)
    assert torch.isclose(standard_error(per_draw[:60], 8), whole.std() * math.sqrt(8 / 60))
    assert torch.isclose(standard_error(per_draw[:56], 8), whole.std() / math.sqrt(7))
    means = per_draw.unflatten(0, (8, 8)).mean(dim=1)
    assert torch.isclose(standard_error(per_draw, 8), means.std() / math.sqrt(8))


def test_confidence_is_a_normal_probability_and_exact_without_error():
    assert confidence(1.96, 1.0) == pytest.approx(0.975, abs=1e-3)
    assert (confidence(0.1, 0.0), confidence(0.0, None)) == (1.0, 0.5)
