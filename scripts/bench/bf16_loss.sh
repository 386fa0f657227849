#!/usr/bin/env bash
# bf16 mixed precision against strict fp32 over a whole run on the GPU: the same model, seed, data
# and schedule trained twice (`train --device cuda --no-tf32` and `--bf16`), the per-step losses
# compared by trace_diff.py. Models: prepare's graphs of the tiny RoBERTa (its sample task) and the
# tiny GPT-2 (a learnable token sequence), and, when given, real all-MiniLM-L6-v2 on IMDB reviews
# (the test accuracy of both runs as well).
#   CP=<trainer classpath> bash scripts/bench/bf16_loss.sh OUT [MINILM_JAR IMDB_DIR]
# IMDB_DIR: pool.jsonl and test.jsonl as scripts/results/imdb_split.py writes them.
set -uo pipefail
out=${1:?OUT}; jar=${2:-}; imdb=${3:-}; : "${CP:?classpath}"
here=$(cd "$(dirname "$0")" && pwd); root=$(dirname "$(dirname "$here")")
J="java ${ORT_JAVA_OPTS:-} -cp $CP dev.loraort.trainer.cli.Main"
mkdir -p "$out"
pair() {  # NAME MODEL_DIR [train options]: fp32 and bf16 runs, then their difference
  local name=$1 model=$2; shift 2
  for p in fp32 bf16; do
    flag=""; [ $p = bf16 ] && flag=--bf16
    $J train --model "$model" --device cuda --no-tf32 $flag --seed 0 --out "$out/$name-$p" \
      --trace "$out/$name-$p.trace.jsonl" "$@" 2>&1 | grep -v "^\[\|^step" | tail -n 3
  done
  python3 "$here/trace_diff.py" "$out/$name-fp32" "$out/$name-bf16" | tee "$out/$name.diff.txt"
}
$J prepare --onnx "$root/onnx-models/tiny-roberta-cls/plain/model.onnx" --task seq-cls --out "$out/tiny-roberta" \
  --overwrite | tail -n 1
pair tiny-roberta "$out/tiny-roberta" --data "$root/onnx-models/tiny-roberta-cls/sample/train.jsonl" --steps 200
$J prepare --onnx "$root/onnx-models/tiny-gpt2-lm/plain/model.onnx" --task causal-lm --out "$out/tiny-gpt2" \
  --overwrite | tail -n 1
python3 - "$out/gpt2.jsonl" <<'PY'
import json, random, sys
r = random.Random(0)
with open(sys.argv[1], "w") as f:  # counting runs from a random start: learnable, not memorized
    for _ in range(512):
        s = r.randrange(1000)
        f.write(json.dumps({"input_ids": [(s + 3 * k) % 1000 for k in range(32)]}) + "\n")
PY
pair tiny-gpt2 "$out/tiny-gpt2" --data "$out/gpt2.jsonl" --steps 200 --lr 0.02
[ -n "$jar" ] || exit 0
$J prepare --onnx "$jar" --task seq-cls --out "$out/minilm" --overwrite | tail -n 1
pair minilm-imdb "$out/minilm" --data "$imdb/pool.jsonl" --eval-data "$imdb/test.jsonl" --eval-every 200 \
  --steps 200 --batch-size 16 --lr 0.001
