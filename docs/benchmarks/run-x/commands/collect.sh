# run X, every later call: wait up to $1 s for the pipeline (or its end), then show and return what it wrote
O=/tmp/runx; end=$(( $(date +%s) + ${1:-500} ))
while [ $(date +%s) -lt $end ] && ! grep -q "\] done" $O/progress.txt 2>/dev/null; do sleep 5; done
cat $O/progress.txt; tail -n 3 /tmp/export.log
grep -E "tests (successful|failed|aborted)" $O/cuda_kernels_test.txt 2>/dev/null
grep -E "✘" $O/cuda_kernels_test.txt 2>/dev/null | head -20
cat $O/tiny_checks.txt 2>/dev/null
for f in $O/*.bench_bf16.txt $O/*.torch_bf16.txt $O/*.torch_eager.txt $O/*.torch_reduce_overhead.txt; do [ -f $f ] && { echo "== $f"; grep -E "^lora|^eflat|lora bf16|median_ms|peak GPU|step 1:|^  (lora|eflat)" $f; }; done
rm -f /tmp/runx.tgz; tar czf $OUT/runx.tgz -C /tmp --exclude='*.onnx' --exclude='*.weights' runx
