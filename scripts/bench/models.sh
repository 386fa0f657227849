# The benchmark models' settings, one table for real_size_models.sh (the export) and run_gpu_bench.sh
# (the Java and PyTorch steps). Source it; `bench_model ID` sets family, rank, alpha, targets, batch,
# seq and atol (the exporter's check tolerance, empty for the contract's default).
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
