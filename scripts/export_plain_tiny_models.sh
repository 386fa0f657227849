#!/usr/bin/env bash
# Plain inference exports (scripts/export_plain_model.py) of the five tiny models, each with the
# dynamo exporter (opset 18) and the TorchScript exporter (opset 14), in parallel (run where torch
# is, e.g. the GPU machine). Writes OUT/<id>/model.onnx, OUT/<id>/model_ts.onnx and one JSON report
# line per export in OUT/logs/. The weights are checked against the committed onnx-models/<id>.
#   bash scripts/export_plain_tiny_models.sh OUT
set -uo pipefail
out=${1:?OUT}
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$out/logs"
run() {
  local id=$1 family=$2 exporter=$3 opset=$4 file=$5
  mkdir -p "$out/$id"
  python3 "$here/export_plain_model.py" --family "$family" --exporter "$exporter" --opset "$opset" \
      --compare "$here/../onnx-models/$id" --out "$out/$id/$file" > "$out/logs/$id-$exporter.log" 2>&1
  echo "$id $exporter exit=$?"
}
for m in tiny-roberta-cls:roberta tiny-bert-cls:bert tiny-gpt2-lm:gpt2 tiny-clip:clip tiny-qwen2vl:qwen2vl; do
  run "${m%%:*}" "${m##*:}" dynamo 18 model.onnx &
  run "${m%%:*}" "${m##*:}" torchscript 14 model_ts.onnx &
done
wait
tail -n 1 "$out"/logs/*.log
