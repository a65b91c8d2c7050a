"""Can a spectral measure judge a photographed turn or zoom at all? For each turn and zoom of
benchmarks/texture_photos.py: how far the photo's spectrum at the middle parameter lies from the endpoints' mean
spectrum, against how far two pools of crops at the SAME parameter lie apart (each spectrum the mean of
`texture_photos.POOLED_VIEWS` crops from random places; two seeds), and the pooled spectral ghost's band share
(`geometry.paths.quality.spectral_ghost` with stacks; it applies from `MIN_BAND_SHARE`).

Also a probe of a one-line measure that needs no bands, the spectral position: where a middle frame's smoothed,
normalised spectrum lies on the line from the truth's pooled spectrum (0) to the endpoints' mean (1, what a
dissolve of unrelated textures holds), for the truth cut from the benchmark's third place and from a fourth
(ELSEWHERE), the dissolve, and the `texture` start under the TRUE turn and zoom (a blend of both endpoints when
texture_spectral_separation.txt was made; one endpoint turned and zoomed since 2026-12-06). Deterministic; no network.

    python benchmarks/texture_spectral_separation.py --sizes 64 128
"""
from __future__ import annotations

import argparse
import time

import torch
from texture_photos import photo, photo_scenes, pooled_views

from geometry.paths.motion import BoundPath, TexturePath
from geometry.paths.quality import mean_power_spectrum, spectral_ghost
from geometry.paths.textures import Similarity

SMOOTH = 1.5   # frequency bins, as spectral_ghost's bands
OTHER_SEED = 7


def position(image: torch.Tensor, middle: torch.Tensor, ends: torch.Tensor) -> float:
    """0 at the truth's pooled spectrum, 1 at the endpoints' mean, along the line between them."""
    step = ends - middle
    return float(((mean_power_spectrum(image.double(), SMOOTH) - middle) * step).sum() / step.square().sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128])
    args = parser.parse_args()
    started = time.process_time()
    print("separation: |ends' mean - truth's| over |truth's - truth's from other places| (pooled spectra); "
          "band share: the pooled ghost's; position: 0 the truth's pooled spectrum, 1 the endpoints' mean")
    for size in args.sizes:
        for scene in [s for s in photo_scenes(size) if s.spectral]:
            a, b = scene.render(0.0), scene.render(1.0)
            ends_views = scene.pooled(0.0, 1.0), scene.pooled(scene.angle, scene.scale)
            middle_views = scene.pooled(*scene.middle_parameters[0])
            other_views = pooled_views(photo(scene.name.split()[0]), size, *scene.middle_parameters[0],
                                       seed=OTHER_SEED)
            ends = sum(mean_power_spectrum(v, SMOOTH) for v in ends_views) / 2
            middle, other = mean_power_spectrum(middle_views, SMOOTH), mean_power_spectrum(other_views, SMOOTH)
            separation = float((ends - middle).norm() / (other - middle).norm())
            share = spectral_ghost(a, middle_views, *ends_views).band_share
            tile = BoundPath(TexturePath(Similarity(scene.angle, scene.scale)), a, b)(
                torch.tensor([0.5], dtype=torch.float64)).float()
            shown = {"truth": scene.middles()[0], "elsewhere": scene.elsewhere(), "dissolve": (a + b) / 2,
                     "tile (true)": tile}
            print(f"{size:4d} px {scene.name:18s} separation {separation:5.1f} band share {share:5.3f} | position "
                  + " ".join(f"{k} {position(v, middle, ends):6.2f}" for k, v in shown.items()), flush=True)
    print(f"CPU {time.process_time() - started:.1f} s")


if __name__ == "__main__":
    main()
