# lease 3: named graphs: what holds the peak; Qwen2-VL's memory without the second lm_head copy
for i in $(seq 150); do [ "$(grep -l "plain export exit" /tmp/work/*-plain.log 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 2; done
. scripts/bench/models.sh
for id in roberta-large-cls clip-vit-b16 qwen2vl-2b-l8-lm; do
  NO_CHECK=1 NO_TORCH=1 VARIANTS=" " bash scripts/bench/fused_ab.sh /tmp/work run /tmp/x $id 2>&1 | tail -n 1
done
mkdir -p /tmp/prof3 $OUT/prof
for id in roberta-large-cls clip-vit-b16 qwen2vl-2b-l8-lm; do
  bench_model $id
  java_bench /tmp/work/prepared/$id --kernels fused --io bound --steps 1 --warmup 1 --rounds 1 --methods lora \
    --ort-profile /tmp/prof3/$id 2>&1 | grep -v "^\[" | tail -n 2
  rm -f /tmp/prof3/$id/*.weights
  python3 scripts/bench/memory_at_peak.py /tmp/prof3/$id/*.json /tmp/prof3/$id/lora-round0.train_fused.onnx
done
tar czf $OUT/prof/prof3.tgz -C /tmp/prof3 .
bench_model qwen2vl-2b-l8-lm
java_bench /tmp/work/prepared/qwen2vl-2b-l8-lm --kernels fused --io cuda-graph --steps 30 --warmup 5 --rounds 1 \
  --methods lora,eflat-lora 2>&1 | grep -v "^\[" | tail -n 9
