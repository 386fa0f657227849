# next run, started once the runtime is set up and the jars carried (setsid, from /tmp/lease;
# results in /tmp/runy). Per model, once every export is done (none beside a timing): ours TF32 and
# bf16 with PyTorch + PEFT reduce-overhead + bf16 (bf16_ab.sh), PyTorch reduce-overhead in TF32,
# then the A/B runs of --recompute-attention and of --threads 1.
. docs/benchmarks/next-run/env.sh
O=/tmp/runy; mkdir -p $O
step() { echo "[$(date +%T)] $*" >> $O/progress.txt; }
step start
. scripts/bench/models.sh
for i in $(seq 300); do [ "$(grep -l "plain export exit" /tmp/work/*-plain.log 2>/dev/null | wc -l)" -ge 4 ] && break; sleep 2; done
tail -qn 1 /tmp/work/*-plain.log >> $O/progress.txt
for id in roberta-large-cls clip-vit-b16 gpt2-large-lm qwen2vl-2b-l8-lm; do
  step "$id bf16_ab (ours TF32 and bf16; torch reduce-overhead + bf16)"
  TORCH_MODES=reduce-overhead timeout 420 bash scripts/bench/bf16_ab.sh /tmp/work $O $id > $O/$id.log 2>&1
  step "$id torch reduce-overhead TF32"
  bench_model $id
  memory_monitor > $O/$id.mem_torch_ro_tf32.txt &
  mon=$!
  timeout 240 python3 scripts/bench/torch_peft_bench.py --config /tmp/work/$id-config --family $family --batch $batch \
    --seq $seq --targets $targets --rank $rank --alpha $alpha --attn sdpa --methods lora \
    --compile reduce-overhead --warmup 10 2>&1 | grep -E '^\{|rror|skipping cudagraphs' | tail -n 5 > $O/$id.torch_reduce_overhead_tf32.txt
  kill $mon
  echo "torch tf32 reduce-overhead peak GPU memory (MiB, nvidia-smi): $(memory_peak $O/$id.mem_torch_ro_tf32.txt)" \
    >> $O/$id.torch_reduce_overhead_tf32.txt
done
for id in roberta-large-cls clip-vit-b16; do
  step "$id --recompute-attention (ours only)"
  mkdir -p $O/recompute
  RECOMPUTE_ATTENTION=1 NO_TORCH=1 timeout 300 bash scripts/bench/bf16_ab.sh /tmp/work $O/recompute $id > $O/recompute/$id.log 2>&1
done
step "roberta-large-cls --threads 1 (ours only)"
mkdir -p $O/threads1
JAVA_BENCH_EXTRA="--threads 1" NO_TORCH=1 timeout 300 bash scripts/bench/bf16_ab.sh /tmp/work $O/threads1 roberta-large-cls \
  > $O/threads1/roberta-large-cls.log 2>&1
step done
