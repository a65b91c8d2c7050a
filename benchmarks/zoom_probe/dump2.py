import sys, math, time, json, torch
sys.path.insert(0, "benchmarks"); sys.path.insert(0, "/tmp/zd")
torch.set_num_threads(1)
from texture_photos import similarity_scene, photo, view
from geometry.paths import detection as D
from probe import same_size_curve
size, n, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
gen = torch.Generator().manual_seed(seed)
rows = []
for name in ("gravel", "grass"):
    src = photo(name)
    for z in (1.0, 1.5, 2.0, 3.0):
        for k in range(n):
            if k == 0 and z > 1:
                sc = similarity_scene(name, size, zoom=z); a, b = sc.render(0.0), sc.render(1.0); kind = "bench"
            else:
                c = (0.2 + 0.6 * torch.rand(4, generator=gen, dtype=torch.float64)).tolist()
                a = view(src, size, (c[0], c[1]), 0.0, 1.0); b = view(src, size, (c[2], c[3]), 0.0, z); kind = "random"
            t = time.process_time(); f, shrink = D.zoom_curve(a, b); t1 = time.process_time() - t
            t = time.process_time(); _, same = same_size_curve(a, b, 2); t2 = time.process_time() - t
            sa, sb = (D._shrink(x, size / D.VERIFY_SIDE) for x in (a, b)) if size > D.VERIFY_SIDE else (a, b)
            t = time.process_time(); matched = [D.matched_distance(sa, sb, 0.0, s) if s > 0.7 else None for s in f.tolist()]; t3 = time.process_time() - t
            rows.append(dict(size=size, name=name, zoom=z, k=k, kind=kind, factors=f.tolist(), shrink=shrink.tolist(),
                             same=same.tolist(), matched=matched, cpu=[t1, t2, t3]))
            print(size, name, z, k, f"cpu {t1:.1f} {t2:.1f} {t3:.1f}", flush=True)
            json.dump(rows, open(out, "w"))
