#!/usr/bin/env python3
"""The table of RESULTS.md's prepared-encoders section from imdb_prepared.sh's OUT/results.csv:
mean +- standard deviation (n-1) over seeds per model, task and method. Standard library only:
  python3 scripts/results/summarize_prepared.py OUT/results.csv"""
import csv
import statistics
import sys
from collections import OrderedDict

rows = list(csv.DictReader(open(sys.argv[1])))
groups = OrderedDict()
for r in rows:
    groups.setdefault((r["model"], r["task"], r["method"]), []).append(r)


def stat(rs, k):
    v = [float(r[k]) for r in rs if r[k]]
    if not v:
        return ""
    return f"{statistics.mean(v):.4f}" + (f" ± {statistics.stdev(v):.4f}" if len(v) > 1 else "")


print("| model | task | method | seeds | steps | accuracy | F1 | MCC | recall@1 | MRR | s/run |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (model, task, method), rs in groups.items():
    secs = statistics.mean(float(r["seconds"]) for r in rs)
    print(f"| {model} | {task} | {method} | {len(rs)} | {rs[0]['steps']} | {stat(rs, 'accuracy')} | {stat(rs, 'f1')} "
          f"| {stat(rs, 'mcc')} | {stat(rs, 'recall_at_1')} | {stat(rs, 'mrr')} | {secs:.0f} |")
