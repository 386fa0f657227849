#!/usr/bin/env bash
# One GPU run: exports a real-size RoBERTa-large classification graph (random init: no hub here),
# times the Java trainer on the CUDA EP for every method (lora-trainer bench) and PyTorch + PEFT on
# the same step.   CP=<trainer classpath> bash scripts/bench/run_gpu_bench.sh OUT
set -uo pipefail
out=${1:?OUT}; cp=${CP:?classpath}
here=$(cd "$(dirname "$0")" && pwd); scripts=$(dirname "$here")
mkdir -p "$out" /tmp/bench
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 - <<'PY'
from transformers import RobertaConfig
# roberta-large's architecture (hidden 1024, 24 layers, 16 heads, FFN 4096, vocab 50265)
RobertaConfig(vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
              max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
              eos_token_id=2, num_labels=2).save_pretrained("/tmp/bench/roberta-large-config")
import json, random
r = random.Random(0)
with open("/tmp/bench/data.jsonl", "w") as f:
    for i in range(512):
        ids = [0] + [r.randrange(3, 50000) for _ in range(126)] + [2]
        f.write(json.dumps({"input_ids": ids, "labels": r.randrange(2)}) + "\n")
PY
t0=$(date +%s)
[ -f /tmp/bench/roberta-large-cls/manifest.json ] || python3 "$scripts/export_lora_graph.py" --family roberta \
  --config /tmp/bench/roberta-large-config --id roberta-large-cls --rank 8 --alpha 16 --external-weights --keep-weights \
  --no-fixture --no-rwp --out /tmp/bench/roberta-large-cls > "$out/export.log" 2>&1
echo "export: exit $? in $(( $(date +%s) - t0 )) s"; [ -f "$out/export.log" ] && tail -1 "$out/export.log"
( while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; sleep 0.2; done ) > "$out/mem_java.txt" &
mon=$!
java ${ORT_JAVA_OPTS:-} -cp "$cp" dev.loraort.trainer.cli.Main bench --model /tmp/bench/roberta-large-cls \
  --data /tmp/bench/data.jsonl --device cuda --tf32 --batch-size 32 --steps 30 --warmup 5 --rounds 1 \
  --methods lora,lora-sam,fmlora,eflat-lora,bi-lora,lora-obar 2>&1 | tee "$out/java_bench.txt" | grep -v "^\[" | tail -12
kill $mon
echo "java process peak GPU memory (MiB, nvidia-smi): $(sort -n "$out/mem_java.txt" | tail -1)"
python3 "$here/torch_peft_bench.py" --config /tmp/bench/roberta-large-config --family roberta --batch 32 --seq 128 \
  --targets query,value --rank 8 2>&1 | grep '^{' | tee "$out/torch_bench.txt"
python3 "$here/torch_peft_bench.py" --config /tmp/bench/roberta-large-config --family roberta --batch 32 --seq 128 \
  --targets query,value --rank 8 --attn eager --methods lora 2>&1 | grep '^{' | tee -a "$out/torch_bench.txt"
