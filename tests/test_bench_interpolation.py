"""The real-footage interpolation benchmark's parts: triplet rule, measures, method registry, a tiny run.

Generated frames only (the real clips are the benchmark's, not the tests')."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_interpolation  # noqa: E402
import interpolation_methods  # noqa: E402
import real_clips  # noqa: E402
from interpolation_methods import METHODS, Job, method  # noqa: E402
from interpolation_scores import Judge, psnr, ssim  # noqa: E402


def pan_clip(count: int = 12, size: int = 48, step: int = 2, seed: int = 0) -> torch.Tensor:
    """(count, 3, size, size) frames of a smooth random picture panned by `step` px per frame."""
    g = torch.Generator().manual_seed(seed)
    wide = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 10, generator=g), size=(size, size + count * step),
                                           mode="bicubic", align_corners=False).clamp(0, 1)
    return torch.cat([wide[..., k * step:k * step + size] for k in range(count)])


def test_triplet_rule_skips_cuts_repeats_and_still_frames():
    frames = pan_clip(12)
    frames[6] = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(5))  # a cut into frame 6 and out
    frames[11] = frames[10]                                                        # a repeated frame
    starts = real_clips.candidates(frames, 2)
    assert starts == [0, 1, 2, 3, 7, 8]  # 4, 5, 6 span the cut frame 6; 9 spans the repeat 10 -> 11
    still = frames[:1].expand(6, -1, -1, -1).clone()
    still[1::2] += 0.001  # changes too small to be motion, large enough not to be repeats
    assert real_clips.candidates(still, 2) == []
    with pytest.raises(ValueError, match="even"):
        real_clips.candidates(frames, 3)


def test_spread_takes_evenly_spaced_ranks():
    assert real_clips.spread([3, 5, 8, 13, 21], 3) == [3, 8, 21]
    assert real_clips.spread([3, 5, 8], 1) == [5]
    assert real_clips.spread([3, 5], 4) == [3, 5]
    assert real_clips.select_starts(pan_clip(12), 2, 2) == [0, 9]


def test_measures_of_identical_and_known_images():
    x = pan_clip(1, 32)
    judge = Judge(samples=4)
    same = judge.scores(x, x)
    assert same["PSNR"] == math.inf and same["SSIM"] == pytest.approx(1.0)
    assert same["LPIPS v0.1"] == pytest.approx(0, abs=1e-6) and same["LPIPS-VGG"] == pytest.approx(0, abs=1e-6)
    assert same["E-LPIPS"] == pytest.approx(0, abs=1e-6)
    assert psnr(torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 0.1)) == pytest.approx(20.0)
    y = x.flip(-1)
    assert ssim(y, x) < 0.9
    other = judge.scores(y, x)
    assert other["LPIPS v0.1"] > 0.01 and other["E-LPIPS"] > 0
    assert judge.scores(y, x)["E-LPIPS"] == other["E-LPIPS"]  # the same draws each time


def test_ssim_of_flat_images_is_the_luminance_term():
    a, b = torch.full((1, 3, 16, 16), 0.2), torch.full((1, 3, 16, 16), 0.6)
    c1 = 0.01**2  # flat images: no variance, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1)
    assert ssim(a, b) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1))
    with pytest.raises(ValueError, match="11x11"):
        ssim(a[..., :8, :8], b[..., :8, :8])


def test_method_registry_names_and_refuses_duplicates():
    assert {"repeat", "dissolve", "DIS midpoint", "warp", "default geodesic"} <= set(METHODS)
    assert METHODS["default geodesic"].expensive and not METHODS["warp"].expensive
    a, b = pan_clip(2, 32)[:1], pan_clip(2, 32)[1:]
    assert torch.equal(METHODS["dissolve"].run(Job(a, b)), (a + b) / 2)
    with pytest.raises(ValueError, match="twice"):
        method("dissolve")(lambda job: job.a)


@pytest.mark.slow
def test_tiny_run_on_generated_frames(monkeypatch, tmp_path):
    @method("test oracle")
    def oracle(job: Job) -> torch.Tensor:
        """the truth (what this test's pan puts half way)"""
        return pan_clip(5, 48, step=2)[2:3]

    try:
        frames = pan_clip(5, 48, step=2)
        triplets = [real_clips.Triplet("pan", 0, 4, frames[[0, 2, 4]], True),
                    real_clips.Triplet("pan2", 0, 4, frames[[0, 2, 4]].flip(-1), False)]
        monkeypatch.setattr(bench_interpolation, "clip_triplets", lambda names, size, gap, count: triplets)
        runs = bench_interpolation.main(["--methods", "dissolve", "warp", "test oracle", "DIS midpoint",
                                         "--samples", "4", "--gap", "4", "--out", str(tmp_path / "tiny")])
        (run,) = runs
        assert list(run.outcomes["pan:0+4"]) == ["DIS midpoint", "dissolve", "warp", "test oracle"]
        assert run.outcomes["pan:0+4"]["test oracle"].scores["PSNR"] == math.inf
        assert run.outcomes["pan:0+4"]["warp"].scores["PSNR"] > run.outcomes["pan:0+4"]["dissolve"].scores["PSNR"]
        report = (tmp_path / "tiny.md").read_text()
        assert "| test oracle | 2 |" in report and "wins vs DIS" in report
        assert (tmp_path / "tiny_64px_gap4.png").exists()  # the picture of the triplet that allows one
    finally:
        del interpolation_methods.METHODS["test oracle"]


def test_flow_starts_engine_search_from_a_given_start_and_the_grid_restored():
    import bench_flow_starts

    import geometry.paths.flows as flows

    frames = pan_clip(3, size=32, step=2)
    a, b = frames[0:1], frames[2:3]
    true = torch.tensor([-4.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 32, 32)
    found = bench_flow_starts.engine_from(a, b, true.clone())
    # content moves 4 px left: started from that pan, the search keeps it (the median: content enters at a border)
    assert found.shape == (1, 2, 32, 32)
    assert abs(found[0, 0].median().item() + 4.0) < 0.5 and found[0, 1].abs().median().item() < 0.5
    kept = flows.GRID_SPACING
    with pytest.raises(RuntimeError):
        with bench_flow_starts.grid_spacing(3):
            assert flows.GRID_SPACING == 3
            raise RuntimeError("stop")
    assert flows.GRID_SPACING == kept


def test_scores_of_many_frames_equal_one_at_a_time():
    """The truth's part computed once (and a repeated frame scored once) gives each frame's own scores."""
    clip = pan_clip(5, 40)
    truth, frames = clip[2:3], [clip[0:1], clip[4:5], clip[0:1], (clip[1:2] + clip[3:4]) / 2]
    judge = Judge(samples=8)
    many = judge.scores_many(frames, truth)
    for frame, scores in zip(frames, many):
        one = judge.scores(frame, truth)
        assert scores.keys() == one.keys()
        for measure in one:
            assert scores[measure] == pytest.approx(one[measure], rel=1e-5, abs=1e-9), measure
    assert many[0] == many[2]


def test_judge_takes_only_the_measures_asked_for():
    clip = pan_clip(3, 32)
    judge = Judge(samples=2, measures=("SSIM", "PSNR"))
    assert list(judge.scores_many([clip[0:1]], clip[1:2])[0]) == ["PSNR", "SSIM"]
    with pytest.raises(ValueError, match="unknown measure"):
        Judge(measures=("PSNR", "VMAF"))


def test_flow_starts_working_size_flows_and_their_finer_levels(monkeypatch):
    import bench_flow_starts

    monkeypatch.setattr(bench_flow_starts, "WORKING_SIDE", 16)
    clip = pan_clip(3, 32)
    a, b = clip[0:1], clip[2:3]
    assert bench_flow_starts.at_working_size(a, b).shape == (1, 2, 16, 16)
    finer = bench_flow_starts.working_then_finer(a, b)
    assert finer.shape == (1, 2, 32, 32)
    assert finer[:, 0].mean().item() == pytest.approx(-4.0, abs=1.0)  # the pan: 2 px a frame to the left, 2 frames
    assert bench_flow_starts.FLOWS["grid 2 px"](a, b).shape == (1, 2, 32, 32)
    assert bench_flow_starts.flows.GRID_SPACING == 4  # restored
