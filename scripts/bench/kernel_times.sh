#!/usr/bin/env bash
# GPU kernel time per LoRA step, ours (Java trainer, CUDA EP) against PyTorch + PEFT (sdpa) on the same
# model and step, from CUPTI activity records (kernel_trace.cpp, loaded into both programs through
# CUDA_INJECTION64_PATH). Each framework runs twice, with SHORT and LONG timed steps after one warm-up
# (KT_STEPS, default "2 12"); the per-kernel difference of the two runs over LONG - SHORT steps is one
# step's kernels, free of session start, weight upload and warm-up. Then each framework's median step
# time untraced (30 steps after 5), against which the kernel time is the share of the step a kernel ran.
# BF16=1: ours in TF32 and in bf16 (`bench --bf16`: both sessions in one process, told apart by
# split_sessions.py) against PyTorch under bf16 autocast.
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
java_extra=""; torch_extra=""
[ -n "${BF16:-}" ] && { java_extra="--bf16"; torch_extra="--amp bf16"; }
for steps in "$short" "$long"; do
  traced "java_$steps" java_bench "$work/$id" --steps "$steps" --warmup 1 --rounds 1 --methods lora $java_extra || exit 1
  traced "torch_$steps" torch_bench "$work/$id-config" --attn sdpa --methods lora --steps "$steps" --warmup 1 \
    $torch_extra || exit 1
done
java_bench "$work/$id" --steps 30 --warmup 5 --rounds 1 --methods lora $java_extra > "$out/$id.java_step.txt" 2>&1
step_of() { sed -n "s/^$1  *\([0-9.]*\) .*/\1/p" "$out/$id.java_step.txt" | head -1; }  # the row's step ms
torch_ms=$(torch_bench "$work/$id-config" --attn sdpa --methods lora $torch_extra 2>&1 | tee "$out/$id.torch_step.txt" \
  | python3 -c 'import json, sys; print(next(json.loads(l)["median_ms"] for l in sys.stdin if l.startswith("{")))')
k=$((long - short))
if [ -z "${BF16:-}" ]; then
  python3 "$here/kernel_summary.py" --steps $k --step-ms "ours=$(step_of lora)" --step-ms "pytorch=$torch_ms" \
    ours "$out/$id.java_$short.*.csv" "$out/$id.java_$long.*.csv" \
    pytorch "$out/$id.torch_$short.*.csv" "$out/$id.torch_$long.*.csv" | tee "$out/$id.kernel_times.txt"
  exit 0
fi
for steps in "$short" "$long"; do  # one process, two sessions: TF32 first, then bf16
  python3 "$here/split_sessions.py" "$(ls "$out/$id.java_$steps".*.csv | head -1)" "$out/$id.java_$steps.session"
done
python3 "$here/kernel_summary.py" --steps $k --step-ms "ours-tf32=$(step_of lora)" \
  --step-ms "ours-bf16=$(step_of 'lora bf16')" --step-ms "pytorch-bf16=$torch_ms" \
  ours-tf32 "$out/$id.java_$short.session.1.csv" "$out/$id.java_$long.session.1.csv" \
  ours-bf16 "$out/$id.java_$short.session.2.csv" "$out/$id.java_$long.session.2.csv" \
  pytorch-bf16 "$out/$id.torch_$short.*.csv" "$out/$id.torch_$long.*.csv" | tee "$out/$id.kernel_times.txt"
