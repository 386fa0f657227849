# run X, second lease, once the runtime is set up (setsid, from /tmp/lease; results in /tmp/runx):
# CudaKernelsTest again (Phi as an erfc in GELU; bf16 tolerance with the float32 one added for
# cancellations), then RoBERTa-large: ours TF32/bf16 and torch.compile + bf16 (bf16_ab.sh),
# and torch.compile in reduce-overhead mode (CUDA graphs, as our replay) + bf16.
. docs/benchmarks/run-x/commands/env.sh
O=/tmp/runx; mkdir -p $O; T=/tmp/testjars
step() { echo "[$(date +%T)] $*" >> $O/progress.txt; }
step start
TESTJARS=$T bash scripts/bench/cuda_kernels_test.sh $O/cuda_kernels_test.txt
step "CudaKernelsTest exit $?"
. scripts/bench/models.sh
for i in $(seq 150); do [ "$(grep -l "plain export exit" /tmp/work/*-plain.log 2>/dev/null | wc -l)" -ge 1 ] && break; sleep 2; done
tail -qn 1 /tmp/work/*-plain.log >> $O/progress.txt
for id in roberta-large-cls; do  # CLIP too when the device time allows
  step "$id bf16_ab"
  TORCH_MODES=compile timeout 300 bash scripts/bench/bf16_ab.sh /tmp/work $O $id > $O/$id.log 2>&1
  step "$id torch.compile reduce-overhead + bf16"
  bench_model $id
  memory_monitor > $O/$id.mem_torch_ro.txt &
  mon=$!
  timeout 200 python3 scripts/bench/torch_peft_bench.py --config /tmp/work/$id-config --family $family --batch $batch \
    --seq $seq --targets $targets --rank $rank --alpha $alpha --attn sdpa --methods lora --amp bf16 \
    --compile reduce-overhead --warmup 10 2>&1 | grep -E '^\{|rror|skipping cudagraphs' | tail -n 5 > $O/$id.torch_reduce_overhead.txt
  kill $mon
  echo "torch bf16 reduce-overhead peak GPU memory (MiB, nvidia-smi): $(memory_peak $O/$id.mem_torch_ro.txt)" \
    >> $O/$id.torch_reduce_overhead.txt
done
step done
