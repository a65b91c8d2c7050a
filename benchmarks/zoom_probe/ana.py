import json, math, sys, torch
from collections import defaultdict
sys.path.insert(0, "/work/wt/zoomdet")
from geometry.paths import detection as D
rows = sum((json.load(open(p)) for p in sys.argv[1:]), [])
def minima(vals, count=3):
    v = torch.tensor([x if x is not None else math.inf for x in vals])
    return D._local_extrema(-v, count, circular=False)
def refine(f, curve, i):
    c = torch.tensor([x if x is not None else math.inf for x in curve], dtype=torch.float64)
    if not (0 < i < len(f) - 1) or not torch.isfinite(c[i-1:i+2]).all():
        return f[i]
    return f[i] * 2.0 ** (D._parabolic_peak(*(-c[i - 1:i + 2]).tolist()) / D.ZOOM_STEPS)
def judge(r, cands, key="matched"):
    m = r[key]
    return min(cands, key=lambda i: m[i] if m[i] is not None else math.inf)
def norm(v):
    t = torch.tensor(v); return (t - t.min()) / (t.max() - t.min() + 1e-12)
methods = {}
def old(r):
    f = r["factors"]; one = f.index(1.0)
    i = judge(r, {one, *minima(r["shrink"])}); return refine(f, r["shrink"], i)
methods["old"] = old
methods["same"] = lambda r: refine(r["factors"], r["same"], int(torch.tensor(r["same"]).argmin()))
methods["shrink"] = lambda r: refine(r["factors"], r["shrink"], int(torch.tensor(r["shrink"]).argmin()))
def cands_both(r, refine_on="shrink"):
    f = r["factors"]; one = f.index(1.0)
    i = judge(r, {one, *minima(r["shrink"]), *minima(r["same"])}); return refine(f, r[refine_on], i)
methods["both->matched"] = cands_both
methods["both->matched,refsame"] = lambda r: cands_both(r, "same")
def judged_same(r):
    f = r["factors"]; one = f.index(1.0)
    i = judge(r, {one, *minima(r["shrink"]), *minima(r["same"])}, "same"); return refine(f, r["same"], i)
methods["both->same"] = judged_same
def oldcands_same(r):
    f = r["factors"]; one = f.index(1.0)
    i = judge(r, {one, *minima(r["shrink"])}, "same"); return refine(f, r["same"], i)
methods["shrinkc->same"] = oldcands_same
def sumcurve(r, w=1.0):
    c = (torch.tensor(r["shrink"]) + w * torch.tensor(r["same"])).tolist()
    return refine(r["factors"], c, int(torch.tensor(c).argmin()))
methods["shrink+same"] = sumcurve
def sum_sm(r):
    f = r["factors"]
    m = [x if x is not None else math.inf for x in r["matched"]]
    c = (torch.tensor(r["same"]) + torch.tensor(m)).tolist()
    return refine(f, c, int(torch.tensor(c).argmin()))
methods["same+matched"] = sum_sm
def sum3(r):
    m = [x if x is not None else math.inf for x in r["matched"]]
    c = (torch.tensor(r["same"]) + torch.tensor(m) + torch.tensor(r["shrink"])).tolist()
    return refine(r["factors"], c, int(torch.tensor(c).argmin()))
methods["all3"] = sum3
def sum_shm(r):
    m = [x if x is not None else math.inf for x in r["matched"]]
    c = (torch.tensor(m) + torch.tensor(r["shrink"])).tolist()
    return refine(r["factors"], c, int(torch.tensor(c).argmin()))
methods["shrink+matched"] = sum_shm

def sumc_matched(r):
    f = r["factors"]; one = f.index(1.0)
    c = (torch.tensor(r["shrink"]) + torch.tensor(r["same"])).tolist()
    i = judge(r, {one, *minima(c)}); return refine(f, c, i)
methods["sumc->matched"] = sumc_matched
def old_refsum(r, reach=2):
    f = r["factors"]; one = f.index(1.0)
    i = judge(r, {one, *minima(r["shrink"])})
    c = torch.tensor(r["shrink"]) + torch.tensor(r["same"])
    lo, hi = max(0, i - reach), min(len(f), i + reach + 1)
    j = lo + int(c[lo:hi].argmin()); return refine(f, c.tolist(), j)
methods["old->refsum"] = old_refsum
methods["old->refsum4"] = lambda r: old_refsum(r, 4)
methods["geo(old,same)"] = lambda r: math.sqrt(old(r) * methods["same"](r))
hits = defaultdict(lambda: defaultdict(list))
for r in rows:
    for m, fn in methods.items():
        s = fn(r)
        hits[(r["size"], r["name"], r["zoom"])][m].append((abs(s / r["zoom"] - 1) <= 0.1, s, r["kind"]))
ms = list(methods)
print("case".ljust(22) + " ".join(m[:14].rjust(14) for m in ms))
tot = defaultdict(int); totb = defaultdict(int); nb = 0; n = 0
for key, d in sorted(hits.items()):
    print(f"{key[0]} {key[1]} x{key[2]}".ljust(22) + " ".join(f"{sum(h for h,_,_ in d[m])}/{len(d[m])}".rjust(14) for m in ms))
    for m in ms:
        tot[m] += sum(h for h, _, _ in d[m]); totb[m] += sum(h for h, _, k in d[m] if k == "bench")
    n += len(d[ms[0]]); nb += sum(k == "bench" for _, _, k in d[ms[0]])
print("total".ljust(22) + " ".join(f"{tot[m]}/{n}".rjust(14) for m in ms))
print("bench".ljust(22) + " ".join(f"{totb[m]}/{nb}".rjust(14) for m in ms))
if "-v" in sys.argv[0:0]: pass
if len(sys.argv) > 0:
    for key, d in sorted(hits.items()):
        for j in range(len(d["old"])):
            print(f"{key[0]} {key[1]} x{key[2]} #{j} " + " ".join(f"{m[:8]}={d[m][j][1]:.2f}" for m in ("old", "same", "shrink+same", "sumc->matched", "old->refsum", "all3")))
