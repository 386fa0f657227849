# lease 2, part 2: PyTorch's saved-for-backward bytes; Qwen2-VL's largest initializers; padding on real size
. scripts/bench/models.sh
for id in roberta-large-cls clip-vit-b16 qwen2vl-2b-l8-lm; do
  bench_model $id
  torch_bench /tmp/work/$id-config --attn sdpa --saved-tensors 2>&1 | grep '^{' | sed "s/^/$id /"
done
python3 - <<'PY'
import onnx, hashlib
m = onnx.load("/tmp/work/qwen2vl-2b-l8-lm-plain/model.onnx", load_external_data=False)
big = []
for t in m.graph.initializer:
    n = 1
    for d in t.dims: n *= d
    if n >= 20_000_000:
        loc = {e.key: e.value for e in t.external_data}
        big.append((n * 4 / 2**20, t.name, list(t.dims), loc.get("offset"), loc.get("length")))
for b in sorted(big, reverse=True): print("initializer %.0f MiB %s %s offset %s length %s" % b)
PY
grep -n "tie_word_embeddings" /tmp/work/qwen2vl-2b-l8-lm-config/config.json
timeout 300 bash gpu-check/padding.sh
