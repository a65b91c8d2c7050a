"""Which start does motion="auto" take, and why: the texture test and the share of the endpoints' difference the
engine's flow leaves, on moving, texture and unrelated pairs.

    python benchmarks/bench_motion_choice.py              # 64 and 128 px
    python benchmarks/bench_motion_choice.py --sizes 64

Pairs: the motion benchmark's scenes (benchmarks/motion_scenes.py: pans, zooms, a sliding object), the texture
benchmark's (benchmarks/texture_scenes.py: turns, scalings, blobs, stripes to blobs), and unrelated pictures (the
reference cat and dog beside the checkout, the project's two example textures). Per pair: whether
`geometry.paths.textures.is_texture_morph` holds, the mismatch left by `geometry.paths.flows.engine_flow` as a share of
the
mismatch without a flow (`geometry.paths.flows.mismatch`), and the start "auto" takes
(`geometry.paths.motion.auto_start`:
texture, else warp where at most 1 - EXPLAINED is left, else the dissolve).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import motion_scenes  # noqa: E402
import texture_scenes  # noqa: E402

import elpips  # noqa: E402
from geometry.engine.inputs import resize  # noqa: E402
from geometry.paths.flows import engine_flow, mismatch  # noqa: E402
from geometry.paths.motion import EXPLAINED  # noqa: E402
from geometry.paths.textures import is_texture_morph  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"


def unrelated_pairs(size: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    pairs = []
    photos = [motion_scenes.REFERENCE_IMAGES / f"{name}.png" for name in ("cat", "dog")]
    if all(path.is_file() for path in photos):
        pairs.append(("cat -> dog", *(resize(elpips.load_image(path), (size, size)) for path in photos)))
    textures = [EXAMPLES / f"{name}.png" for name in ("texture_blobs", "texture_stripes")]
    pairs.append(("example blobs -> stripes", *(resize(elpips.load_image(path), (size, size)) for path in textures)))
    return pairs


def choice(a: torch.Tensor, b: torch.Tensor) -> tuple[bool, float, str]:
    if is_texture_morph(a, b):
        return True, float("nan"), "texture"
    flow = engine_flow(a, b)
    left = (mismatch(a, b, flow) / mismatch(a, b, torch.zeros_like(flow))).item()
    return False, left, "warp" if left <= 1 - EXPLAINED else "dissolve"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{'size':>4}  {'group':8}  {'pair':28}  texture  flow leaves  auto takes")
    for size in args.sizes:
        groups = [("motion", [(s.name, s.render(0.0), s.render(1.0)) for s in motion_scenes.benchmark_scenes(size)]),
                  ("texture", [(s.name, s.render(0.0), s.render(1.0)) for s in texture_scenes.benchmark_scenes(size)]),
                  ("unrelated", unrelated_pairs(size))]
        for group, pairs in groups:
            for name, a, b in pairs:
                texture, left, taken = choice(a, b)
                shown = "     -" if texture else f"{left:6.3f}"
                print(f"{size:>4}  {group:8}  {name:28}  {str(texture):7}  {shown:>11}  {taken}", flush=True)


if __name__ == "__main__":
    main()
