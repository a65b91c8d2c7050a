import sys, time, math, torch
sys.path.insert(0, "benchmarks"); sys.path.insert(0, "/tmp/zd")
torch.set_num_threads(1)
from texture_photos import similarity_scene
from geometry.paths import detection as D
import detection_old as O
for size in (64, 128):
    for name in ("brick", "grass", "gravel"):
        for z in (1.5, 2.0, 3.0):
            sc = similarity_scene(name, size, zoom=z); a, b = sc.render(0.0), sc.render(1.0)
            out = []
            for mod in (O, D):
                t = time.process_time(); r = mod.detect_similarity(a, b); c = time.process_time() - t
                ok = abs(r.scale / z - 1) <= 0.1 and abs(math.degrees(r.angle)) <= 10
                out.append(f"{math.degrees(r.angle):5.1f} deg x{r.scale:.2f} {'ok' if ok else '--'} conf {r.confidence:.3f} ({c:.1f} CPU s)")
            print(f"{size} {name} x{z}: old " + " | new ".join(out), flush=True)
