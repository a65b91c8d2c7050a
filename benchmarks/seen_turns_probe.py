import sys, math, random, torch
sys.path.insert(0, "benchmarks")
torch.set_num_threads(1)
from texture_photos import photo, view, similarity_scene
from bench_texture import isotropic_noise
from geometry.paths import detection as D

def agree_inclusive(first, second):
    """The tried tie rule (detect_similarity's `_agree` in the trial): within AGREE degrees, AGREE included."""
    return abs(math.degrees(math.remainder(first - second, math.pi))) <= D.AGREE + 1e-6

def peak_deg(a, b):
    return math.degrees(D._peak(D._angle_curve(a, b, 1.0)))

def votes(a, b):
    turn = peak_deg(a, b)
    h, w = (s // 2 for s in a.shape[-2:])
    halves = [(..., slice(None), slice(None, w)), (..., slice(None), slice(w, None)),
              (..., slice(None, h), slice(None)), (..., slice(h, None), slice(None))]
    quarters = [(..., slice(i * h, (i + 1) * h), slice(j * w, (j + 1) * w)) for i in range(2) for j in range(2)]
    agree = lambda part: agree_inclusive(math.radians(peak_deg(a[part], b[part])), math.radians(turn))
    return turn, sum(agree(p) for p in halves), sum(agree(p) for p in quarters)

rules = {"halves>=3": lambda h, q: h >= 3, "h+q>=4": lambda h, q: h + q >= 4, "h+q>=5": lambda h, q: h + q >= 5,
         "h+q>=6": lambda h, q: h + q >= 6, "h>=2&q>=2": lambda h, q: h >= 2 and q >= 2, "h>=2&q>=3": lambda h, q: h >= 2 and q >= 3}
for size in (64, 128):
    fp = {r: 0 for r in rules}
    for k in range(20):
        t, h, q = votes(isotropic_noise(2 * k, size), isotropic_noise(2 * k + 1, size))
        for r, f in rules.items():
            fp[r] += f(h, q) and not agree_inclusive(math.radians(t), 0.0)
    print(size, "noise seen (other than none) /20:", fp, flush=True)
    rng = random.Random(size)
    for name in ("brick", "grass", "gravel"):
        src = photo(name)
        seen = {r: [0, 0] for r in rules}
        for k in range(17):
            deg = rng.choice([-1, 1]) * rng.uniform(20, 90)
            c = [rng.uniform(0.2, 0.8) for _ in range(4)]
            a = view(src, size, (c[0], c[1]), 0.0, 1.0); b = view(src, size, (c[2], c[3]), math.radians(deg), 1.0)
            t, h, q = votes(a, b)
            right = abs(math.remainder(t - deg, 180)) <= 10 + 1e-6
            for r, f in rules.items():
                if f(h, q):
                    seen[r][0] += right; seen[r][1] += 1
        print(size, name, "right/seen of 17 random turns:", {r: f"{v[0]}/{v[1]}" for r, v in seen.items()}, flush=True)
    for name in ("grass", "gravel", "brick"):
        for d in (30.0, 60.0, 90.0):
            sc = similarity_scene(name, size, degrees=d); t, h, q = votes(sc.render(0.0), sc.render(1.0))
            print(size, f"bench {name} {d:g}: peak {t:.0f} halves {h} quarters {q}", flush=True)
