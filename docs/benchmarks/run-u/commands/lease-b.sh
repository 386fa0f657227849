# GPT-2 large and Qwen2-VL (8 + 8 layers at 2B widths), TF32 and bf16
. docs/benchmarks/run-u/commands/env.sh
grep -h "export exit" /tmp/work/*-plain.log
for id in gpt2-large-lm qwen2vl-2b-l8-lm; do
  timeout 280 bash scripts/bench/bf16_ab.sh /tmp/work $OUT $id > $OUT/$id.log 2>&1
  grep -v "^\s*at " $OUT/$id.log | tail -n 22
done
