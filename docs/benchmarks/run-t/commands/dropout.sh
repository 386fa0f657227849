# LoRA dropout on the CUDA EP: the same 40 steps as the CPU run, plain and fused graphs, bound and replayed
J="java ${ORT_JAVA_OPTS:-} -cp $CP dev.loraort.trainer.cli.Main"
for v in "plain bound" "plain cuda-graph" "fused cuda-graph"; do
  set -- $v
  $J train --model gpu-check/tiny-roberta-drop --data onnx-models/tiny-roberta-cls/sample/train.jsonl --steps 40 \
    --lr 5e-3 --lora-dropout 0.1 --no-progress --device cuda --no-tf32 --kernels $1 --io $2 \
    --out "$OUT/drop-$1-$2" 2>&1 | grep -v "^\[" > "$OUT/drop-$1-$2.log"
  tail -2 "$OUT/drop-$1-$2.log"
done
