#!/usr/bin/env python3
"""One training step's GPU kernels and copies, from kernel_trace.cpp's records of two runs of the same
program that differ only in their number of steps (kernel_times.sh): per kernel, (longer run - shorter
run) / --steps, so session start, weight upload and warm-up cancel. Prints, per framework, kernels and
kernel milliseconds per step (against the step's wall time when --step-ms gives it: the rest is time the
GPU had no kernel running), copies per step, time by kind of kernel and the slowest kernels; then the
kinds side by side.

  python3 scripts/bench/kernel_summary.py --steps 10 [--step-ms LABEL=MS ...] \\
      LABEL SHORT.csv LONG.csv [LABEL SHORT.csv LONG.csv ...]

A run that wrote several files (one per process) can be given as a glob.
"""
import argparse
import collections
import glob
import re
import statistics
import sys

# first match wins, on short_name: fused attention before matrix products (flash kernels name gemm
# tiles too), layout before elementwise (PyTorch copies a transposed view with an elementwise kernel)
KINDS = [
    ("attention (fused)", r"flash|fmha|attention|_efficient"),
    ("matrix products", r"gemm|gemv|cutlass|xmma|cublas|nvjet|splitK|sm90_|sm80_|ampere_"),
    ("softmax", r"(?i)softmax"),
    ("norms", r"layer_?norm|rms_?norm|LayerNorm|GammaBeta|RowwiseMoments|ComputeInternalGradients"),
    ("reductions", r"reduce|Reduce"),
    ("layout (transpose, copy, pad, scatter, gather, concat, slice, expand)",
     r"transpose|Transpose|copy|Copy|[Pp]ad|[Ss]catter|[Gg]ather|[Cc]oncat|[Cc]at[A-Z_]|[Ss]lice|index|Expand|Split"),
    ("optimizer (PyTorch's multi-tensor AdamW)", r"multi_tensor_apply"),
    ("elementwise", r"elementwise|ElementWise|Elementwise|vectorized|unrolled|Binary|Unary|_Impl|Variadic|op_tensor|Fill"),
]


def short_name(kernel, depth_kept=1):
    """The function's qualified name with template arguments down to depth_kept (deeper ones emptied)
    and no parameter list: PyTorch's elementwise kernels say what they compute in their first template
    arguments (the functor), and both frameworks' full names run to kilobytes."""
    depth, out = 0, []
    for ch in kernel.replace("(anonymous namespace)", "{anon}").removeprefix("void "):
        if ch == "(" and depth == 0:
            break
        if ch == ">":
            depth -= 1
        if depth <= depth_kept:
            out.append(ch)
        if ch == "<":
            depth += 1
    return "".join(out).strip()


def kind(kernel):
    name = short_name(kernel)
    return next((k for k, pattern in KINDS if re.search(pattern, name)), "other")


def read(pattern):
    """({kernel name: [ns, launches]}, {(copy direction, bytes): [durations in ns]}) of a run's trace files."""
    paths = sorted(glob.glob(pattern))
    if not paths:
        sys.exit(f"{pattern}: no trace file (did the program start CUDA with kernel_trace loaded?)")
    kernels = collections.defaultdict(lambda: [0, 0])
    copies = collections.defaultdict(list)
    for path in paths:
        names = {}
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                fields = line.rstrip("\n").split(",", 4)
                if len(fields) != 5:
                    sys.exit(f"{path}:{line_no}: expected kind,start,end,stream,name; got {line[:80]!r}")
                what, start, end, _, name = fields
                if what == "name":
                    names[start] = name
                elif what == "kernel":
                    k = kernels[names[name]]
                    k[0] += int(end) - int(start)
                    k[1] += 1
                elif what == "memcpy":
                    direction, nbytes = name.split(" ")
                    copies[(direction, int(nbytes))].append(int(end) - int(start))
                elif what == "dropped":
                    sys.exit(f"{path}: CUPTI dropped {name} records; the sums would be short")
    if not kernels:
        sys.exit(f"{pattern}: no kernel recorded")
    return kernels, copies


def per_step(short, long, steps):
    """{kernel: (ms, count)} of one step: (long - short) / steps; kernels only in the short run drop out."""
    out = {}
    for k, (ns, n) in long.items():
        ns0, n0 = short.get(k, (0, 0))
        if n > n0:
            out[k] = ((ns - ns0) / steps / 1e6, (n - n0) / steps)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, required=True, help="how many more steps the LONG runs took")
    ap.add_argument("--step-ms", action="append", default=[], metavar="LABEL=MS",
                    help="the label's median step time, measured without tracing")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("runs", nargs="+", help="LABEL SHORT LONG, repeated")
    a = ap.parse_args()
    if len(a.runs) % 3:
        sys.exit("runs come in threes: LABEL SHORT LONG")
    step_ms = {k: float(v) for k, v in (s.split("=", 1) for s in a.step_ms)}
    kinds = {}
    for i in range(0, len(a.runs), 3):
        label, short, long = a.runs[i:i + 3]
        (k_short, c_short), (k_long, c_long) = read(short), read(long)
        step = per_step(k_short, k_long, a.steps)
        total = sum(ms for ms, _ in step.values())
        launches = sum(n for _, n in step.values())
        wall = step_ms.get(label)
        busy = f"; step {wall:.2f} ms, a kernel running {total / wall:.1%} of it" if wall else ""
        print(f"{label}: {launches:.0f} kernels per step, {total:.2f} ms of kernel time per step{busy}")
        # copies per direction and size: the count is exact by difference, the time is count x the median
        # copy of that size (a difference of sums would carry the noise of the weights' one-off upload)
        by_direction = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
        for (direction, nbytes), durations in c_long.items():
            n = (len(durations) - len(c_short.get((direction, nbytes), []))) / a.steps
            if n > 0:
                d = by_direction[direction]
                d[0] += n * statistics.median(durations) / 1e6
                d[1] += n
                d[2] += n * nbytes
        for direction, (ms, n, nbytes) in sorted(by_direction.items()):
            print(f"  copies {direction}: {n:.0f} per step, {nbytes / 2**20:.2f} MiB, {ms:.2f} ms")
        by_kind = collections.defaultdict(lambda: [0.0, 0.0])
        for k, (ms, n) in step.items():
            total_of_kind = by_kind[kind(k)]
            total_of_kind[0] += ms
            total_of_kind[1] += n
        kinds[label] = by_kind
        for k, (ms, n) in sorted(by_kind.items(), key=lambda x: -x[1][0]):
            print(f"  {ms:9.2f} ms {ms / total:6.1%} {n:7.0f} kernels  {k}")
        print("  slowest kernels (ms per step, launches per step, name):")
        for k, (ms, n) in sorted(step.items(), key=lambda x: -x[1][0])[:a.top]:
            print(f"  {ms:9.2f} ms {n:7.0f}  {short_name(k)[:160]}")
    if len(kinds) > 1:
        labels = list(kinds)
        print("kernel ms per step by kind: " + " | ".join(labels))
        for k in sorted({k for v in kinds.values() for k in v}, key=lambda k: (-kinds[labels[0]].get(k, [0])[0], k)):
            print("  " + " | ".join(f"{kinds[lb].get(k, [0.0])[0]:8.2f}" for lb in labels) + f"  {k}")


if __name__ == "__main__":
    main()
