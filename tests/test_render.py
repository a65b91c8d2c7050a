"""The warp path as parameters rendered at the inputs' size, its visibility, and what the record says of the start."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from events import CancelAfter

from geometry import geodesic, pairwise_average
from geometry.engine.inputs import prepare_images
from geometry.paths.render import WarpPath
from geometry.service.geodesic_run import GeodesicRequest
from geometry.service.runs import run_geodesic

HALF = torch.tensor([0.5], dtype=torch.float64)


def _smooth(generator: torch.Generator, cells: int, side: int) -> torch.Tensor:
    noise = torch.rand(1, 3, cells, cells, generator=generator)
    return F.interpolate(noise, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)


def sliding_square(shift: int, side: int = 48) -> torch.Tensor:
    """A 16 px textured square at column 12 + shift over a smooth textured background, side x side px."""
    generator = torch.Generator().manual_seed(1)
    image = _smooth(generator, 6, side)
    image[..., 16:32, 12 + shift:28 + shift] = _smooth(generator, 3, 16) * 0.6 + 0.4
    return image



def test_visibility_takes_the_uncovered_side_where_the_fixed_blend_leaves_a_halo():
    pytest.importorskip("cv2")
    from geometry.paths.flows import dis_visibility

    shift = 8
    a, b, truth = sliding_square(0), sliding_square(shift), sliding_square(shift // 2)
    flow = torch.zeros(1, 2, 48, 48)
    flow[0, 0, 16:32, 12 + shift // 2:28 + shift // 2] = shift   # the square's motion where it is half way
    seen_a, seen_b = dis_visibility(a, b)
    assert seen_b[0, 0, 24, 12:19].max() < 0.5 < seen_b[0, 0, 24, 21:34].min()   # uncovered background: not in a
    assert seen_a[0, 0, 24, 29:36].max() < 0.5 < seen_a[0, 0, 24, 14:26].min()   # covered by the square in b
    trail = (slice(16, 32), slice(12, 12 + shift // 2))   # background the square uncovered by half way
    errors = {}
    for name, path in (("fixed", WarpPath(flow)), ("visibility", WarpPath(flow, seen_a, seen_b))):
        middle = path.frames(a, b, HALF)
        errors[name] = (middle - truth).abs().mean(1)[0][trail].mean().item()
    assert errors["fixed"] > 0.15 and errors["visibility"] < 0.3 * errors["fixed"]


def test_a_warp_path_renders_at_any_size_with_its_endpoints_exact():
    generator = torch.Generator().manual_seed(0)
    big_a, big_b = _smooth(generator, 8, 96), _smooth(generator, 8, 96)
    flow = torch.zeros(1, 2, 32, 32)
    flow[:, 0] = 2.0                      # 2 px at 32 px: 6 px at 96 px
    path = WarpPath(flow, torch.ones(1, 1, 32, 32), torch.ones(1, 1, 32, 32), torch.zeros(1, 3, 32, 32))
    frames = path.frames(big_a, big_b, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert frames.shape == (3, 3, 96, 96)
    assert torch.equal(frames[0:1], big_a) and torch.equal(frames[2:3], big_b)
    moved = WarpPath(torch.full((1, 2, 96, 96), 6.0) * torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))
    assert torch.allclose(frames[1:2], moved.frames(big_a, big_b, HALF), atol=1e-5)


def test_a_result_renders_at_the_inputs_size_and_the_record_names_the_start(small_images):
    cat = small_images[0]
    a, b = cat[..., 8:56, 4:52], cat[..., 8:56, 10:58]           # a 48 px window panned by 6 px
    result = geodesic(a, b, frames=4, size=24, distance="l2", seed=0, snapshot_steps=[])
    start = result.record.settings["start"]
    assert start["taken"] == "warp" and start["mismatch_left_by_flow"] <= start["warp_if_at_most"]
    assert result.record.settings["refine"] == "none" and result.record.steps == 0
    full = result.render(prepare_images([a, b]))
    assert full.shape == (4, 3, 48, 48) and torch.equal(full[0:1], a) and torch.equal(full[3:4], b)
    refined = geodesic(a, b, frames=4, size=24, distance="l2", seed=0, snapshot_steps=[], refine="pixels", steps=3)
    assert refined.record.settings["refine"] == "pixels" and refined.record.steps == 3
    change = refined.images[1:3] - refined.path(refined.times)
    rendered = refined.render(prepare_images([a, b]))
    base = refined.path.shape.frames(a, b, refined.times)
    assert torch.allclose(rendered[1:3], (base + F.interpolate(change, size=(48, 48), mode="bilinear")).clamp(0, 1),
                          atol=1e-6)
    unrelated = pairwise_average(small_images[0], small_images[1], size=32, distance="l2", steps=1, snapshot_steps=[])
    assert unrelated.record.settings["start"]["taken"] == "dissolve"
    assert unrelated.record.settings["refine"] == "pixels"


def _clip(folder, count: int = 3, side: int = 96, step: int = 6):
    folder.mkdir()
    generator = torch.Generator().manual_seed(2)
    scene = _smooth(generator, 10, side + step * count)
    import imageio.v3 as iio

    frames = []
    for k in range(count):
        frame = (scene[0, :, :side, k * step:k * step + side].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        iio.imwrite(folder / f"f{k}.png", frame)
        frames.append(frame)
    return frames


def test_a_clip_worked_at_32_px_is_written_at_its_own_96_px_with_its_frames_exact_and_resumes_bit_for_bit(tmp_path):
    import imageio.v3 as iio

    frames = _clip(tmp_path / "clip")
    request = GeodesicRequest(video=tmp_path / "clip", input_fps=10, insert=1, formats=(), cut_threshold=float("inf"))
    from geometry.options import RunOptions

    options = RunOptions(size=32, distance="l2", seed=0)
    whole = run_geodesic(request, options, tmp_path / "whole")
    written = sorted((tmp_path / "whole" / "frames").glob("*.png"))
    assert len(written) == 5 and all(iio.imread(p).shape == (96, 96, 3) for p in written)
    for k, frame in enumerate(frames):                       # the clip's own frames, exactly
        assert np.array_equal(iio.imread(written[2 * k])[..., :3], frame)
    assert whole.record_json["output_size"] == [96, 96] and whole.record_json["working_size"] == [32, 32]
    assert whole.record_json["settings"]["output_size"] == [96, 96]
    assert [pair["settings"]["start"]["taken"] for pair in whole.record_json["pairs"]] == ["warp", "warp"]
    stopped = run_geodesic(request, options, tmp_path / "resumed", cancel=CancelAfter(180))  # in the second pair's flow
    assert stopped.status == "cancelled"
    run_geodesic(request, options, tmp_path / "resumed", resume=True)
    for path in written:
        assert (tmp_path / "resumed" / "frames" / path.name).read_bytes() == path.read_bytes()
    pairs = [json.loads((tmp_path / name / "record.json").read_text())["pairs"] for name in ("whole", "resumed")]
    assert [{**pair, "seconds": 0} for pair in pairs[0]] == [{**pair, "seconds": 0} for pair in pairs[1]]


def test_a_clips_pairs_in_two_processes_write_the_same_files_and_its_forecast_is_said(tmp_path):
    _clip(tmp_path / "clip", count=4, side=48)
    request = GeodesicRequest(video=tmp_path / "clip", input_fps=10, insert=1, formats=(), cut_threshold=float("inf"))
    from geometry.options import RunOptions

    options, said = RunOptions(size=24, distance="l2", seed=0), []
    run_geodesic(request, options, tmp_path / "one", report=said.append)
    run_geodesic(request, options, tmp_path / "two", workers=2)
    names = sorted(p.name for p in (tmp_path / "one" / "frames").glob("*.png"))
    assert len(names) == 7
    for name in names:
        assert (tmp_path / "two" / "frames" / name).read_bytes() == (tmp_path / "one" / "frames" / name).read_bytes()
    pairs = [json.loads((tmp_path / name / "record.json").read_text())["pairs"] for name in ("one", "two")]
    assert [{**pair, "seconds": 0} for pair in pairs[0]] == [{**pair, "seconds": 0} for pair in pairs[1]]
    forecast = [line for line in said if line.startswith("expected about")]
    assert forecast and "3 pairs with refine none" in forecast[0] and "--refine pixels" in forecast[0]


def test_the_default_leaves_an_exact_pans_warp_path_where_it_is(small_images):
    cat = small_images[0]
    a, b, truth = cat[..., 8:48, 4:44], cat[..., 8:48, 12:52], cat[..., 8:48, 8:48]   # an 8 px pan, its middle
    flow = torch.zeros(1, 2, 40, 40)
    flow[:, 0] = -8.0                        # the content moves left as the window moves right
    exact = WarpPath(flow).frames(a, b, HALF)
    assert (exact - truth).abs().max() < 1e-4
    default = geodesic(a, b, frames=3, motion="warp", seed=0, snapshot_steps=[])
    assert default.record.settings["refine"] == "none"
    assert torch.equal(default.images[1:2], default.path(default.times))   # not moved from its start
    assert (default.images[1:2] - truth).abs().mean() <= (exact - truth).abs().mean() + 2e-3
