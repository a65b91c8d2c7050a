"""The motion path: warps, the engine's own flow, DIS, the motion start of geodesics and averages, and its resume."""
from __future__ import annotations

import sys

import pytest
import torch
from events import CancelAfter
from synthetic import orientation_morph

from geometry import RunOptions, barycenter, geodesic, pairwise_average
from geometry.paths import flows
from geometry.paths.flows import dis_flow, engine_flow, level_steps, pyramid_sizes
from geometry.paths.motion import MOTION_NAMES, MOTION_STARTS
from geometry.paths.quality import ghost_fraction
from geometry.paths.render import WarpPath
from geometry.paths.spacing import DRAWS, ROUNDS
from geometry.paths.warps import warp
from geometry.tools import geodesic as geodesic_tool
from geometry.tools.support import run_options

SIDE, SHIFT = 40, 8


@pytest.fixture(scope="module")
def pan(small_images):
    """A 40 px window of the cat panned right by 8 px: (a, b, true middle frame)."""
    cat = small_images[0]
    window = lambda left: cat[..., 8:8 + SIDE, left:left + SIDE].contiguous()  # noqa: E731
    return window(4), window(4 + SHIFT), window(4 + SHIFT // 2)



def test_zero_flow_is_the_identity_and_an_integer_flow_a_shift():
    image = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(0))
    same, inside = warp(image, torch.zeros(1, 2, 12, 16))
    assert torch.allclose(same, image, atol=1e-5) and bool(inside.all())
    flow = torch.zeros(1, 2, 12, 16)
    flow[:, 0], flow[:, 1] = 3, -2          # sample 3 px to the right, 2 px up
    moved, inside = warp(image, flow)
    assert torch.allclose(moved[..., 2:, :13], image[..., :10, 3:], atol=1e-5)
    assert not bool(inside[..., :2, :].any()) and not bool(inside[..., :, 13:].any())


