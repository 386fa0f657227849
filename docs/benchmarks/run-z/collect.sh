# next run, every later call: wait up to $1 s for the pipeline (or its end), then show and return what
# it wrote (the study's summary, table, plot and run.json/result.json files; no adapters or checkpoints)
O=/tmp/runz; end=$(( $(date +%s) + ${1:-500} ))
while [ $(date +%s) -lt $end ] && ! grep -q "\] done" $O/progress.txt 2>/dev/null; do sleep 5; done
cat $O/progress.txt; tail -n 3 /tmp/export.log; tail -n 4 $O/e5-imdb-full.log 2>/dev/null
for f in $(find $O -name '*.bench_bf16.txt' -o -name '*.torch_bf16.txt' -o -name '*.torch_reduce_overhead_tf32.txt' | sort); do
  echo "== $f"; grep -E "^lora|^eflat|lora bf16|median_ms|peak GPU|^  (lora|eflat)|MiB" $f
done
rm -f /tmp/runz.tgz; tar czf $OUT/runz.tgz -C /tmp --exclude='*.onnx' --exclude='*.weights' --exclude='*.safetensors' \
  --exclude='*.tfevents*' --exclude='train.jsonl' --exclude='validation.jsonl' runz
