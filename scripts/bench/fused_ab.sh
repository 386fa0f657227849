#!/usr/bin/env bash
# The fused backward kernels at real size on the GPU: a plain dynamo export of each model, `prepare`
# (train.onnx and train_fused.onnx), the fused graph checked against the plain one on the CUDA EP with
# TF32 off (loss and every gradient on one batch), then, one process each and TF32 on: the trainer's
# LoRA and EFlat-LoRA steps in each of VARIANTS (KERNELS:IO pairs, default: train.onnx copied,
# train_fused.onnx copied, train_fused.onnx replayed as a CUDA graph), with each process's peak
# GPU memory (nvidia-smi), and PyTorch + PEFT's LoRA step eager (sdpa) and torch.compile'd.
# NO_CHECK=1 skips the check, NO_TORCH=1 the PyTorch steps. RECOMPUTE_ATTENTION=1 prepares with
# --recompute-attention, into prepared/ID-recompute (so both can be timed on one export).
#   bash scripts/bench/fused_ab.sh WORK export ID...          # config, token data, plain export (waits)
#   CP=<trainer classpath> bash scripts/bench/fused_ab.sh WORK run OUT ID
#   CP=<trainer classpath> bash scripts/bench/fused_ab.sh WORK kernels OUT ID   # kernel_times.sh on train_fused
# ID: roberta-large-cls, gpt2-large-lm, clip-vit-b16, ... as models.sh defines them.
set -uo pipefail
work=${1:?WORK}; phase=${2:?export, run or kernels}; shift 2
here=$(cd "$(dirname "$0")" && pwd); scripts=$(dirname "$here")
. "$here/models.sh"
export PYTHONUNBUFFERED=1
if [ "$phase" = export ]; then
  for id in "$@"; do
    ( bench_model "$id" || exit 2
      DATA_ONLY=1 bash "$here/real_size_models.sh" "$work" "$id" || exit 1
      [ -f "$work/$id-plain/model.onnx" ] && exit 0
      mkdir -p "$work/$id-plain"; t0=$(date +%s)
      python3 "$scripts/export_plain_model.py" --family "$family" --config "$work/$id-config" \
        --exporter dynamo --opset 18 --out "$work/$id-plain/model.onnx" > "$work/$id-plain.log" 2>&1
      echo "$id plain export exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$work/$id-plain.log" ) &
  done
  wait
  exit 0
fi
out=${1:?OUT}; id=${2:?ID}; : "${CP:?classpath}"
bench_model "$id" || exit 2
case $family in gpt2|qwen2vl) task=causal-lm ;; clip) task=contrastive ;; *) task=seq-cls ;; esac
extra=""; [ "$family" = qwen2vl ] && extra="--hf-config $work/$id-config/config.json"
mkdir -p "$out"
prepared=$work/prepared/$id${RECOMPUTE_ATTENTION:+-recompute}  # beside it: $id.jsonl and $id-config, as java_bench and kernel_times.sh read them
if [ "$phase" = kernels ]; then
  [ -d "$prepared" ] || { echo "$prepared missing: run the run phase first" >&2; exit 1; }
  JAVA_BENCH_EXTRA="--kernels fused" bash "$here/kernel_times.sh" "$out" "$work/prepared" "$id"
  exit $?
fi
[ -f "$work/$id-plain/model.onnx" ] || { echo "$work/$id-plain/model.onnx missing: run the export phase" >&2; \
  tail -3 "$work/$id-plain.log" >&2; exit 1; }
J="java ${ORT_JAVA_OPTS:-} -cp $CP dev.loraort.trainer.cli.Main"
mkdir -p "$work/prepared"
ln -sfn "$work/$id-config" "$work/prepared/$id-config"
ln -sf "$work/$id.jsonl" "$prepared.jsonl"
[ -n "${RECOMPUTE_ATTENTION:-}" ] && extra="$extra --recompute-attention"
$J prepare --onnx "$work/$id-plain/model.onnx" --task "$task" --targets "$targets" --rank "$rank" --alpha "$alpha" \
  $extra --id "$id" --out "$prepared" --overwrite 2>&1 | tee "$out/$id.prepare.txt"
[ -n "${NO_CHECK:-}" ] || $J check --model "$prepared" --kernels fused --against "$prepared" \
  --data "$work/$id.jsonl" --batch-size 2 --device cuda --no-tf32 2>&1 | grep -v "^\[" \
  | tee "$out/$id.fused_vs_plain.txt"
for v in ${VARIANTS:-plain:copy fused:copy fused:cuda-graph}; do
  k=${v%%:*}; io=${v#*:}; name=${k}_$io
  memory_monitor > "$out/$id.mem_$name.txt" &
  mon=$!
  java_bench "$prepared" --kernels $k --io $io --steps 30 --warmup 5 --rounds 1 --methods lora,eflat-lora \
    2>&1 | grep -v "^\[" | tee "$out/$id.bench_$name.txt"
  kill $mon
  echo "java --kernels $k --io $io peak GPU memory (MiB, nvidia-smi):" \
    "$(memory_peak "$out/$id.mem_$name.txt")" | tee -a "$out/$id.bench_$name.txt"
done
[ -n "${NO_TORCH:-}" ] && exit 0
memory_monitor > "$out/$id.mem_torch.txt" &
mon=$!
torch_bench "$work/$id-config" --attn sdpa --methods lora 2>&1 | grep '^{' | tee "$out/$id.torch.txt"
kill $mon
echo "torch eager peak GPU memory (MiB, nvidia-smi): $(memory_peak "$out/$id.mem_torch.txt")" \
  | tee -a "$out/$id.torch.txt"
memory_monitor > "$out/$id.mem_torch_compile.txt" &
mon=$!
torch_bench "$work/$id-config" --attn sdpa --methods lora --compile --warmup 10 2>&1 | grep '^{' \
  | tee -a "$out/$id.torch.txt"
kill $mon
echo "torch compiled peak GPU memory (MiB, nvidia-smi): $(memory_peak "$out/$id.mem_torch_compile.txt")" \
  | tee -a "$out/$id.torch.txt"
