# run V: RoBERTa-large and CLIP ViT-B/16: ours (TF32, bf16) against torch.compile + bf16 autocast
. docs/benchmarks/run-v/commands/env.sh
O=/tmp/runv; mkdir -p $O  # everything here; the key files are copied to $OUT (a call returns few files)
for id in roberta-large-cls clip-vit-b16; do
  for i in $(seq 60); do grep -q "plain export exit" /tmp/work/$id-plain.log 2>/dev/null && break; sleep 2; done
  TORCH_MODES=compile timeout 250 bash scripts/bench/bf16_ab.sh /tmp/work $O $id > $O/$id.log 2>&1
  grep -v "^\s*at " $O/$id.log | tail -n 22; cp $O/$id.bench_bf16.txt $O/$id.torch_bf16.txt $OUT/ 2>/dev/null
done
