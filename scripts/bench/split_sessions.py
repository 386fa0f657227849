#!/usr/bin/env python3
"""Splits a kernel_trace.cpp record file by ONNX Runtime session: a session's opening uploads its
weights (copies host to device of 4 MB and more, back to back), so a burst of such copies (none more
than 0.1 s apart) that moves at least a quarter of the largest burst's bytes starts the next
session; the steps' own input copies (a few MB each, one per step or a handful together) do not.
`bench --bf16` runs its TF32 sessions, then its bf16 ones, in one process; kernel_summary.py then
takes each part as its own run.
Standard library only:
  python3 scripts/bench/split_sessions.py RECORDS.csv OUT_PREFIX   # OUT_PREFIX.1.csv, OUT_PREFIX.2.csv, ...
"""
import sys

src, prefix = sys.argv[1], sys.argv[2]
lines = open(src).read().splitlines()
names = [l for l in lines if l.startswith("name,")]
records = [l for l in lines if not l.startswith("name,")]
uploads = sorted((int(l.split(",")[1]), int(l.split(",", 4)[4].split()[1])) for l in records
                 if l.startswith("memcpy,") and l.split(",", 4)[4].startswith("HtoD")
                 and int(l.split(",", 4)[4].split()[1]) >= 4_000_000)
bursts = []  # [start ns, bytes]
for i, (t, size) in enumerate(uploads):
    if i == 0 or t - uploads[i - 1][0] > 1e8:
        bursts.append([t, 0])
    bursts[-1][1] += size
largest = max((b for _, b in bursts), default=0)
cuts = [t for t, b in bursts[1:] if b >= largest / 4]
bounds = [float("-inf")] + cuts + [float("inf")]
for i in range(len(bounds) - 1):
    part = [l for l in records if bounds[i] <= int(l.split(",")[1]) < bounds[i + 1]]
    with open(f"{prefix}.{i + 1}.csv", "w") as f:
        f.write("\n".join(names + part) + "\n")  # every part keeps the kernel names table
print(f"{src}: {len(bounds) - 1} sessions")
