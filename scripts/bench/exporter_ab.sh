#!/usr/bin/env bash
# An exporter change measured before/after on the GPU, in one run (run N of BENCHMARKS.md; run M was made by the same steps):
# exports ID with BEFORE_SCRIPTS (another revision's scripts/ folder) and with this checkout's scripts/, in
# parallel; counts each train graph's nodes by op type; then, with nothing else running, times the Java
# trainer's LoRA and EFlat-LoRA steps on both graphs and PyTorch + PEFT's LoRA step on the same model.
#   git archive REV scripts | tar -x -C /tmp/before        (here; BEFORE_SCRIPTS=/tmp/before/scripts must know ID)
#   CP=<trainer classpath> bash scripts/bench/exporter_ab.sh OUT WORK ID BEFORE_SCRIPTS
set -uo pipefail
out=${1:?OUT}; work=${2:?WORK}; id=${3:?ID}; before=${4:?BEFORE_SCRIPTS}; : "${CP:?classpath}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/models.sh"
bench_model "$id" || exit 2
mkdir -p "$out" "$work/before" "$work/after"
export PYTHONUNBUFFERED=1
OMP_NUM_THREADS=6 FP16=0 bash "$before/bench/real_size_models.sh" "$work/before" "$id" &
before_pid=$!
OMP_NUM_THREADS=6 FP16=0 bash "$here/real_size_models.sh" "$work/after" "$id" &
after_pid=$!
wait $before_pid || { tail -5 "$work/before/$id.export.log"; exit 1; }
wait $after_pid || { tail -5 "$work/after/$id.export.log"; exit 1; }
for v in before after; do
  grep -h "export exit" "$work/$v/$id.export.log"
  python3 - "$work/$v/$id/train.onnx" "$v" <<'PY' | tee -a "$out/$id.ops.txt"
import collections
import sys

import onnx

m = onnx.load(sys.argv[1], load_external_data=False)
count = collections.Counter(n.op_type for n in m.graph.node)
print(sys.argv[2], len(m.graph.node), "nodes:", ", ".join(f"{op} {n}" for op, n in count.most_common()))
PY
done
for v in before after; do
  java_bench "$work/$v/$id" --steps 30 --warmup 5 --rounds 1 --methods lora,eflat-lora 2>&1 | grep -v "^\[" \
    | tee "$out/$id.java_bench_$v.txt"
done
torch_bench "$work/after/$id-config" --attn sdpa --methods lora 2>&1 | grep '^{' | tee "$out/$id.torch_bench.txt"