def test_the_warp_path_ends_at_the_endpoints_and_a_constant_pan_is_its_truth(pan):
    a, b, truth = pan
    flow = torch.zeros(1, 2, SIDE, SIDE)
    flow[:, 0] = -SHIFT                     # the content moves left as the window moves right
    frames = WarpPath(flow).frames(a, b, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert torch.equal(frames[0:1], a) and torch.equal(frames[2:3], b)
    assert (frames[1:2] - truth).abs().max() < 1e-4


def test_the_engine_flow_finds_the_pan_and_its_middle_frame_moves(pan):
    a, b, truth = pan
    flow = engine_flow(a, b)
    assert abs(flow[0, 0].median().item() + SHIFT) < 0.25 and abs(flow[0, 1].median().item()) < 0.25
    middle = WarpPath(flow).frames(a, b, torch.tensor([0.5], dtype=torch.float64))
    assert ghost_fraction(middle, truth, (a + b) / 2).fraction < 0.2
    assert torch.equal(engine_flow(a, b), flow)  # deterministic


def _still_bars_over_a_pan(shift: int, bar: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """64x96 frames (a, b, true middle): a smooth random texture panned down by `shift` px, behind still bars
    of another texture `bar` px wide at the left and right (a vehicle passing between still walls)."""
    height, width = 64, 96

    def texture(rows: int, seed: int) -> torch.Tensor:
        cells = torch.rand(1, 3, rows // 4 + 1, width // 4 + 1, generator=torch.Generator().manual_seed(seed))
        return torch.nn.functional.interpolate(cells, size=(rows, width), mode="bicubic", align_corners=True)

    moving, still = texture(height + shift, 1).clamp(0, 1), texture(height, 2).clamp(0, 1)

    def frame(offset: int) -> torch.Tensor:
        image = moving[..., offset:offset + height, :].clone()
        image[..., :bar], image[..., width - bar:] = still[..., :bar], still[..., width - bar:]
        return image

    return frame(0), frame(shift), frame(shift // 2)


def test_the_engine_flow_keeps_still_bars_still_in_front_of_a_pan(monkeypatch):
    shift, bar = 16, 20
    a, b, truth = _still_bars_over_a_pan(shift, bar)
    half = torch.tensor([0.5], dtype=torch.float64)

    def bar_error(flow: torch.Tensor) -> float:
        middle = WarpPath(flow).frames(a, b, half)
        return torch.cat([(middle - truth)[..., :bar], (middle - truth)[..., -bar:]], -1).abs().mean().item()

    flow = engine_flow(a, b)
    assert abs(flow[0, 1, :, bar + 4:-bar - 4].median().item() + shift) < 0.25     # the pan is found
    assert flow[0, :, :, :bar].abs().median().item() < 0.5                          # the bars stay still
    assert flow[0, :, :, -bar:].abs().median().item() < 0.5
    monkeypatch.setattr(flows, "fuse", lambda a, b, flow, candidates: flow)        # the search without fusion
    plain = engine_flow(a, b)
    assert plain[0, 1, :, :bar].abs().median().item() > 4                           # drags the bars with the pan
    assert bar_error(flow) < 0.5 * bar_error(plain)


def test_dis_flow_finds_a_small_pan(small_images):
    pytest.importorskip("cv2")
    cat = small_images[0]
    a, b = cat[..., 8:8 + SIDE, 4:4 + SIDE], cat[..., 8:8 + SIDE, 6:6 + SIDE]   # 2 px (DIS misses 8 px here)
    assert abs(dis_flow(a, b)[0, 0, 8:-8, 8:-8].median().item() + 2) < 0.5


def test_dis_without_opencv_names_the_extra(pan, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ImportError, match=r"pip install 'elpips-torch\[motion\]'"):
        dis_flow(*pan[:2])


def test_motion_option_is_validated_serialised_and_a_cli_option():
    assert set(MOTION_STARTS) | {"none"} == set(MOTION_NAMES)
    with pytest.raises(ValueError, match=r"motion = 'sideways': use one of none, auto, warp, dis, texture, change"):
        RunOptions(motion="sideways")
    options = RunOptions(motion="dis")
    assert RunOptions.from_dict(options.to_dict()) == options and "motion" in options.result_settings()
    assert RunOptions().motion == "auto"
    args = geodesic_tool.build_parser().parse_args(["a.png", "b.png", "--out", "x", "--motion", "none"])
    assert run_options(args).motion == "none"
    with pytest.raises(SystemExit):
        geodesic_tool.build_parser().parse_args(["a.png", "b.png", "--out", "x", "--motion", "sideways"])


def test_an_average_of_a_pan_moves_with_the_warp_start_and_ghosts_without(pan):
    a, b, truth = pan
    fits = {motion: ghost_fraction(pairwise_average(a, b, motion=motion, steps=3, distance="l2", seed=0,
                                                    snapshot_steps=[]).images, truth, (a + b) / 2).fraction
            for motion in ("warp", "none")}
    assert fits["warp"] < 0.3 and fits["none"] > 0.9


def test_barycenters_of_three_images_and_given_starts_take_no_motion_start(pan):
    a, b, truth = pan
    three = barycenter([a, b, truth], steps=1, distance="l2", snapshot_steps=[])
    assert three.record.settings["motion"] == "none"
    given = geodesic(a, b, frames=3, start_images=truth, steps=1, distance="l2", snapshot_steps=[])
    assert given.record.settings["motion"] == "none" and "start_sha256" in given.record.settings


@pytest.mark.slow
def test_a_geodesic_of_a_pan_moves_where_the_pixel_path_ghosts(pan):
    a, b, truth = pan
    dissolve = (a + b) / 2
    fits = {motion: ghost_fraction(geodesic(a, b, frames=5, motion=motion, steps=4, draws_per_step=1, seed=0,
                                            snapshot_steps=[]).images[2:3], truth, dissolve)
            for motion in ("warp", "none")}
    assert fits["warp"].fraction < 0.5 and fits["warp"].r2 > 0.5
    assert fits["none"].fraction > 0.85


def _run(pan, checkpoint=None, cancel=None, refine="pixels"):
    a, b, _ = pan
    return geodesic(a, b, frames=4, steps=6, distance="l2", seed=3, snapshot_steps=[], checkpoint=checkpoint,
                    checkpoint_every=2, cancel=cancel, refine=refine)


#: Cancel checks of the engine flow: one per step of each level of its pyramid; of the even spacing that follows
#: a refined start: one per draw of its grid and of each correction round; then one per optimiser step.
FLOW_LEVELS = [level_steps(size) for size in pyramid_sizes((SIDE, SIDE))]
FLOW_CHECKS = sum(FLOW_LEVELS)
SPACING_CHECKS = DRAWS * (1 + ROUNDS)
#: A cancel in the flow's second level (its first level saved), one in the spacing's first correction round, and
#: one after the third optimiser step.
CANCEL_AT = {"flow": FLOW_LEVELS[0] + FLOW_LEVELS[1] // 4, "spacing": FLOW_CHECKS + DRAWS + 2,
             "refinement": FLOW_CHECKS + SPACING_CHECKS + 3}


@pytest.mark.parametrize("stage, refine", [("flow", "pixels"), ("spacing", "pixels"), ("refinement", "pixels"),
                                           ("flow", "none")])
def test_a_run_interrupted_in_each_stage_resumes_bit_for_bit(pan, tmp_path, stage, refine):
    whole = _run(pan, refine=refine)
    checkpoint = tmp_path / "run.pt"
    cancel = CancelAfter(CANCEL_AT[stage])
    stopped = _run(pan, checkpoint, cancel, refine)
    assert stopped.record.status == "cancelled"
    flow_file = tmp_path / "run.pt.flow.pt"
    if stage == "flow":
        assert stopped.record.steps == 0 and flow_file.exists() and not checkpoint.exists()
        assert torch.load(flow_file, weights_only=True)["level"] == 0
    elif stage == "spacing":  # stopped at its next draw: the flow kept whole, no step taken
        assert cancel.calls == -1 and stopped.record.steps == 0 and not checkpoint.exists()
        assert torch.load(flow_file, weights_only=True)["level"] == len(pyramid_sizes((SIDE, SIDE))) - 1
    else:
        assert stopped.record.steps == 3 and checkpoint.exists()
    resumed = _run(pan, checkpoint, refine=refine)
    assert resumed.record.status == "completed" and torch.equal(resumed.images, whole.images)
    assert not flow_file.exists()  # a finished run leaves no flow file behind


def test_a_flow_file_of_another_run_is_refused(pan, tmp_path):
    checkpoint = tmp_path / "run.pt"
    _run(pan, checkpoint, CancelAfter(CANCEL_AT["flow"]))
    a, b, _ = pan
    with pytest.raises(ValueError, match="flow file .* belongs to a different run"):
        geodesic(b, a, frames=4, steps=6, distance="l2", seed=3, snapshot_steps=[], checkpoint=checkpoint)
    assert (tmp_path / "run.pt.flow.pt").exists()  # the other run's file is left as it was


def test_a_run_that_fails_leaves_no_flow_file(pan, tmp_path):
    a, b, _ = pan
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(ValueError, match="smaller than .* works at"):
        geodesic(a[..., :4, :4], b[..., :4, :4], frames=4, steps=2, seed=3, snapshot_steps=[], checkpoint=checkpoint,
                 refine="pixels")
    assert not (tmp_path / "run.pt.flow.pt").exists() and not checkpoint.exists()


def test_auto_turns_a_turned_texture_and_warps_a_pan(pan):
    from geometry.paths.quality import spectral_ghost

    a, b, truth = orientation_morph(48)
    chosen = {motion: pairwise_average(a, b, motion=motion, steps=1, distance="l2", seed=0, snapshot_steps=[])
              for motion in ("auto", "texture", "none")}
    assert torch.equal(chosen["auto"].images, chosen["texture"].images)
    ghost = {motion: spectral_ghost(result.images, truth, a, b).fraction for motion, result in chosen.items()}
    assert ghost["auto"] < 0.3 < 0.9 < ghost["none"]
    a, b, truth = pan
    auto, warp = (pairwise_average(a, b, motion=motion, steps=1, distance="l2", seed=0, snapshot_steps=[])
                  for motion in ("auto", "warp"))
    assert torch.equal(auto.images, warp.images)


def test_auto_warps_one_picture_under_noise_and_a_light_change(small_images):
    """Two frames of one shot that barely move differ by noise and light the flow cannot remove: a high share left,
    a small mismatch left; auto takes the warp (no refinement) instead of refining the dissolve."""
    from geometry.paths.motion import ALIGNED, EXPLAINED, FlowVerdict, auto_start, flow_verdict

    a = small_images[0][..., 8:48, 4:44]
    noise = 0.01 * torch.randn(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    b = (a * 0.97 + 0.02 + noise).clamp(0, 1)
    flow = engine_flow(a, b)
    verdict = flow_verdict(a, b, flow)
    assert verdict.share_left > 1 - EXPLAINED and verdict.mismatch_left <= ALIGNED and verdict.aligned
    assert verdict.why == "the engine's flow aligns the pair (a small motion under noise or light)"
    decision = {}
    auto_start(a, b, decision=decision)
    assert decision["taken"] == "warp" and decision["mismatch_after_flow"] <= decision["aligned_if_at_most"]
    # auto decides by the one statement of the rule, and its record's figures give that rule's verdict back
    assert decision["why"] == verdict.why and decision.items() >= verdict.figures.items()
    assert FlowVerdict(decision["mismatch_left_by_flow"], decision["mismatch_after_flow"]).why == verdict.why


def test_the_warp_rule_takes_the_share_left_first_then_the_mismatch_left():
    """One rule: the warp where the flow leaves at most 1 - EXPLAINED of the mismatch (the texture checks still run
    where it leaves more than ALIGNED), or a mismatch of at most ALIGNED; the dissolve or the texture checks
    decide elsewhere."""
    from geometry.paths.motion import ALIGNED, EXPLAINED, FlowVerdict

    explained = FlowVerdict(1 - EXPLAINED, 2 * ALIGNED)
    assert explained.why == "the engine's flow explains the pair" and not explained.aligned
    assert FlowVerdict(1 - EXPLAINED, ALIGNED).why == explained.why and FlowVerdict(1 - EXPLAINED, ALIGNED).aligned
    assert FlowVerdict(0.9, ALIGNED).why.startswith("the engine's flow aligns the pair")
    unexplained = FlowVerdict(0.9, 2 * ALIGNED)
    assert unexplained.why is None and not unexplained.aligned
    assert unexplained.figures == {"mismatch_left_by_flow": 0.9, "warp_if_at_most": 1 - EXPLAINED,
                                   "mismatch_after_flow": 2 * ALIGNED, "aligned_if_at_most": ALIGNED,
                                   "texture_checks_if_above": ALIGNED}


def test_auto_runs_no_texture_check_where_the_flow_explains_the_pair(pan, monkeypatch):
    """The flow comes first: a pan, which it aligns, is taken as the warp without the texture checks (VGG
    statistics, most of the choice's CPU), and the record says why and that they were not run; a turned texture,
    which no flow aligns, still gets them (its stationarity and detection are in the record)."""
    from geometry.paths import motion

    calls = []
    checked = motion.stationarity
    monkeypatch.setattr(motion, "stationarity", lambda image: calls.append(1) or checked(image))
    from geometry.engine import phases

    a, b, _ = pan
    decision, reported = {}, []
    with phases.listening(lambda phase: reported.append(phase.name)):
        motion.auto_start(a, b, decision=decision)
    assert calls == [] and decision["taken"] == "warp" and decision["why"] == "the engine's flow explains the pair"
    assert decision["texture_checks"] == "not run: the flow aligns the pair" and "stationarity" not in decision
    assert decision["mismatch_after_flow"] <= decision["texture_checks_if_above"]
    assert set(reported) == {"flow search"}  # the app's forecast: no "texture checks" phase on this branch
    a, b, _ = orientation_morph(48)
    turned, reported = {}, []
    with phases.listening(lambda phase: reported.append(phase.name)):
        motion.auto_start(a, b, decision=turned)
    assert list(dict.fromkeys(reported)) == ["flow search", "texture checks"]  # in the order the forecast lists
    assert calls and turned["taken"] == "texture" and "texture_checks" not in turned
    assert turned["mismatch_left_by_flow"] > turned["warp_if_at_most"] and turned["stationarity"] <= 0.5
    assert turned["mismatch_after_flow"] > turned["aligned_if_at_most"] and abs(turned["turn_degrees"]) >= 10


def test_auto_starts_unrelated_pictures_from_the_dissolve(small_images):
    from geometry.paths.flows import engine_flow
    from geometry.paths.motion import auto_start, flow_verdict

    cat, dog = small_images[0], small_images[1]
    flow = engine_flow(cat, dog)
    assert flow_verdict(cat, dog, flow).why is None
    times = torch.tensor([0.25, 0.5], dtype=torch.float64)
    decision = {}
    assert torch.allclose(auto_start(cat, dog, decision=decision)(times),
                          torch.cat([0.75 * cat + 0.25 * dog, (cat + dog) / 2]))
    assert decision["taken"] == "dissolve" and decision.items() >= flow_verdict(cat, dog, flow).figures.items()
