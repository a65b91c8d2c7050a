"""python soft.py SIZE: the benchmark's zoom pairs (its places) seen at SPACING 2 (b upsampled by zoom / 2, the
benchmark's) and at 3 (b at x3 is 1 source px per px: never upsampled), detect_similarity of detection_old.py
(today's) and of geometry/paths/detection.py. At 128 px a spacing of 3 reaches past the photo about the
benchmark's place of a: a is cut about the photo's centre there."""
import math
import sys
import time

import torch

sys.path.insert(0, "/tmp/zp2")
import common  # noqa: E402,F401  (puts benchmarks/ on the path)
import detection_old as OLD  # noqa: E402
from texture_photos import CENTRES, photo, view  # noqa: E402

from geometry.paths import detection as NEW  # noqa: E402

torch.set_num_threads(1)
size = int(sys.argv[1])
for spacing in (2.0, 3.0):
    met = {"old": 0, "new": 0}
    cpu = {"old": 0.0, "new": 0.0}
    for name in ("brick", "grass", "gravel"):
        src = photo(name)
        for z in (1.5, 2.0, 3.0):
            centre = CENTRES[0] if spacing * size / 2 < 0.34 * 511 else (0.5, 0.5)
            a = view(src, size, centre, 0.0, 1.0, spacing=spacing)
            b = view(src, size, CENTRES[1], 0.0, z, spacing=spacing)
            cells = []
            for label, module in (("old", OLD), ("new", NEW)):
                t = time.process_time()
                found = module.detect_similarity(a, b)
                cpu[label] += time.process_time() - t
                ok = abs(found.scale / z - 1) <= 0.1 and abs(math.degrees(found.angle)) <= 10
                met[label] += ok
                cells.append(f"{label} {math.degrees(found.angle):5.1f} deg x{found.scale:4.2f} {'ok' if ok else '--'}")
            print(f"{size} spacing {spacing:g} {name} x{z:g}: " + " | ".join(cells), flush=True)
    print(f"{size} spacing {spacing:g}: " + ", ".join(f"{k} {v}/9 ({cpu[k]:.1f} CPU s)" for k, v in met.items()),
          flush=True)
