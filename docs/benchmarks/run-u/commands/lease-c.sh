# lease 3: the pass with Split, Concat and the steps between products in bf16: GPT-2 large and Qwen2-VL
# 8+8 against torch.compile + bf16 (one process each, this run), then RoBERTa-large (ours only)
. docs/benchmarks/run-u/commands/env.sh
for id in gpt2-large-lm qwen2vl-2b-l8-lm; do
  for i in $(seq 60); do grep -q "plain export exit" /tmp/work/$id-plain.log 2>/dev/null && break; sleep 2; done
  TORCH_MODES=compile timeout 200 bash scripts/bench/bf16_ab.sh /tmp/work $OUT $id > $OUT/$id.log 2>&1
  grep -v "^\s*at " $OUT/$id.log | tail -n 20
done
NO_TORCH=1 timeout 110 bash scripts/bench/bf16_ab.sh /tmp/work $OUT roberta-large-cls > $OUT/roberta-large-cls.log 2>&1
grep -v "^\s*at " $OUT/roberta-large-cls.log | tail -n 18
