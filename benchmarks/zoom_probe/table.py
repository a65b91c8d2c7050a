import sys, re
cols = sys.argv[2].split(",")
lines = open(sys.argv[1]).read().splitlines()
hdr = lines[0].split()
# header names were truncated to 14 chars; split by fixed width: first 22 chars then 15-char fields
names = [lines[0][22 + 15 * i: 22 + 15 * (i + 1)].strip() for i in range((len(lines[0]) - 22) // 15 + 1)]
for line in lines:
    if line.startswith("case") or " #" in line:
        continue
    vals = [line[22 + 15 * i: 22 + 15 * (i + 1)].strip() for i in range(len(names))]
    d = dict(zip(names, vals))
    print(line[:22] + " ".join(d.get(c[:14], "?").rjust(9) for c in cols))
print("case".ljust(22) + " ".join(c[:9].rjust(9) for c in cols))
