import sys, time, torch
sys.path.insert(0, "benchmarks")
torch.set_num_threads(1)
from texture_photos import similarity_scene
from geometry.paths import detection as D
sys.path.insert(0, "/tmp/zd"); import detection_old as O
for size in (64,):
    sc = similarity_scene("gravel", size, zoom=3.0); a, b = sc.render(0.0), sc.render(1.0)
    D.zoom_curve(a, b)
    for mod in (O, D):
        t = time.process_time(); f, d = mod.zoom_curve(a, b); c = time.process_time() - t
        t = time.process_time(); r = mod.detect_similarity(a, b); e = time.process_time() - t
        print(size, mod.__name__, f"curve {c:.1f} detect {e:.1f} scale {r.scale:.2f}", flush=True)
