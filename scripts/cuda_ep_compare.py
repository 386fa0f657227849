#!/usr/bin/env python3
"""Compares the runs of cuda_ep_check.sh: CPU vs CUDA fp32 vs CUDA TF32 (needs numpy and onnx).
Per run against CPU: the worst per-step relative loss difference (first 20 steps and all), the
worst per-tensor max|a-b| / max|b| of the final adapters, and the median step time after 5 warm-up steps."""
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

root = sys.argv[1]


def trace(run):
    with open(os.path.join(root, run, "trace.jsonl")) as fh:
        return [json.loads(line) for line in fh]


def adapter(run):
    m = onnx.load(os.path.join(root, run, "adapter.onnx"))
    return {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}


ref_t, ref_a = trace("cpu"), adapter("cpu")
rows = {}
for run in ("cpu", "cuda-fp32", "cuda-tf32"):
    t, a = trace(run), adapter(run)
    loss_rel = [abs(x["loss"] - y["loss"]) / abs(y["loss"]) for x, y in zip(t, ref_t)]
    tensor_rel = {k: float(np.abs(a[k] - ref_a[k]).max() / (np.abs(ref_a[k]).max() + 1e-30)) for k in ref_a}
    rows[run] = dict(
        median_step_ms=round(1e3 * float(np.median([x["seconds"] for x in t[5:]])), 3),
        final_loss=t[-1]["loss"],
        loss_rel_diff_max_first20=max(loss_rel[:20]), loss_rel_diff_max_all=max(loss_rel),
        adapter_rel_diff_max=max(tensor_rel.values()),
        adapter_worst_tensor=max(tensor_rel, key=tensor_rel.get))
print(json.dumps(rows, indent=1))
