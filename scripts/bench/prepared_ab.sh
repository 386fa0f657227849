#!/usr/bin/env bash
# prepare's graphs against the exporter's at real size on the GPU: a plain dynamo export of the
# model (scripts/export_plain_model.py: the weights real_size_models.sh's exporter run builds),
# `lora-trainer prepare` on it (time, peak RSS), `check --against` the exporter's directory on the
# CUDA EP with TF32 off (loss and every gradient on one batch), then the trainer's LoRA and
# EFlat-LoRA steps on both directories and PyTorch + PEFT (sdpa) on the same step, one process each.
#   bash scripts/bench/prepared_ab.sh WORK ID export        # start both exports (waits for them)
#   CP=<trainer classpath> bash scripts/bench/prepared_ab.sh WORK ID run OUT
# ID: roberta-large-cls (seq-cls), gpt2-large-lm (causal-lm), clip-vit-b16 (contrastive) or
# qwen2vl-2b-l8-lm / qwen2vl-2b-lm (causal-lm with the model's config.json), as models.sh defines them.
set -uo pipefail
work=${1:?WORK}; id=${2:?ID}; phase=${3:?export or run}
here=$(cd "$(dirname "$0")" && pwd); scripts=$(dirname "$here")
. "$here/models.sh"
bench_model "$id" || exit 2
case $family in gpt2|qwen2vl) task=causal-lm ;; clip) task=contrastive ;; *) task=seq-cls ;; esac
extra=""; [ "$family" = qwen2vl ] && extra="--hf-config $work/$id-config/config.json"
export PYTHONUNBUFFERED=1
if [ "$phase" = export ]; then
  FP16=0 bash "$here/real_size_models.sh" "$work" "$id" &
  ( flock 9
    until [ -f "$work/$id-config/config.json" ]; do sleep 2; done  # written by real_size_models.sh first
    [ -f "$work/$id-plain/model.onnx" ] || { mkdir -p "$work/$id-plain" && t0=$(date +%s) \
      && python3 "$scripts/export_plain_model.py" --family "$family" --config "$work/$id-config" \
           --exporter dynamo --opset 18 --out "$work/$id-plain/model.onnx" > "$work/$id-plain.log" 2>&1; \
      echo "$id plain export exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$work/$id-plain.log"; }
  ) 9> "$work/$id-plain.lock"
  wait
  exit 0
fi
out=${4:?OUT}; : "${CP:?classpath}"
mkdir -p "$out"
for f in "$work/$id/manifest.json" "$work/$id-plain/model.onnx"; do
  [ -f "$f" ] || { echo "$f missing: run the export phase first" >&2; tail -3 "$work/$id.export.log" "$work/$id-plain.log" >&2; exit 1; }
done
J="java ${ORT_JAVA_OPTS:-} -cp $CP dev.loraort.trainer.cli.Main"
prepared=$work/$id-prepared
$J prepare --onnx "$work/$id-plain/model.onnx" --task "$task" --targets "$targets" --rank "$rank" --alpha "$alpha" \
  $extra --id "$id" --out "$prepared" --overwrite 2>&1 | tee "$out/$id.prepare.txt"
ln -sf "$work/$id.jsonl" "$prepared.jsonl"
python3 - "$work/$id" "$prepared" <<'PY' | tee "$out/$id.nodes.txt"
import json, sys
for d in sys.argv[1:]:
    m = json.load(open(d + "/manifest.json"))
    nodes = m.get("prepare", {}).get("nodes") or {k: m["checks"].get(k + "_ops", {}).get("nodes") for k in ("train", "infer")}
    print(d, "train nodes", nodes.get("train"), "infer nodes", nodes.get("infer"))
PY
$J check --model "$prepared" --against "$work/$id" --data "$work/$id.jsonl" --batch-size 2 --device cuda --no-tf32 \
  --tolerance 1e-4 2>&1 | grep -v "^\[" | tee "$out/$id.against_cuda.txt"
for d in "$work/$id" "$prepared"; do
  java_bench "$d" --steps 30 --warmup 5 --rounds 1 --methods lora,eflat-lora 2>&1 | grep -v "^\[" \
    | tee "$out/$id.bench.$(basename "$d").txt"
done
torch_bench "$work/$id-config" --attn sdpa --methods lora 2>&1 | tail -5 | tee "$out/$id.torch.txt"
