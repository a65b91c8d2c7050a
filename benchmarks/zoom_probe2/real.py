"""python real.py SIZE PER_CASE SEED [SPACING]: detect_similarity of detection_old.py (today's module) and of
geometry/paths/detection.py on the same pairs, side by side: zoom found, within 10 %, CPU s. Then the
benchmark's turns (brick) and changes (confidence)."""
import math
import sys
import time

import torch

sys.path.insert(0, "/tmp/zp2")
import detection_old as OLD  # noqa: E402
from common import pairs  # noqa: E402
from texture_photos import photo_scenes  # noqa: E402

from geometry.paths import detection as NEW  # noqa: E402

torch.set_num_threads(1)
size, n, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
spacing = float(sys.argv[4]) if len(sys.argv) > 4 else None
hits = {"old": [0, 0, 0, 0], "new": [0, 0, 0, 0]}   # random hits, random count, bench hits, bench count
cpu = {"old": 0.0, "new": 0.0}
for name, z, k, kind, a, b in pairs(size, n, seed, spacing=spacing):
    cells = []
    for label, module in (("old", OLD), ("new", NEW)):
        t = time.process_time()
        found = module.detect_similarity(a, b)
        cpu[label] += time.process_time() - t
        ok = abs(found.scale / z - 1) <= 0.1 and abs(math.degrees(found.angle)) <= 10
        slot = 2 if kind == "bench" else 0
        hits[label][slot] += ok
        hits[label][slot + 1] += 1
        cells.append(f"{label} {math.degrees(found.angle):5.1f} deg x{found.scale:4.2f} {'ok' if ok else '--'}")
    print(f"{size} {name} x{z} #{k} {kind}: " + " | ".join(cells), flush=True)
for label in hits:
    r, rn, bh, bn = hits[label]
    print(f"{size} px {label}: random {r}/{rn}, benchmark's {bh}/{bn}, {cpu[label]:.1f} CPU s")
if spacing is None:
    for scene in photo_scenes(size):
        if scene.spectral and scene.scale != 1.0:
            continue
        a, b = scene.render(0.0), scene.render(1.0)
        cells = []
        for label, module in (("old", OLD), ("new", NEW)):
            found = module.detect_similarity(a, b)
            cells.append(f"{label} {math.degrees(found.angle):5.1f} deg x{found.scale:4.2f} confidence "
                         f"{found.confidence:5.3f} left {found.distance:5.3f} confident {module.confident(found)}")
        print(f"{size} {scene.name}: " + " | ".join(cells), flush=True)
