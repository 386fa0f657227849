# RoBERTa-large and CLIP ViT-B/16 in TF32 and bf16 (ours and PyTorch's), then the 200-step bf16-vs-fp32 runs
. docs/benchmarks/run-u/commands/env.sh
[ -f /tmp/minilm.jar ] || cat /tmp/minilm.jar.part-* > /tmp/minilm.jar
for id in roberta-large-cls clip-vit-b16; do
  for i in $(seq 120); do grep -q "plain export exit" /tmp/work/$id-plain.log 2>/dev/null && break; sleep 2; done
  timeout 250 bash scripts/bench/bf16_ab.sh /tmp/work $OUT $id > $OUT/$id.log 2>&1
  grep -v "^\s*at " $OUT/$id.log | tail -n 22
done
timeout 150 bash scripts/bench/bf16_loss.sh /tmp/loss /tmp/minilm.jar /tmp/imdb 2>&1 | grep -v "curves.png" > $OUT/loss.log
grep "vs\|evaluation" $OUT/loss.log
