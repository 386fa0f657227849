#!/usr/bin/env bash
# GPU kernel time per LoRA step, ours (Java trainer, CUDA EP) against PyTorch + PEFT (sdpa) on the same
# model and step, from CUPTI activity records (kernel_trace.cpp, loaded into both programs through
# CUDA_INJECTION64_PATH). Each framework runs twice, with SHORT and LONG timed steps after one warm-up
# (KT_STEPS, default "2 12"); the per-kernel difference of the two runs over LONG - SHORT steps is one
# step's kernels, free of session start, weight upload and warm-up. Then each framework's median step
# time untraced (30 steps after 5), against which the kernel time is the share of the step a kernel ran.
#   CP=<trainer classpath> bash scripts/bench/kernel_times.sh OUT WORK ID      (WORK/ID exported first)
set -uo pipefail
out=${1:?OUT}; work=${2:?WORK}; id=${3:?ID}; : "${CP:?classpath}"
read -r short long <<< "${KT_STEPS:-2 12}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/models.sh"
bench_model "$id" || exit 2
[ -d "$work/$id" ] || { echo "no $work/$id: run real_size_models.sh $work $id first" >&2; exit 2; }
mkdir -p "$out"
export PYTHONUNBUFFERED=1

# the CUDA toolkit's CUPTI (headers and library side by side), else the one of the Python packages
cupti_h=$(find /usr/local/cuda/ "$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))')" \
  -name cupti.h 2>/dev/null | head -1)
cuda_h=$(find /usr/local/cuda/ -name cuda.h 2>/dev/null | head -1)
[ -n "$cupti_h" ] && [ -n "$cuda_h" ] || { echo "CUPTI's cupti.h or CUDA's cuda.h not found" >&2; exit 2; }
cupti_so=$(find "$(dirname "$cupti_h")/.." -name 'libcupti.so*' 2>/dev/null | sort | head -1)
[ -n "$cupti_so" ] || { echo "no libcupti.so beside $cupti_h" >&2; exit 2; }
tracer=$out/libkernel_trace.so
g++ -shared -fPIC -O2 -I"$(dirname "$cupti_h")" -I"$(dirname "$cuda_h")" "$here/kernel_trace.cpp" \
  "$cupti_so" -Wl,-rpath,"$(dirname "$cupti_so")" -o "$tracer" || { echo "building $tracer failed" >&2; exit 2; }
echo "tracer: $tracer, CUPTI $cupti_so"

traced() {  # LABEL COMMAND...: the command with every kernel recorded into OUT/ID.LABEL.<pid>.csv
  local label=$1
  shift
  rm -f "$out/$id.$label".*.csv
  CUDA_INJECTION64_PATH=$tracer KERNEL_TRACE_PREFIX=$out/$id.$label "$@" > "$out/$id.$label.log" 2>&1 \
    || { echo "$label failed: $out/$id.$label.log" >&2; tail -5 "$out/$id.$label.log" >&2; return 1; }
}
for steps in "$short" "$long"; do
  traced "java_$steps" java_bench "$work/$id" --steps "$steps" --warmup 1 --rounds 1 --methods lora || exit 1
  traced "torch_$steps" torch_bench "$work/$id-config" --attn sdpa --methods lora --steps "$steps" --warmup 1 || exit 1
done
java_ms=$(java_bench "$work/$id" --steps 30 --warmup 5 --rounds 1 --methods lora 2>&1 | tee "$out/$id.java_step.txt" \
  | awk '$1 == "lora" && $2 ~ /^[0-9.]+$/ && !seen++ {print $2}')  # the first (TF32) row
torch_ms=$(torch_bench "$work/$id-config" --attn sdpa --methods lora 2>&1 | tee "$out/$id.torch_step.txt" \
  | python3 -c 'import json, sys; print(next(json.loads(l)["median_ms"] for l in sys.stdin if l.startswith("{")))')
python3 "$here/kernel_summary.py" --steps $((long - short)) --step-ms "ours=$java_ms" --step-ms "pytorch=$torch_ms" \
  ours "$out/$id.java_$short.*.csv" "$out/$id.java_$long.*.csv" \
  pytorch "$out/$id.torch_$short.*.csv" "$out/$id.torch_$long.*.csv" | tee "$out/$id.kernel_times.txt"
