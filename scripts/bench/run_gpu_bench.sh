#!/usr/bin/env bash
# The GPU benchmark, one model per call, all in one process per framework on one GPU: the Java
# trainer on the CUDA EP for each method (lora-trainer bench: medians, ratios, host phases), an
# ONNX Runtime profile of a few LoRA steps, and PyTorch + PEFT on the same step.
#   CP=<trainer classpath> bash scripts/bench/run_gpu_bench.sh OUT WORK ID
# PARTS=fp16 runs only the mixed-precision comparison (Java fp32 vs fp16, torch autocast fp16/bf16);
# PARTS=fp32 everything else (for graphs exported with FP16=0). METHODS=lora,eflat-lora,... narrows the
# all-method Java run (each method opens its own session, a full graph load).
# ID: roberta-large-cls, gpt2-medium-lm, gpt2-large-lm, clip-vit-b16, qwen2vl-2b-lm or qwen2vl-2b-l8-lm (exported into WORK by real_size_models.sh, which this
# runs, or waits for, first).
set -uo pipefail
out=${1:?OUT}; work=${2:?WORK}; id=${3:?ID}; : "${CP:?classpath}"; parts=${PARTS:-all}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
export PYTHONUNBUFFERED=1
. "$here/models.sh"
bench_model "$id" || exit 2
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
fp16_graph=1; [ "$parts" = fp32 ] && fp16_graph=0  # PARTS=fp32 needs no train_fp16.onnx
FP16=$fp16_graph bash "$here/real_size_models.sh" "$work" "$id" || { tail -5 "$work/$id.export.log"; exit 1; }
grep -h "export exit" "$work/$id.export.log"
monitor() {  # GPU memory used (MiB) and utilization (% of time a kernel ran) every 0.2 s, until killed
  while true; do nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits; sleep 0.2; done
}
monitor > "$out/$id.mem_java_$parts.txt" &
mon=$!
if [ "$parts" != fp16 ]; then
  java_bench "$work/$id" --steps 30 --warmup 5 --rounds 1 --methods "${METHODS:-lora,lora-sam,fmlora,eflat-lora,bi-lora,lora-obar}" \
    2>&1 | grep -v "^\[" | tee "$out/$id.java_bench.txt"
fi
if [ "$parts" != fp32 ]; then
  # mixed precision: fp32 and fp16 of the one-pass methods in one process, with fp16's distance from fp32
  java_bench "$work/$id" --steps 30 --warmup 5 --rounds 1 --methods lora,eflat-lora --fp16 \
    2>&1 | grep -v "^\[" | tee "$out/$id.java_bench_fp16.txt"
fi
kill $mon
echo "java process peak GPU memory (MiB, nvidia-smi): $(cut -d, -f1 "$out/$id.mem_java_$parts.txt" | sort -n | tail -1)" \
  | tee "$out/$id.java_peak_memory.txt"
if [ "$parts" != fp16 ]; then
  # is the GPU kept busy? utilization while LoRA steps alone run (samples after the graph is loaded)
  monitor > "$out/$id.util_lora.txt" &
  mon=$!
  java_bench "$work/$id" --steps 60 --warmup 5 --rounds 1 --methods lora > /dev/null 2>&1
  kill $mon
  # samples at >= 95% of the run's peak memory: the steps, not the graph loading
  peak=$(cut -d, -f1 "$out/$id.util_lora.txt" | sort -n | tail -1)
  echo "GPU utilization during LoRA steps (% of time a kernel ran, median of samples): $(awk -F', ' -v p="$peak" \
    '$1 >= 0.95 * p {print $2}' "$out/$id.util_lora.txt" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    | tee -a "$out/$id.java_peak_memory.txt"
  java_bench "$work/$id" --steps 4 --warmup 2 --rounds 1 --methods lora --ort-profile "/tmp/ort-profile-$id" > /dev/null 2>&1
  python3 "$here/ort_profile_summary.py" /tmp/ort-profile-$id/*.json --skip 3 --top 20 | tee "$out/$id.ort_profile.txt"
fi
for attn in sdpa eager; do
  methods=lora,lora-sam,fmlora,eflat-lora; [ $attn = eager ] && methods=lora
  [ "$parts" != fp16 ] && torch_bench "$work/$id-config" --attn $attn --methods $methods 2>&1 | grep '^{'
  [ "$parts" = fp32 ] && continue
  for amp in fp16 bf16; do
    torch_bench "$work/$id-config" --attn $attn --methods lora,eflat-lora --amp $amp 2>&1 | grep '^{'
  done
done | tee "$out/$id.torch_bench${PARTS:+_$parts}.txt"
