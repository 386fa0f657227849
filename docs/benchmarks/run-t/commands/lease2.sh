# lease 2, part 1: prepare roberta-large, CLIP, Qwen2-VL 8+8 (no bench), profile with the optimized graphs
for i in $(seq 150); do [ "$(grep -l "plain export exit" /tmp/work/*-plain.log 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 2; done; tail -qn 1 /tmp/work/*-plain.log
. scripts/bench/models.sh
for id in roberta-large-cls clip-vit-b16 qwen2vl-2b-l8-lm; do
  NO_CHECK=1 NO_TORCH=1 VARIANTS=" " bash scripts/bench/fused_ab.sh /tmp/work run /tmp/x $id 2>&1 | tail -n 1
done
mkdir -p /tmp/prof2 $OUT/prof
for id in roberta-large-cls clip-vit-b16 qwen2vl-2b-l8-lm; do
  bench_model $id
  java_bench /tmp/work/prepared/$id --kernels fused --io bound --steps 1 --warmup 1 --rounds 1 --methods lora \
    --ort-profile /tmp/prof2/$id 2>&1 | grep -v "^\[" | tail -n 2
  rm -f /tmp/prof2/$id/*.weights
  python3 scripts/bench/memory_at_peak.py /tmp/prof2/$id/*.json /tmp/prof2/$id/lora-round0.train_fused.onnx
done
tar czf $OUT/prof/prof2.tgz -C /tmp/prof2 .
