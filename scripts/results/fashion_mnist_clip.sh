#!/usr/bin/env bash
# The bundled tiny CLIP (random init, r=8 LoRA on q/v of both towers) trained contrastively on real
# Fashion-MNIST images captioned "a photo of a {class}.", then scored by zero-shot classification of
# the 10,000 test images. Each method x seed trains with the same steps, batch and lr; "untrained" is
# the frozen base model (lr 0). One CSV line per run, then the sharpness of each adapter.
#   bash scripts/results/fashion_mnist_clip.sh OUT [STEPS] [DEVICE]     (after `mvn package`)
set -euo pipefail
out=${1:?OUT}; steps=${2:-600}; device=${3:-cpu}
root=$(cd "$(dirname "$0")/../.." && pwd)
J=${TRAINER_CMD:-"java -jar ${TRAINER_JAR:-$root/trainer/target/lora-trainer.jar}"}
M=$root/onnx-models/tiny-clip
# Debian's dataset-fashion-mnist (Expat licence), unpacked once into the cache
F=${FASHION_MNIST:-$HOME/.cache/lora-ort/fashion-mnist/usr/share/datasets/fashion-mnist}
if [ ! -f "$F/train-images-idx3-ubyte.gz" ]; then
  cache=$HOME/.cache/lora-ort/fashion-mnist; mkdir -p "$cache"
  (cd "$cache" && apt-get download dataset-fashion-mnist && dpkg-deb -x dataset-fashion-mnist_*.deb .)
fi
mkdir -p "$out/runs"
echo "method,seed,steps,accuracy,f1,mcc,final_train_loss,seconds" > "$out/results.csv"
echo "method,seed,rho,clean_loss,adversarial_increase,random_mean_increase" > "$out/sharpness.csv"
for seed in 0 1 2; do
  for method in untrained lora eflat-lora fmlora lora-sam; do
    run=$out/runs/$method-$seed
    if [ "$method" = untrained ]; then args=(--method lora --lr 0); else args=(--method "$method" --lr 3e-3); fi
    $J train --model "$M" --data "$F/train-images-idx3-ubyte.gz" --class-names fashion-mnist "${args[@]}" \
      --rank 8 --alpha 16 --steps "$steps" --batch-size 64 --seed "$seed" --device "$device" --no-progress \
      --checkpoint-every 0 --out "$run" --trace "$run/trace.jsonl" > "$run.log" 2>&1
    $J eval --model "$M" --adapter "$run/adapter.onnx" --data "$F/t10k-images-idx3-ubyte.gz" \
      --class-names fashion-mnist --batch-size 256 --device "$device" --out "$run/metrics.json" >> "$run.log" 2>&1
    $J sharpness --model "$M" --adapter "$run/adapter.onnx" --data "$F/train-images-idx3-ubyte.gz" \
      --class-names fashion-mnist --examples 64 --rho 0.05 --steps 3 --directions 8 --device "$device" \
      --out "$run/sharpness.json" >> "$run.log" 2>&1
    python3 - "$run" "$method" "$seed" "$steps" "$out" <<'PY'
import json, sys
run, method, seed, steps, out = sys.argv[1:]
m = json.load(open(run + "/metrics.json")); r = json.load(open(run + "/run.json"))["result"]
s = json.load(open(run + "/sharpness.json"))
with open(out + "/results.csv", "a") as f:
    f.write(f"{method},{seed},{steps},{m['accuracy']:.4f},{m['f1']:.4f},{m['mcc']:.4f},{r['last_loss']:.4f},{r['seconds']:.1f}\n")
with open(out + "/sharpness.csv", "a") as f:
    f.write(f"{method},{seed},0.05,{s['cleanLoss']:.5f},{s['adversarialIncrease']:.5f},{s['randomMeanIncrease']:.6f}\n")
PY
    tail -1 "$out/results.csv"
  done
done
python3 "$root/scripts/results/summarize.py" "$out" | tee "$out/summary.md"
