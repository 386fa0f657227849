#!/usr/bin/env python3
"""Mean and standard deviation over seeds, per method, from imdb_minilm.sh's results.csv and
imdb_sharpness.sh's sharpness.csv, as a Markdown table.   python3 scripts/results/summarize.py OUT"""
import csv
import os
import statistics
import sys

out = sys.argv[1]
res = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
sharp_path = os.path.join(out, "sharpness.csv")
sharp = {(r["method"], r["seed"]): r for r in csv.DictReader(open(sharp_path))} if os.path.exists(sharp_path) else {}
methods = []
for r in res:
    if r["method"] not in methods:
        methods.append(r["method"])


def ms(values, fmt):
    if not values:
        return "-"
    m = statistics.mean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:{fmt}} ± {s:{fmt}}"


print("| method | seeds | val. accuracy | val. F1 | val. MCC | adversarial sharpness | random sharpness | s/run |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for m in methods:
    rows = [r for r in res if r["method"] == m]
    acc = [float(r["accuracy"]) for r in rows]
    f1 = [float(r["f1"]) for r in rows]
    mcc = [float(r["mcc"]) for r in rows]
    adv = [float(sharp[(m, r["seed"])]["adversarial_increase"]) for r in rows if (m, r["seed"]) in sharp]
    rnd = [float(sharp[(m, r["seed"])]["random_mean_increase"]) for r in rows if (m, r["seed"]) in sharp]
    secs = statistics.mean(float(r["seconds"]) for r in rows)
    print(f"| {m} | {len(rows)} | {ms(acc, '.4f')} | {ms(f1, '.4f')} | {ms(mcc, '.4f')} | {ms(adv, '.4f')} | {ms(rnd, '.5f')} | {secs:.0f} |")
