"""python ana.py DUMP.json ...: hit rates (within 10 %) of the zoom rules tried, per case."""
import sys
from collections import defaultdict

import torch

sys.path.insert(0, "/tmp/zp2")
from common import D  # noqa: E402

rows = sum((__import__("json").load(open(p)) for p in sys.argv[1:]), [])


def minima(values, count=3):
    return D._local_extrema(-torch.tensor(values, dtype=torch.float64), count, circular=False)


def refine(f, curve, i):
    c = torch.tensor(curve, dtype=torch.float64)
    if not 0 < i < len(f) - 1:
        return f[i]
    return f[i] * 2.0 ** (D._parabolic_peak(*(-c[i - 1:i + 2]).tolist()) / D.ZOOM_STEPS)


def judge_values(r, key):
    if key == "md/d0":
        return [m / max(d, 1e-12) for m, d in zip(r["md"], r["d0"])]
    if key == "tiled/d0":
        return [m / max(d, 1e-12) for m, d in zip(r["tiled"], r["d0"])]
    if key == "md-d0":
        return [m - d for m, d in zip(r["md"], r["d0"])]
    if key == "tiled-d0":
        return [m - d for m, d in zip(r["tiled"], r["d0"])]
    if key == "md+tiled":
        return [m + d for m, d in zip(r["md"], r["tiled"])]
    return r[key]


def candidates(r, width=0):
    f = r["factors"]
    one = f.index(1.0)
    base = {one, *minima(r["zc"])}
    return sorted({min(len(f) - 1, max(0, i + d)) for i in base for d in range(-width, width + 1)})


def rule(key, width=0, refine_on="zc", descend=False, refine_key=None):
    def run(r):
        f = r["factors"]
        values = judge_values(r, key)
        i = min(candidates(r, width), key=lambda j: values[j])
        if descend:   # walk down the judge to a local minimum
            while True:
                nxt = min((j for j in (i - 1, i, i + 1) if 0 <= j < len(f)), key=lambda j: values[j])
                if nxt == i:
                    break
                i = nxt
        if refine_key:
            return refine(f, judge_values(r, refine_key), i)
        return refine(f, r["zc"] if refine_on == "zc" else values, i)
    return run


methods = {
    "old": rule("md"),
    "md,refJ": rule("md", refine_on="judge"),
    "md,refT": rule("md", refine_key="tiled"),
    "md,ref+": rule("md", refine_key="md+tiled"),
    "md,w1": rule("md", 1),
    "md,desc": rule("md", descend=True),
    "tiled": rule("tiled"),
    "tiled,w1": rule("tiled", 1),
    "tiled,desc": rule("tiled", descend=True),
    "tiled,refJ": rule("tiled", refine_on="judge"),
    "md/d0": rule("md/d0"),
    "md/d0,w1": rule("md/d0", 1),
    "tiled/d0": rule("tiled/d0"),
    "tiled/d0,w1": rule("tiled/d0", 1),
    "md-d0": rule("md-d0"),
    "md+tiled": rule("md+tiled"),
    "md:all": lambda r: refine(r["factors"], r["zc"], int(torch.tensor(r["md"]).argmin())),
    "tiled:all": lambda r: refine(r["factors"], r["zc"], int(torch.tensor(r["tiled"]).argmin())),
    "md/d0:all": lambda r: refine(r["factors"], r["zc"], int(torch.tensor(judge_values(r, "md/d0")).argmin())),
}
hits = defaultdict(lambda: defaultdict(list))
for r in rows:
    for m, fn in methods.items():
        s = fn(r)
        hits[(r["size"], r["name"], r["zoom"])][m].append((abs(s / r["zoom"] - 1) <= 0.1, s, r["kind"]))
ms = list(methods)
print("case".ljust(16) + "".join(m[:11].rjust(12) for m in ms))
for size in sorted({k[0] for k in hits}):
    tot, totb, n, nb = defaultdict(int), defaultdict(int), 0, 0
    for key, d in sorted(hits.items()):
        if key[0] != size:
            continue
        print(f"{key[0]} {key[1]} x{key[2]}".ljust(16) + "".join(f"{sum(h for h, _, _ in d[m])}/{len(d[m])}".rjust(12)
                                                               for m in ms))
        for m in ms:
            tot[m] += sum(h for h, _, _ in d[m])
            totb[m] += sum(h for h, _, k in d[m] if k == "bench")
        n += len(d[ms[0]])
        nb += sum(k == "bench" for _, _, k in d[ms[0]])
    print(f"{size} total".ljust(16) + "".join(f"{tot[m]}/{n}".rjust(12) for m in ms))
    print(f"{size} bench".ljust(16) + "".join(f"{totb[m]}/{nb}".rjust(12) for m in ms))
for key, d in sorted(hits.items()):
    for j in range(len(d["old"])):
        if d["old"][j][2] == "bench":
            print(f"{key[0]} {key[1]} x{key[2]} #{j} bench " + " ".join(f"{m}={d[m][j][1]:.2f}" for m in ms[:5]))
