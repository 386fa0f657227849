#!/usr/bin/env python3
"""Two runs of the same job (the trainer's run directories with their --trace beside them as
RUN.trace.jsonl): per-step loss difference, the mean loss of the last 20 steps of each, and the
last evaluation of each (metrics.csv) when there is one. Standard library only:
  python3 scripts/bench/trace_diff.py REFERENCE_RUN OTHER_RUN"""
import csv
import json
import os
import sys


def losses(run):
    with open(run + ".trace.jsonl") as f:
        return [json.loads(line)["loss"] for line in f if line.strip()]


def last_eval(run):
    path = os.path.join(run, "metrics.csv")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else None


ref, other = sys.argv[1], sys.argv[2]
a, b = losses(ref), losses(other)
n = min(len(a), len(b))
d = [abs(a[i] - b[i]) for i in range(n)]
worst = max(range(n), key=lambda i: d[i])
tail_a, tail_b = sum(a[n - 20:n]) / 20, sum(b[n - 20:n]) / 20
print(f"{os.path.basename(other)} vs {os.path.basename(ref)}: {n} steps; loss at step 1 {b[0]:.6f} vs {a[0]:.6f}"
      f" (rel {abs(b[0] - a[0]) / abs(a[0]):.1e}); largest step difference {d[worst]:.5f} at step {worst + 1}"
      f" ({b[worst]:.5f} vs {a[worst]:.5f}); mean |difference| {sum(d) / n:.5f}; mean of the last 20"
      f" {tail_b:.5f} vs {tail_a:.5f} (rel {abs(tail_b - tail_a) / abs(tail_a):.1e})")
ea, eb = last_eval(ref), last_eval(other)
if ea and eb:
    print("last evaluation: " + ", ".join(f"{k} {eb[k]} vs {ea[k]}" for k in ea if k in eb and k != "step"))
