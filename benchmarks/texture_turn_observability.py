"""Can ANY judge of deep statistics see a turn of grass or gravel between two crops? For pairs of crops of one
photo from two random places (benchmarks/texture_photos.py `pooled_views`), b turned by the true angle, the
judge `detect_similarity` decides with (`geometry.paths.detection.matched_distance`) is asked about the TRUE
turn only: does it explain the pair better than no turn? A detector that searches for the turn can do no better
than this share, and 50 % is chance. The pairs' statistics distance with and without the turn is compared with
the distance between two unturned crops from two places (the place-to-place noise).

    python benchmarks/texture_turn_observability.py --sizes 64 128 --pairs 16
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from texture_photos import PHOTOS, TURNS, photo, pooled_views

from geometry.paths.detection import VERIFY_SIDE, _shrink, _turned_crop, matched_distance
from geometry.paths.features import channel_statistics, statistics_distance

SEEDS = (101, 202, 303)   # places of a, of b, of a second unturned crop


def verified(views: torch.Tensor) -> torch.Tensor:
    """The views at the size the detection judges at (VERIFY_SIDE px), as `detect_similarity` shrinks them."""
    side = min(views.shape[-2:])
    return views if side <= VERIFY_SIDE else _shrink(views, side / VERIFY_SIDE)


def equally_resampled(a: torch.Tensor, b: torch.Tensor, angle: float) -> tuple[float, float]:
    """(at no turn, at the turn): statistics distances of a turned by angle / 2 against b turned by angle / 2
    (relative turn 0) and by -angle / 2 (relative turn `angle`): both candidates crop and resample alike, unlike
    `matched_distance`, whose no-turn candidate is the whole unresampled crop."""
    with torch.no_grad():
        first = channel_statistics(_turned_crop(a, angle / 2, 1.0))
        return tuple(float(statistics_distance(first, channel_statistics(_turned_crop(b, turn, 1.0))))
                     for turn in (angle / 2, -angle / 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128])
    parser.add_argument("--pairs", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    began = time.process_time()
    print("share: of the pairs (a, b = a's texture turned, from another place), those where the true turn explains b "
          "better than no turn (matched_distance at the turn < at 0; and with both candidates cropped and resampled "
          "alike, `equally_resampled`); chance 50 %. Distances: mean matched_distance "
          "at no turn, at the true turn, and between two unturned crops from two places (noise).")
    for size in args.sizes:
        for name in PHOTOS:
            source = photo(name)
            firsts = verified(pooled_views(source, size, 0.0, 1.0, count=args.pairs, seed=SEEDS[0]))
            unturned = verified(pooled_views(source, size, 0.0, 1.0, count=args.pairs, seed=SEEDS[2]))
            noise = sum(matched_distance(x[None], y[None], 0.0, 1.0) for x, y in zip(firsts, unturned)) / args.pairs
            for degrees in TURNS:
                angle = math.radians(degrees)
                seconds = verified(pooled_views(source, size, angle, 1.0, count=args.pairs, seed=SEEDS[1]))
                at_none = [matched_distance(x[None], y[None], 0.0, 1.0) for x, y in zip(firsts, seconds)]
                at_turn = [matched_distance(x[None], y[None], angle, 1.0) for x, y in zip(firsts, seconds)]
                share = sum(t < n for t, n in zip(at_turn, at_none)) / args.pairs
                fair = [equally_resampled(x[None], y[None], angle) for x, y in zip(firsts, seconds)]
                fair_share = sum(t < n for n, t in fair) / args.pairs
                print(f"{size:4d} px {name:7s} turn {degrees:3.0f}: true turn explains better in {share:4.0%} of "
                      f"{args.pairs} pairs ({fair_share:4.0%} resampled alike) | distance at no turn "
                      f"{sum(at_none) / args.pairs:.3f}, at the turn {sum(at_turn) / args.pairs:.3f}, unturned place "
                      f"to place {noise:.3f}", flush=True)
    print(f"CPU {time.process_time() - began:.1f} s")


if __name__ == "__main__":
    main()
