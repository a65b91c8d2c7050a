import sys, math, time, torch
import torch.nn.functional as F
sys.path.insert(0, "benchmarks")
torch.set_num_threads(1)
from texture_photos import similarity_scene, photo, view
from geometry.paths import detection as D
from geometry.paths.features import channel_statistics, statistics_distance

def factors():
    reach = round(D.ZOOM_STEPS * math.log2(D.MAX_SCALE))
    return 2.0 ** (torch.arange(-reach, reach + 1, dtype=torch.float64) / D.ZOOM_STEPS)

def tiles_of(x, side, count=3):
    H, W = x.shape[-2:]
    if side >= min(H, W):
        return x
    ys = torch.linspace(0, H - side, count).round().long().tolist()
    xs = torch.linspace(0, W - side, count).round().long().tolist()
    return torch.cat([x[..., i:i + side, j:j + side] for i in ys for j in xs])

def mean_stats(x):
    return [s.mean(0, keepdim=True) for s in channel_statistics(x)]

def same_size_curve(a, b, count=3):
    """b shrunk by s vs a's tiles of b-shrunk's size (statistics averaged): borders alike."""
    a, b = a.float(), b.float()
    if min(a.shape[-2:]) > D.WORK_SIDE:
        a, b = (D._shrink(x, min(x.shape[-2:]) / D.WORK_SIDE) for x in (a, b))
    f = factors(); out = []
    with torch.no_grad():
        for s in f.tolist():
            big, small = (a, D._shrink(b, s)) if s >= 1 else (b, D._shrink(a, 1 / s))
            side = small.shape[-1]
            out.append(float(statistics_distance(mean_stats(tiles_of(big, side, count)), channel_statistics(small))))
    return f, torch.tensor(out, dtype=torch.float64)

def best(f, d):
    i = int(d.argmin())
    return D._refined_scale(f, d, float(f[i]))

def radial_profile(gray, tile):
    lp = D.whitened_log_polar  # not used
    power = D._welch_power(gray, tile)
    count = int(math.floor(D.BINS_PER_OCTAVE * math.log2(D.HIGH * tile / 2))) + 1
    radius = D.HIGH * 2.0 ** (-torch.arange(count, dtype=torch.float64) / D.BINS_PER_OCTAVE)
    angle = math.pi * torch.arange(D.ANGLES, dtype=torch.float64) / D.ANGLES
    fy, fx = radius[:, None] * torch.sin(angle)[None], radius[:, None] * torch.cos(angle)[None]
    grid = torch.stack([(2 * (fx * tile + tile // 2) + 1) / tile - 1, (2 * (fy * tile + tile // 2) + 1) / tile - 1], -1)
    sampled = F.grid_sample(power.view(1, 1, tile, tile), grid.unsqueeze(0), mode="bilinear", align_corners=False)
    return sampled[0, 0].clamp_min(1e-20).log().mean(1)   # (radii,) bin i at HIGH*2^(-i/B)

def detrend(y):
    x = torch.arange(len(y), dtype=torch.float64)
    A = torch.stack([x, torch.ones_like(x)], 1)
    coef = torch.linalg.lstsq(A, y.unsqueeze(1)).solution
    return y - (A @ coef).squeeze(1)

def spectral_curve(a, b, order=1):
    ga, gb = D._gray(a), D._gray(b)
    f = factors(); out = []
    profs = [(radial_profile(ga, t), radial_profile(gb, t)) for t in D._tiles(min(ga.shape))]
    for s in f.tolist():
        shift = round(D.BINS_PER_OCTAVE * math.log2(s))
        tot, w = 0.0, 0.0
        for pa, pb in profs:
            x, y = D._shifted(pa, pb, shift)
            if len(x) < D.MIN_OVERLAP:
                continue
            r = detrend(x - y)   # log ratio less a power law
            tot += float(r.square().mean()) * len(x); w += len(x)
        out.append(tot / w if w else math.inf)
    return f, torch.tensor(out, dtype=torch.float64)

if __name__ == "__main__":
    sizes = [int(s) for s in sys.argv[1].split(",")]
    n = int(sys.argv[2])
    gen = torch.Generator().manual_seed(27)
    methods = ["old", "curve", "same3", "spec"]
    hits = {}
    cpu = {m: 0.0 for m in methods}
    for size in sizes:
        for name in ("brick", "grass", "gravel"):
            src = photo(name)
            for z in (1.5, 2.0, 3.0):
                for k in range(n):
                    if k == 0:
                        sc = similarity_scene(name, size, zoom=z); a, b = sc.render(0.0), sc.render(1.0)
                    else:
                        c = (0.2 + 0.6 * torch.rand(4, generator=gen, dtype=torch.float64)).tolist()
                        a = view(src, size, (c[0], c[1]), 0.0, 1.0); b = view(src, size, (c[2], c[3]), 0.0, z)
                    res = {}
                    t = time.process_time(); res["old"] = D.detect_similarity(a, b).scale; cpu["old"] += time.process_time() - t
                    t = time.process_time(); res["curve"] = best(*D.zoom_curve(a, b)); cpu["curve"] += time.process_time() - t
                    t = time.process_time(); res["same3"] = best(*same_size_curve(a, b, 3)); cpu["same3"] += time.process_time() - t
                    t = time.process_time(); res["spec"] = best(*spectral_curve(a, b)); cpu["spec"] += time.process_time() - t
                    line = " ".join(f"{m} x{res[m]:.2f}{'+' if abs(res[m]/z-1)<=0.1 else '-'}" for m in methods)
                    print(f"{size} {name} x{z} #{k}: {line}", flush=True)
                    for m in methods:
                        hits.setdefault((size, name, z, m), []).append(abs(res[m] / z - 1) <= 0.1)
    print("\nhit rates")
    for size in sizes:
        for name in ("brick", "grass", "gravel"):
            for z in (1.5, 2.0, 3.0):
                print(size, name, z, " ".join(f"{m} {sum(hits[(size,name,z,m)])}/{len(hits[(size,name,z,m)])}" for m in methods))
    print("cpu", cpu)
