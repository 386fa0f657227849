#!/usr/bin/env python3
"""Writes onnx-models/tiny-roberta-cls/sample/train.jsonl: a synthetic, learnable 3-class task for
the bundled tiny RoBERTa (vocab 1000; <s>=0, <pad>=1, </s>=2; 78 positions).

In class c's sequences about 40% of the tokens are one of two marker tokens of c, the rest uniform
noise: a frozen random encoder carries the markers into the <s> state, so LoRA and the head can learn
the label, but no single position gives it away.
Standard library only:  python3 scripts/make_sample_data.py [OUT] [N] [SEED]
"""
import json
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "onnx-models/tiny-roberta-cls/sample/train.jsonl"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 512
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
MARKERS = [(10, 11), (12, 13), (14, 15)]
with open(out, "w") as fh:
    for i in range(n):
        label = rng.randrange(3)
        body = [rng.choice(MARKERS[label]) if rng.random() < 0.4 else rng.randrange(20, 990)
                for _ in range(rng.randint(8, 30))]
        ids = [0] + body + [2]
        fh.write(json.dumps({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": label}) + "\n")
print(f"wrote {n} examples to {out}")
