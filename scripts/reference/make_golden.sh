#!/usr/bin/env bash
# Writes the golden traces of conformance-tests/golden/ with the PyTorch reference (run where torch is).
#   bash scripts/reference/make_golden.sh OUT_ROOT
set -uo pipefail
out=${1:?OUT_ROOT}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$out/logs"
run() { python3 "$here/reference.py" --model "$root/onnx-models/$1" --method "$2" --out "$out/$1/$2" > "$out/logs/$1.$2.log" 2>&1; echo "$1 $2 exit=$?"; }
for model in tiny-roberta-cls tiny-gpt2-lm; do
  for method in lora lora-sam fmlora eflat-lora bi-lora lora-obar lora-nbar; do run $model $method & done
done
# at the default mu_0 the two BAR variants choose alike on tiny-gpt2-lm; at 10 they part
for method in lora-obar lora-nbar; do
  python3 "$here/reference.py" --model "$root/onnx-models/tiny-gpt2-lm" --method $method --bar-mu 10 \
    --out "$out/tiny-gpt2-lm/$method-mu10" > "$out/logs/tiny-gpt2-lm.$method-mu10.log" 2>&1 &
done
for model in tiny-clip tiny-qwen2vl; do
  for method in lora eflat-lora; do run $model $method & done
done
wait
