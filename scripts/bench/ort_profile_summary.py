#!/usr/bin/env python3
"""Summarises ONNX Runtime profiles (lora-trainer bench --ort-profile DIR) per session file:
median run time, nodes per run, and where the nodes' time goes by execution provider and op type.

  python3 scripts/bench/ort_profile_summary.py DIR/*.json [--skip 2] [--top 15]

For the CUDA EP a node's time is the host's time in its Compute call (mostly kernel launches,
device work is asynchronous), so a sum close to the run time means the run is bound by launches;
Memcpy nodes and CPU-placed nodes are where the device synchronises with the host.
"""
import argparse
import collections
import json
import statistics


def summarise(path, skip, top):
    events = json.load(open(path))
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    if len(runs) <= skip:
        print(f"{path}: {len(runs)} runs, fewer than --skip {skip} + 1")
        return
    timed = runs[skip:]
    start = timed[0]["ts"]
    nodes = [e for e in events if e.get("cat") == "Node" and e["ts"] >= start]
    n = len(timed)
    by_provider = collections.defaultdict(float)
    by_op = collections.defaultdict(lambda: [0.0, 0])
    for e in nodes:
        a = e.get("args", {})
        by_provider[a.get("provider", "?")] += e["dur"]
        o = by_op[(a.get("provider", "?").replace("ExecutionProvider", ""), a.get("op_name", "?"))]
        o[0] += e["dur"]
        o[1] += 1
    run_ms = statistics.median(e["dur"] for e in timed) / 1e3
    print(f"{path}: {n} runs after {skip} skipped; median run {run_ms:.2f} ms; "
          f"{len(nodes) / n:.0f} nodes per run; node time per run {sum(by_provider.values()) / n / 1e3:.2f} ms")
    for p, t in sorted(by_provider.items(), key=lambda x: -x[1]):
        print(f"  {p:28s} {t / n / 1e3:8.2f} ms per run")
    print(f"  {'provider':6s} {'op':28s} {'ms/run':>8s} {'nodes/run':>9s}")
    for (p, op), (t, c) in sorted(by_op.items(), key=lambda x: -x[1][0])[:top]:
        print(f"  {p:6s} {op:28s} {t / n / 1e3:8.2f} {c / n:9.0f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--skip", type=int, default=2, help="first runs to leave out (warm-up)")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    for f in a.files:
        summarise(f, a.skip, a.top)


if __name__ == "__main__":
    main()
