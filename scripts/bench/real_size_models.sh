#!/usr/bin/env bash
# Exports the real-size benchmark graphs (real architectures, random init: no model hub on the GPU
# machine) with random token data beside them, each once: WORK/<id>/ and WORK/<id>.jsonl.
#   [FP16=0] [DATA_ONLY=1] bash scripts/bench/real_size_models.sh WORK [ID...]     (default: roberta-large-cls gpt2-medium-lm clip-vit-b16; also gpt2-large-lm, qwen2vl-2b-lm, qwen2vl-2b-l8-lm)
# Exports run in parallel (about 8 minutes each on 16 cores); a second call waits for a running
# export of the same model (flock) instead of starting another, so this can be started in the
# background ahead of run_gpu_bench.sh.
set -uo pipefail
work=${1:?WORK}; shift
ids=("$@"); [ ${#ids[@]} -gt 0 ] || ids=(roberta-large-cls gpt2-medium-lm clip-vit-b16)
here=$(cd "$(dirname "$0")" && pwd); scripts=$(dirname "$here")
. "$here/models.sh"
mkdir -p "$work"
export PYTHONUNBUFFERED=1
fp16_flag=--fp16; [ "${FP16:-1}" = 0 ] && fp16_flag=  # FP16=0: no train_fp16.onnx (half the export time)

prepare() {  # id -> config directory and data
  python3 - "$work" "$1" <<'PY'
import json, random, sys
from transformers import GPT2Config, RobertaConfig
work, mid = sys.argv[1:]
r = random.Random(0)
if mid == "roberta-large-cls":  # roberta-large: 24 x 1024, 16 heads, FFN 4096
    RobertaConfig(vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                  intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                  pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=2).save_pretrained(f"{work}/{mid}-config")
    rows = [{"input_ids": [0] + [r.randrange(3, 50000) for _ in range(126)] + [2], "labels": r.randrange(2)}
            for _ in range(512)]
elif mid == "clip-vit-b16":  # clip-vit-base-patch16: ViT-B/16 at 224 + 12 x 512 text tower
    from transformers import CLIPConfig
    CLIPConfig(text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                                num_attention_heads=8, max_position_embeddings=77),
               vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                  num_attention_heads=12, image_size=224, patch_size=16),
               projection_dim=512).save_pretrained(f"{work}/{mid}-config")
    rows = [{"input_ids": [49406] + [r.randrange(0, 49405) for _ in range(75)] + [49407],
             "pixel_values": [round(r.gauss(0, 1), 3) for _ in range(3 * 224 * 224)]} for _ in range(64)]
elif mid == "gpt2-large-lm":  # gpt2-large: 36 x 1280, 20 heads, context 1024
    GPT2Config(vocab_size=50257, n_positions=1024, n_embd=1280, n_layer=36, n_head=20).save_pretrained(
        f"{work}/{mid}-config")
    rows = [{"input_ids": [r.randrange(0, 50257) for _ in range(512)]} for _ in range(128)]
elif mid == "gpt2-medium-lm":  # gpt2-medium: 24 x 1024, 16 heads, context 1024
    GPT2Config(vocab_size=50257, n_positions=1024, n_embd=1024, n_layer=24, n_head=16).save_pretrained(
        f"{work}/{mid}-config")
    rows = [{"input_ids": [r.randrange(0, 50257) for _ in range(512)]} for _ in range(128)]
elif mid in ("qwen2vl-2b-lm", "qwen2vl-2b-l8-lm"):
    # Qwen2-VL-2B: 28 x 1536 text (GQA 12/2), 32 x 1280 vision; one 1 x 4 x 4 image each.
    # -l8: its widths with 8 text and 8 vision layers (a quarter of the export time, for before/after checks)
    from transformers import Qwen2VLConfig
    depth = 8 if mid == "qwen2vl-2b-l8-lm" else None
    text = dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=depth or 28,
                num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
                bos_token_id=151643, eos_token_id=151645, pad_token_id=151643)
    vision = dict(depth=depth or 32, embed_dim=1280, hidden_size=1536, num_heads=16, mlp_ratio=4, in_channels=3, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2, hidden_act="quick_gelu")
    Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=151655, video_token_id=151656,
                  vision_start_token_id=151652, vision_end_token_id=151653,
                  tie_word_embeddings=True).save_pretrained(f"{work}/{mid}-config")
    # as the exporter's Qwen2VL batch: text, vision start, 4 image tokens (16 patches merged 2 x 2), vision end
    rows = [{"input_ids": [r.randrange(0, 151000) for _ in range(2)] + [151652] + [151655] * 4 + [151653]
                          + [r.randrange(0, 151000) for _ in range(512 - 8)],
             "pixel_values": [round(r.gauss(0, 1), 3) for _ in range(16 * 3 * 2 * 14 * 14)],
             "image_grid_thw": [1, 4, 4]} for _ in range(64)]
else:
    sys.exit(f"unknown benchmark model {mid}")
with open(f"{work}/{mid}.jsonl", "w") as f:
    for row in rows:
        f.write(json.dumps(row) + "\n")
PY
}

export_one() {
  local id=$1 family rank alpha targets batch seq atol
  bench_model "$id" || return 2
  (
    flock 9
    [ -f "$work/$id/manifest.json" ] && exit 0
    prepare "$id" || exit 1
    [ "${DATA_ONLY:-0}" = 1 ] && exit 0  # the config and token data only (fused_ab.sh exports plain graphs itself)
    t0=$(date +%s)
    python3 "$scripts/export_lora_graph.py" --family "$family" --config "$work/$id-config" --id "$id" \
      --rank "$rank" --alpha "$alpha" --targets "$targets" ${atol:+--check-atol $atol} --external-weights --keep-weights --no-fixture --no-rwp ${fp16_flag} \
      --out "$work/$id" > "$work/$id.export.log" 2>&1
    rc=$?
    echo "$id: export exit $rc in $(( $(date +%s) - t0 )) s" | tee -a "$work/$id.export.log"
    exit $rc
  ) 9> "$work/$id.lock"
}

pids=()
for id in "${ids[@]}"; do export_one "$id" & pids+=($!); done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
