"""python dump.py SIZE PER_CASE SEED OUT [SPACING]: per pair the zoom curve and the judges at every factor."""
import json
import sys
import time

import torch

sys.path.insert(0, "/tmp/zp2")
from common import D, judges, pairs  # noqa: E402

torch.set_num_threads(1)
size, n, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
spacing = float(sys.argv[5]) if len(sys.argv) > 5 else None
rows = []
for name, z, k, kind, a, b in pairs(size, n, seed, spacing=spacing):
    t = time.process_time()
    f, zc = D.zoom_curve(a, b)
    t1 = time.process_time() - t
    sa, sb = (D._shrink(x, size / D.VERIFY_SIDE) for x in (a, b)) if size > D.VERIFY_SIDE else (a, b)
    t = time.process_time()
    md, tiled, d0 = zip(*(judges(sa, sb, s) for s in f.tolist()))
    t2 = time.process_time() - t
    rows.append(dict(size=size, name=name, zoom=z, k=k, kind=kind, factors=f.tolist(), zc=zc.tolist(),
                     md=md, tiled=tiled, d0=d0, cpu=[t1, t2]))
    print(size, name, z, k, kind, f"cpu {t1:.1f} {t2:.1f}", flush=True)
    json.dump(rows, open(out, "w"))
