# run W: RoBERTa-large, CLIP ViT-B/16 and Qwen2-VL 8+8: ours (TF32, bf16) against torch.compile + bf16
. docs/benchmarks/run-w/commands/env.sh
O=/tmp/runw; mkdir -p $O
for id in roberta-large-cls clip-vit-b16 qwen2vl-2b-l8-lm; do
  for i in $(seq 60); do grep -q "plain export exit" /tmp/work/$id-plain.log 2>/dev/null && break; sleep 2; done
  TORCH_MODES=compile timeout 200 bash scripts/bench/bf16_ab.sh /tmp/work $O $id > $O/$id.log 2>&1
  grep -v "^\s*at " $O/$id.log | grep -E "^lora|^eflat|lora bf16|median_ms|peak GPU|step 1:" ; cp $O/$id.bench_bf16.txt $O/$id.torch_bf16.txt $OUT/ 2>/dev/null
done
