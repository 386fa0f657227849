# next run, started once the runtime is set up and the jars carried (setsid, from /tmp/lease;
# results in /tmp/runy). In the order of what the open issues need most, each model once its own
# export is done (none beside a timing): RoBERTa-large ours TF32 and bf16 against PyTorch + PEFT
# reduce-overhead + bf16 (bf16_ab.sh), the same export prepared with --recompute-attention, and
# ours with --threads 1; CLIP likewise (no --threads 1); GPT-2 large and Qwen2-VL against PyTorch
# reduce-overhead + bf16; last, PyTorch reduce-overhead in TF32 for the fp32 column.
. docs/benchmarks/next-run/env.sh
O=/tmp/runy; mkdir -p $O
step() { echo "[$(date +%T)] $*" >> $O/progress.txt; }
step start
. scripts/bench/models.sh
exported() {  # ID: wait (up to 10 min) for its plain export, then log how it ended
  for i in $(seq 300); do grep -q "plain export exit" /tmp/work/$1-plain.log 2>/dev/null && break; sleep 2; done
  tail -n 1 /tmp/work/$1-plain.log >> $O/progress.txt
}
ours_and_torch() {  # ID: ours TF32 and bf16, PyTorch reduce-overhead + bf16
  exported $1
  step "$1 bf16_ab (ours TF32 and bf16; torch reduce-overhead + bf16)"
  TORCH_MODES=reduce-overhead timeout 480 bash scripts/bench/bf16_ab.sh /tmp/work $O $1 > $O/$1.log 2>&1
}
recompute() {  # ID: ours only, prepared with --recompute-attention
  step "$1 --recompute-attention (ours only)"
  mkdir -p $O/recompute
  RECOMPUTE_ATTENTION=1 NO_TORCH=1 timeout 300 bash scripts/bench/bf16_ab.sh /tmp/work $O/recompute $1 > $O/recompute/$1.log 2>&1
}
ours_and_torch roberta-large-cls
recompute roberta-large-cls
step "roberta-large-cls --threads 1 (ours only, the directory bf16_ab prepared)"
mkdir -p $O/threads1
bench_model roberta-large-cls
JAVA_BENCH_EXTRA="--threads 1" timeout 240 java_bench /tmp/work/prepared/roberta-large-cls --kernels fused --bf16 --steps 30 \
  --warmup 5 --rounds 1 --methods lora,eflat-lora 2>&1 | grep -v "^\[" > $O/threads1/roberta-large-cls.bench_bf16.txt
ours_and_torch clip-vit-b16
recompute clip-vit-b16
ours_and_torch gpt2-large-lm
ours_and_torch qwen2vl-2b-l8-lm
for id in roberta-large-cls clip-vit-b16 gpt2-large-lm qwen2vl-2b-l8-lm; do
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
step done
