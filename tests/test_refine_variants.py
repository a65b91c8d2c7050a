"""The refinement variants of the warp path (benchmarks/refine_variants.py): the flow consistency refinement keeps an
exact pan where it is and pulls a wrong flow towards the truth."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import refine_variants  # noqa: E402

from geometry.engine.distances import DistanceFamily  # noqa: E402
from geometry.paths.render import WarpPath  # noqa: E402

HALF = torch.tensor([0.5], dtype=torch.float64)


def _pan(small_images):
    """An 8 px pan of a 40 px window of the cat: (a, b, the true middle, the exact flow)."""
    cat = small_images[0]
    a, b, truth = cat[..., 8:48, 4:44], cat[..., 8:48, 12:52], cat[..., 8:48, 8:48]
    flow = torch.zeros(1, 2, 40, 40)
    flow[:, 0] = -8.0                        # the content moves left as the window moves right
    return a, b, truth, flow


def _error(path: WarpPath, a, b, truth) -> float:
    return (path.frames(a, b, HALF) - truth).abs().mean().item()


def test_the_consistency_refinement_leaves_an_exact_pan_no_further_from_the_truth(small_images):
    a, b, truth, flow = _pan(small_images)
    exact = WarpPath(flow)
    metric = DistanceFamily("elpips_vgg", torch.device("cpu")).at_size((40, 40))
    for refined in (refine_variants.consistency(a, b, exact, None, seed=0),
                    refine_variants.consistency(a, b, exact, metric, seed=0, steps=3)):
        assert _error(refined, a, b, truth) <= _error(exact, a, b, truth) + 1e-4


def test_the_consistency_refinement_pulls_a_wrong_flow_towards_the_pan_and_keeps_a_start_it_cannot_better(
        small_images):
    a, b, truth, flow = _pan(small_images)
    wrong = WarpPath(flow + torch.tensor([0.75, 0.0]).view(1, 2, 1, 1))
    refined = refine_variants.consistency(a, b, wrong, None, seed=0)
    assert _error(refined, a, b, truth) < 0.8 * _error(wrong, a, b, truth)
    still = WarpPath(torch.zeros(1, 2, 40, 40))
    same = a.clone()
    assert torch.equal(refine_variants.consistency(same, same, still, None, seed=0).flow, still.flow)
