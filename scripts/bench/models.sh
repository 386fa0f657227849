# The benchmark models' settings, one table for real_size_models.sh (the export), run_gpu_bench.sh and
# exporter_ab.sh (the Java and PyTorch steps). Source it; `bench_model ID` sets family, rank, alpha,
# targets, batch, seq and atol (the exporter's check tolerance, empty for the contract's default);
# `java_bench MODEL_DIR [bench options]` runs the trainer's bench on it, on the CUDA EP, and
# `torch_bench CONFIG_DIR [torch_peft_bench.py options]` PyTorch + PEFT on the same step;
# `memory_monitor > FILE &` samples the GPU's memory in use, `memory_peak FILE` reads the peak.
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_model() {
  atol=""
  case $1 in
    roberta-large-cls) family=roberta; rank=8; alpha=16; targets=query,value; batch=32; seq=128 ;;
    gpt2-medium-lm) family=gpt2; rank=4; alpha=32; targets=c_attn; batch=8; seq=512 ;;
    # 36 fp32 layers: ORT and torch differ by 4.5e-5 on gradients up to 1.2 (the contract's atol is 1e-5)
    gpt2-large-lm) family=gpt2; rank=4; alpha=32; targets=c_attn; batch=8; seq=512; atol=1e-4 ;;
    clip-vit-b16) family=clip; rank=2; alpha=16; targets=q_proj,k_proj,v_proj; batch=32; seq=77 ;;
    # infer logits over a 151,936-token vocabulary: 2.0e-5 apart (4.7e-6 of max), as gpt2-large's gradients
    qwen2vl-2b-lm|qwen2vl-2b-l8-lm) family=qwen2vl; rank=8; alpha=16; targets=q_proj,v_proj; batch=8; seq=512; atol=1e-4 ;;
    *) echo "unknown benchmark model $1" >&2; return 2 ;;
  esac
}

java_bench() {  # MODEL_DIR [bench options]: MODEL_DIR.jsonl as data, $batch from bench_model, CP = classpath,
  # JAVA_BENCH_EXTRA = more options (e.g. --kernels fused) for callers that pass theirs through
  local model=$1
  shift
  # AlwaysPreTouch: the steps' fresh arrays would otherwise first-touch the heap's pages for the whole
  # short run (a long run reuses them after its first young collections); scripts/bench/CopyProbe.java
  java -XX:+AlwaysPreTouch ${ORT_JAVA_OPTS:-} -cp "${CP:?classpath}" dev.loraort.trainer.cli.Main bench \
    --model "$model" --data "$model.jsonl" --device cuda --tf32 --batch-size "$batch" ${JAVA_BENCH_EXTRA:-} "$@"
}

torch_bench() {  # CONFIG_DIR [torch_peft_bench.py options]: the settings of bench_model
  local config=$1
  shift
  python3 "$bench_dir/torch_peft_bench.py" --config "$config" --family "$family" --batch "$batch" --seq "$seq" \
    --targets "$targets" --rank "$rank" --alpha "$alpha" "$@"
}

memory_monitor() {  # GPU memory used (MiB, nvidia-smi: the whole device) every 0.2 s, until killed
  while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; sleep 0.2; done
}

memory_peak() { sort -n "$1" | tail -1; }  # FILE: the largest sample memory_monitor wrote
