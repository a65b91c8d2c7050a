"""The reference pairs the Distance tab places a distance against (issue 24), measured once and stored as
package data in app/distance_scale.json. Not a test.

    ELPIPS_WEIGHTS_DIR=~/.cache/elpips python benchmarks/bench_distance_scale.py [--sizes 96] [--samples 64]

Four pairs made from the photos in ../shared/data/elpips_inputs (cat, dog), each brought to SIZE x SIZE by the
app's own policy (`geometry.engine.inputs.prepare_images`): identical (the cat with itself), a JPEG
recompression (the cat saved as JPEG at quality 75 and read back), a 1 px shift (the cat against itself
moved one pixel to the right), two different photos (the cat against the dog). Distances as the Distance tab
measures them (`elpips.estimate`, fixed seed; deterministic metrics exactly). Prints and writes every metric's
distance per pair and size.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import elpips
from elpips.images import to_uint8
from elpips.io import atomic_write
from geometry.engine.inputs import prepare_images

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data" / "elpips_inputs"
OUT = Path(__file__).resolve().parents[1] / "app" / "distance_scale.json"
METRICS = ("elpips_vgg", "lpips_vgg", "vgg", "alex")  # the Distance tab's (METRIC_NAMES)
SEED = 0


def jpeg(image: torch.Tensor, quality: int = 75) -> torch.Tensor:
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return elpips.as_image_batch(np.asarray(Image.open(buffer).convert("RGB")))


def pairs(size: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    wide = prepare_images([DATA / "cat.png"], (size, size + 1))
    cat = wide[..., :size]
    dog = prepare_images([DATA / "dog.png"], (size, size))
    return {
        "identical": (cat, cat),
        "jpeg": (cat, jpeg(cat)),
        "shift_1px": (cat, wide[..., 1:]),
        "different_photos": (cat, dog),
    }


def distance(name: str, a: torch.Tensor, b: torch.Tensor, samples: int) -> float:
    metric = elpips.load_metric(name)
    generator = torch.Generator().manual_seed(SEED)
    return float(elpips.estimate(metric, a, b, samples, generator=generator).value[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96])
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    table: dict[str, dict[str, dict[str, float]]] = {name: {} for name in METRICS}
    for size in args.sizes:
        made = pairs(size)
        for name in METRICS:
            table[name][str(size)] = {pair: distance(name, a, b, args.samples) for pair, (a, b) in made.items()}
            print(f"{name} at {size} px: " + ", ".join(f"{k} {v:.5f}" for k, v in table[name][str(size)].items()))
    with atomic_write(OUT) as tmp:
        Path(tmp).write_text(json.dumps({"samples": args.samples, "seed": SEED, "distances": table}, indent=1) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
