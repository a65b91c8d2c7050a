import sys, math, time, json, torch
sys.path.insert(0, "benchmarks"); sys.path.insert(0, "/tmp/zd")
torch.set_num_threads(1)
from texture_photos import similarity_scene, photo, view
from geometry.paths import detection as D
from probe import same_size_curve
size, n, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
names = sys.argv[5].split(",")
gen = torch.Generator().manual_seed(seed)
rows = []
def minima(v, count=3):
    return D._local_extrema(-v, count, circular=False)
for z in (3.0, 2.0, 1.5, 1.0):
    for name in names:
        src = photo(name)
        for k in range(n):
            if k == 0 and z > 1:
                sc = similarity_scene(name, size, zoom=z); a, b = sc.render(0.0), sc.render(1.0); kind = "bench"
            else:
                c = (0.2 + 0.6 * torch.rand(4, generator=gen, dtype=torch.float64)).tolist()
                a = view(src, size, (c[0], c[1]), 0.0, 1.0); b = view(src, size, (c[2], c[3]), 0.0, z); kind = "random"
            t = time.process_time(); f, shrink = D.zoom_curve(a, b); t1 = time.process_time() - t
            same = None; t2 = 0.0
            small = [D._shrink(x, size / 64) for x in (a, b)]
            t = time.process_time(); _, same64 = same_size_curve(*small, 2); t4 = time.process_time() - t
            sa, sb = small
            idx = {f.tolist().index(1.0)} | set(minima(shrink)) | set(minima(same64)) | set(minima(shrink + same64))
            t = time.process_time(); matched = [D.matched_distance(sa, sb, 0.0, s) if i in idx else None for i, s in enumerate(f.tolist())]; t3 = time.process_time() - t
            rows.append(dict(size=size, name=name, zoom=z, k=k, kind=kind, factors=f.tolist(), shrink=shrink.tolist(),
                             same64=same64.tolist(), matched=matched, cpu=[t1, t2, t3, t4]))
            print(size, name, z, k, f"cpu {t1:.1f} {t2:.1f} {t3:.1f} {t4:.1f}", flush=True)
            json.dump(rows, open(out, "w"))
