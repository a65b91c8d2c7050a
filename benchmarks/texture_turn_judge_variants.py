"""The turn judge of `detect_similarity` on random crop pairs (issue 27): `turn_distance` (every candidate turn
cropped and resampled alike) with its margin TURN_MARGIN, against `matched_distance` (whose no-turn candidate is
the whole unresampled crop). For pairs of crops of one photo from two random places
(benchmarks/texture_photos.py `pooled_views`): on pairs with a true turn, how often the true turn is taken over
no turn; on pairs with no turn, how often a wrong turn (30, 60, 90 degrees) would be taken over none.

    python benchmarks/texture_turn_judge_variants.py --sizes 64 128 --pairs 16
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from texture_photos import PHOTOS, TURNS, photo, pooled_views
from texture_turn_observability import SEEDS, verified

from geometry.paths.detection import TURN_MARGIN, matched_distance, turn_distance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128])
    parser.add_argument("--pairs", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    began = time.process_time()
    print("true turn taken: of the pairs with that turn, those where the judge takes the true turn over no turn; "
          "wrong turn taken: of pairs with no turn, those where it takes the turn (30, 60, 90 deg) over none")
    for size in args.sizes:
        for name in PHOTOS:
            source = photo(name)
            firsts, unturned = ([x[None] for x in verified(pooled_views(source, size, 0.0, 1.0, count=args.pairs,
                                                                       seed=seed))] for seed in (SEEDS[0], SEEDS[2]))
            judges = {"matched_distance": matched_distance, "turn_distance": turn_distance}
            at_none = {label: [judge(a, b, 0.0, 1.0) for a, b in zip(firsts, unturned)]
                       for label, judge in judges.items()}
            for degrees in TURNS:
                angle = math.radians(degrees)
                seconds = [x[None] for x in verified(pooled_views(source, size, angle, 1.0, count=args.pairs,
                                                                  seed=SEEDS[1]))]
                cells = []
                for label, judge in judges.items():
                    turned = [(judge(a, b, angle, 1.0), judge(a, b, 0.0, 1.0)) for a, b in zip(firsts, seconds)]
                    wrong = [judge(a, b, angle, 1.0) for a, b in zip(firsts, unturned)]
                    for margin in (1.0, TURN_MARGIN) if label == "turn_distance" else (1.0,):
                        hits = sum(t < margin * n for t, n in turned)
                        false = sum(w < margin * n for w, n in zip(wrong, at_none[label]))
                        cells.append(f"{label}{f' x{margin}' if margin != 1.0 else ''} {hits:2d}/{args.pairs} "
                                     f"true, {false:2d}/{args.pairs} wrong")
                print(f"{size:4d} px {name:7s} turn {degrees:3.0f}: " + " | ".join(cells), flush=True)
    print(f"CPU {time.process_time() - began:.1f} s")


if __name__ == "__main__":
    main()
