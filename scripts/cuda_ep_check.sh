#!/usr/bin/env bash
# The trainer on ONNX Runtime's CUDA EP against the CPU EP, on one GPU machine, in one run:
#  1. every tiny model's fixture through its graphs on CUDA, TF32 off and on (lora-trainer check);
#  2. the same training run (tiny-roberta-cls, 100 steps, seed 0) on CPU, CUDA fp32 and CUDA TF32:
#     per-step losses, final adapters and median step times compared by cuda_ep_compare.py.
# Usage (java on PATH, the trainer's classpath in CP):  CP=... bash scripts/cuda_ep_check.sh OUT
set -uo pipefail
out=${1:?OUT}
cp=${CP:?set CP to the trainer classpath}
mkdir -p "$out"
run() { java ${ORT_JAVA_OPTS:-} -cp "$cp" dev.loraort.trainer.cli.Main "$@"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
for d in onnx-models/tiny-*; do
  run check --model "$d" --device cuda --no-tf32
  run check --model "$d" --device cuda --tf32
done 2>&1 | tee "$out/checks.txt"
common=(train --model onnx-models/tiny-roberta-cls --data onnx-models/tiny-roberta-cls/sample/train.jsonl
        --steps 100 --lr 5e-3 --seed 0 --no-progress)
run "${common[@]}" --device cpu --out "$out/cpu" --trace "$out/cpu/trace.jsonl" 2>&1 | tail -2
run "${common[@]}" --device cuda --no-tf32 --out "$out/cuda-fp32" --trace "$out/cuda-fp32/trace.jsonl" 2>&1 | tail -2
run "${common[@]}" --device cuda --tf32 --out "$out/cuda-tf32" --trace "$out/cuda-tf32/trace.jsonl" 2>&1 | tail -2
python3 "$(dirname "$0")/cuda_ep_compare.py" "$out" | tee "$out/compare.txt"
