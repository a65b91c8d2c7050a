import json, torch, sys
sys.argv = ["x", "d64.json", "d64b.json"]
exec(open("ana.py").read().split("hits = defaultdict")[0])
for fn, seed, names in (("d64.json", 64, ("brick", "grass", "gravel")), ("d64b.json", 641, ("gravel", "grass"))):
    rows = json.load(open(fn)); gen = torch.Generator().manual_seed(seed); it = iter(rows)
    for name in names:
        for z in (1.0, 1.5, 2.0, 3.0):
            for k in range(4):
                c = None
                if not (k == 0 and z > 1):
                    c = (0.2 + 0.6 * torch.rand(4, generator=gen, dtype=torch.float64)).tolist()
                r = next(it, None)
                if r is None: break
                s = old(r)
                if c: print(name, z, f"a=({c[0]:.2f},{c[1]:.2f}) b=({c[2]:.2f},{c[3]:.2f}) dy={c[2]-c[0]:+.2f} found/true={s/z:.2f}")
