import sys, math, torch
sys.path.insert(0, "benchmarks")
torch.set_num_threads(1)
from texture_photos import similarity_scene
from geometry.paths.detection import zoom_curve
for size in (64, 128):
    for name in ("grass", "gravel", "brick"):
        for z in (2.0, 3.0):
            sc = similarity_scene(name, size, zoom=z)
            a, b = sc.render(0.0), sc.render(1.0)
            f, d = zoom_curve(a, b)
            print(size, name, z, " ".join(f"{x:.2f}:{y:.2f}" for x, y in zip(f.tolist(), d.tolist()) if x >= 1))
