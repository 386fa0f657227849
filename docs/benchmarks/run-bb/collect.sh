# next run, every later call: wait up to $1 s for the pipeline (or its end), then show and return what
# it wrote: summaries, tables, plots, result.json and run.json files and the adapters (small: so that
# a cut study's sharpness can be measured later), no checkpoints, weights or data
O=/tmp/runn; end=$(( $(date +%s) + ${1:-500} ))
while [ $(date +%s) -lt $end ] && ! grep -q "\] done" $O/progress.txt 2>/dev/null; do sleep 5; done
cat $O/progress.txt; for f in $O/*.log; do echo "== $f"; tail -n 4 $f; done
rm -f /tmp/runn.tgz; tar czf $OUT/runn.tgz -C /tmp --exclude='*.weights' --exclude='*.safetensors' \
  --exclude='*.tfevents*' --exclude='train.jsonl' --exclude='validation.jsonl' --exclude='model.onnx' runn
ls -la $OUT
