#!/usr/bin/env bash
# Sharpness of every adapter of imdb_minilm.sh's runs (full weight space of the adapted layers, on
# the first 64 training reviews): one CSV line per run.
#   bash scripts/results/imdb_sharpness.sh OUT [RHO] [DEVICE]      (TRAINER_JAR, TRAINER_CMD: as imdb_minilm.sh)
set -euo pipefail
out=${1:?OUT}; rho=${2:-0.05}; device=${3:-cpu}
root=$(cd "$(dirname "$0")/../.." && pwd)
J=${TRAINER_CMD:-"java -jar ${TRAINER_JAR:-$root/trainer/target/lora-trainer.jar}"}
# TOKENIZER: a tokenizer.json for machines without the model's Maven jar (default: the manifest's)
tok=${TOKENIZER:+--tokenizer $TOKENIZER}
M=$root/onnx-models/all-minilm-l6-v2-cls
echo "method,seed,rho,clean_loss,adversarial_increase,random_mean_increase" > "$out/sharpness.csv"
for run in "$out"/runs/*/; do
  name=$(basename "$run"); method=${name%-*}; seed=${name##*-}
  $J sharpness --model "$M" $tok --adapter "$run/adapter.onnx" --data "$out/data/train.jsonl" --rho "$rho" \
    --steps 3 --directions 8 --device "$device" --out "$run/sharpness.json" > "$run/sharpness.log" 2>&1
  python3 -c "import json,sys; s=json.load(open('$run/sharpness.json')); print(f\"$method,$seed,$rho,{s['cleanLoss']:.5f},{s['adversarialIncrease']:.5f},{s['randomMeanIncrease']:.6f}\")" >> "$out/sharpness.csv"
  tail -1 "$out/sharpness.csv"
done
