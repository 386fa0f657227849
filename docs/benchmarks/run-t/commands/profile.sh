# One profiled LoRA step (bound, not replayed: a replay has no per-node events) and the graph's structure
. scripts/bench/models.sh
for id in "$@"; do
  bench_model "$id"
  java_bench /tmp/work/prepared/$id --kernels fused --io bound --steps 1 --warmup 1 --rounds 1 --methods lora \
    --ort-profile "/tmp/prof/$id" 2>&1 | grep -v "^\[" | tail -n 3
  ls -la /tmp/work/prepared/$id/
  python3 - "$id" <<'PY'
import onnx, sys
m = onnx.load(f"/tmp/work/prepared/{sys.argv[1]}/train_fused.onnx", load_external_data=False)
for t in m.graph.initializer:  # keep names, dims and types; drop any embedded bytes
    t.ClearField("raw_data"); t.ClearField("float_data"); t.ClearField("int64_data"); t.ClearField("int32_data")
    del t.external_data[:]; t.data_location = 0
onnx.save(m, f"{__import__('os').environ['OUT']}/prof/{sys.argv[1]}.structure.onnx")
PY
done
tar czf $OUT/prof/profiles.tgz -C /tmp/prof . && ls -la $OUT/prof
