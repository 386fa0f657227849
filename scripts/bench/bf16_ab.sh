#!/usr/bin/env bash
# bf16 mixed precision at real size on the GPU, one process per framework: `prepare` (which writes
# train_bf16.onnx and train_fused_bf16.onnx beside the float32 graphs), then the trainer's LoRA and
# EFlat-LoRA steps in TF32 and in bf16 (fused kernels, replayed as a CUDA graph where it captures; `bench --bf16` also
# prints how far bf16's first step and its last loss are from fp32's on the same start and batches),
# then PyTorch + PEFT's LoRA step under bf16 autocast, eager (sdpa) and torch.compile'd, each with its
# peak GPU memory (nvidia-smi).
#   bash scripts/bench/fused_ab.sh WORK export ID...     # config, token data, plain export (waits)
#   CP=<trainer classpath> bash scripts/bench/bf16_ab.sh WORK OUT ID
# NO_TORCH=1 skips PyTorch; TORCH_MODES picks its steps among eager, compile (default mode) and
# reduce-overhead (compiled, CUDA graphs) (default: "eager compile"). RECOMPUTE_ATTENTION=1 times a
# directory prepared with --recompute-attention (fused_ab.sh's), for the same ID's A/B.
# ID: roberta-large-cls, gpt2-large-lm, clip-vit-b16, qwen2vl-2b-l8-lm, ... as models.sh defines them.
set -uo pipefail
work=${1:?WORK}; out=${2:?OUT}; id=${3:?ID}; : "${CP:?classpath}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/models.sh"
bench_model "$id" || exit 2
mkdir -p "$out"
NO_CHECK=1 NO_TORCH=1 VARIANTS=" " bash "$here/fused_ab.sh" "$work" run "$out" "$id" > /dev/null || exit 1
memory_monitor > "$out/$id.mem_java.txt" &
mon=$!
java_bench "$work/prepared/$id${RECOMPUTE_ATTENTION:+-recompute}" --kernels fused --bf16 --steps 30 --warmup 5 --rounds 1 \
  --methods lora,eflat-lora 2>&1 | grep -v "^\[" | tee "$out/$id.bench_bf16.txt"
kill $mon
echo "java (tf32 and bf16 sessions, one after the other) peak GPU memory (MiB, nvidia-smi): $(memory_peak "$out/$id.mem_java.txt")" \
  | tee -a "$out/$id.bench_bf16.txt"
[ -n "${NO_TORCH:-}" ] && exit 0
for mode in ${TORCH_MODES:-eager compile}; do
  memory_monitor > "$out/$id.mem_torch_$mode.txt" &
  mon=$!
  case $mode in
    compile|reduce-overhead)  # torch.compile's default mode, or with CUDA graphs as our replay
      c=default; [ $mode = reduce-overhead ] && c=reduce-overhead
      torch_bench "$work/$id-config" --attn sdpa --methods lora --amp bf16 --compile $c --warmup 10 2>&1 | grep '^{' \
        | tee -a "$out/$id.torch_bf16.txt" ;;
    *) torch_bench "$work/$id-config" --attn sdpa --methods lora --amp bf16 2>&1 | grep '^{' | tee -a "$out/$id.torch_bf16.txt" ;;
  esac
  kill $mon
  echo "torch bf16 $mode peak GPU memory (MiB, nvidia-smi): $(memory_peak "$out/$id.mem_torch_$mode.txt")" \
    | tee -a "$out/$id.torch_bf16.txt"
done
