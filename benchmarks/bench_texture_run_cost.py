"""The cost of the default 5-frame 64 px texture morph (issue 27: at most 60 CPU s on 2 cores): a photographed brick
wall turned 60 degrees from unaligned crops (benchmarks/texture_photos.py), `geometry.geodesic(..., motion="texture")`
with its defaults (the tile-blend start spaced under E-LPIPS, then the pixel refinement).

    python benchmarks/bench_texture_run_cost.py
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(Path.home() / ".cache" / "elpips"))
import torch  # noqa: E402
from texture_photos import similarity_scene  # noqa: E402

from geometry import geodesic  # noqa: E402

torch.set_num_threads(2)
scene = similarity_scene("brick", 64, degrees=60)
a, b = scene.render(0.0), scene.render(1.0)
cpu, wall = time.process_time(), time.perf_counter()
res = geodesic(a, b, frames=5, seed=0, snapshot_steps=[], motion="texture")
settings = res.record.settings
print(f"brick turn 60, 64 px, 5 frames, motion=texture: taken {settings.get('start', {}).get('taken')}, refine "
      f"{settings.get('refine')}, {res.record.evaluations:.0f} evaluations, {time.process_time() - cpu:.1f} CPU s, "
      f"{time.perf_counter() - wall:.1f} s wall, load average {os.getloadavg()[0]:.1f}", flush=True)
