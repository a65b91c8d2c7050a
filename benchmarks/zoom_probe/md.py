import sys, math, torch
sys.path.insert(0, "benchmarks"); sys.path.insert(0, "/tmp/zd")
torch.set_num_threads(1)
from texture_photos import similarity_scene
from geometry.paths import detection as D
for size in (64, 128):
  for name, z in (("grass", 3.0), ("gravel", 3.0), ("grass", 2.0), ("brick", 3.0)):
    sc = similarity_scene(name, size, zoom=z); a, b = sc.render(0.0), sc.render(1.0)
    if size > 64:
        a, b = (D._shrink(x, size / 64) for x in (a, b))
    fs = [2 ** (k / 8) for k in range(0, 17)]
    print(size, name, z, " ".join(f"{s:.2f}:{D.matched_distance(a, b, 0.0, s):.3f}" for s in fs), flush=True)
