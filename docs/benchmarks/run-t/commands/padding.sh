# real-size RoBERTa-large on variable-length token data: CUDA-graph runs padded to the longest vs to multiples
J="java ${ORT_JAVA_OPTS:-} -cp $CP dev.loraort.trainer.cli.Main"
python3 - <<'PY'
import json, random
random.seed(0)
src = [json.loads(l) for l in open("/tmp/work/roberta-large-cls.jsonl")]
with open("/tmp/work/var.jsonl", "w") as f:
    for i in range(512):
        e = dict(src[i % len(src)])
        n = random.randint(16, 128)
        for k, v in list(e.items()):
            if isinstance(v, list) and len(v) == 128:
                e[k] = v[:n]
        f.write(json.dumps(e) + "\n")
print("fields", list(src[0].keys()), "examples", len(src))
PY
for pad in 1 32 128; do
  $J train --model /tmp/work/prepared/roberta-large-cls --data /tmp/work/var.jsonl --steps 48 --batch-size 32 \
    --device cuda --no-progress --pad-to-multiple-of $pad --out "$OUT/pad$pad" --overwrite > "$OUT/pad$pad.log" 2>&1 &
  pid=$!; peak=0
  while kill -0 $pid 2>/dev/null; do
    m=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits); [ "$m" -gt "$peak" ] && peak=$m; sleep 0.2
  done
  echo "pad $pad: peak GPU MiB $peak; $(grep -E '^done|said|bound|graph' "$OUT/pad$pad.log" | tr '\n' ' ')"
  rm -f "$OUT/pad$pad"/*.safetensors "$OUT/pad$pad"/events* "$OUT/pad$pad"/adapter.onnx
done
