# run V: GPT-2 large's kernel split (ours TF32 and bf16 against PyTorch under bf16 autocast), then
# Qwen2-VL 8+8: ours against torch.compile + bf16 autocast
. docs/benchmarks/run-v/commands/env.sh
O=/tmp/runv; mkdir -p $O  # everything here; the key files are copied to $OUT (a call returns few files)
JAVA_BENCH_EXTRA="--kernels fused --bf16" BF16=1 timeout 250 bash scripts/bench/kernel_times.sh $O/kt /tmp/work/prepared gpt2-large-lm \
  > $O/kernel_times.log 2>&1; cp $O/kt/gpt2-large-lm.kernel_times.txt $OUT/ 2>/dev/null
tail -n 5 $O/kernel_times.log; grep -A 16 "^ours-bf16" $O/kt/gpt2-large-lm.kernel_times.txt | head -n 30; grep -A 9 "by kind" $O/kt/gpt2-large-lm.kernel_times.txt
id=qwen2vl-2b-l8-lm
for i in $(seq 60); do grep -q "plain export exit" /tmp/work/$id-plain.log 2>/dev/null && break; sleep 2; done
TORCH_MODES=compile timeout 240 bash scripts/bench/bf16_ab.sh /tmp/work $O $id > $O/$id.log 2>&1
grep -v "^\s*at " $O/$id.log | tail -n 22; cp $O/$id.bench_bf16.txt $O/$id.torch_bf16.txt $OUT/ 2>/dev/null
