#!/usr/bin/env python3
"""Splits a kernel_trace.cpp record file by ONNX Runtime session: a session's opening uploads its
weights (copies host to device of 4 MB and more, back to back), so a pause of more than a second
between such copies starts the next session. `bench --bf16` runs its TF32 sessions, then its bf16
ones, in one process; kernel_summary.py then takes each part as its own run.
Standard library only:
  python3 scripts/bench/split_sessions.py RECORDS.csv OUT_PREFIX   # OUT_PREFIX.1.csv, OUT_PREFIX.2.csv, ...
"""
import sys

src, prefix = sys.argv[1], sys.argv[2]
lines = open(src).read().splitlines()
names = [l for l in lines if l.startswith("name,")]
records = [l for l in lines if not l.startswith("name,")]
uploads = sorted(int(l.split(",")[1]) for l in records
                 if l.startswith("memcpy,") and l.split(",", 4)[4].startswith("HtoD")
                 and int(l.split(",", 4)[4].split()[1]) >= 4_000_000)
cuts = [b for a, b in zip(uploads, uploads[1:]) if b - a > 1e9]
bounds = [float("-inf")] + cuts + [float("inf")]
for i in range(len(bounds) - 1):
    part = [l for l in records if bounds[i] <= int(l.split(",")[1]) < bounds[i + 1]]
    with open(f"{prefix}.{i + 1}.csv", "w") as f:
        f.write("\n".join(names + part) + "\n")  # every part keeps the kernel names table
print(f"{src}: {len(bounds) - 1} sessions")
