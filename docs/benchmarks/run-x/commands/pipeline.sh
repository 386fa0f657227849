# run X, started once the runtime is set up (setsid, from /tmp/lease; results in /tmp/runx):
# 1. correctness while the exports finish: each CUDA kernel against its CPU kernel (CudaKernelsTest),
#    the tiny LM models' golden traces through train_fused.onnx replayed as CUDA graphs (the fused
#    LM loss on CUDA), their bf16 graphs against float32;
# 2. once every export is done (none beside a timing), per model: prepare (graphs written after the
#    execution-order change), ours TF32 and bf16 (fused, CUDA graph, LoRA and EFlat-LoRA) with the
#    device memory, torch.compile + bf16 autocast (bf16_ab.sh), then PyTorch + PEFT eager in fp32 for
#    memory (its reserved peak, nvidia-smi peak) against our TF32 step.
. docs/benchmarks/run-x/commands/env.sh
O=/tmp/runx; mkdir -p $O; T=/tmp/testjars
step() { echo "[$(date +%T)] $*" >> $O/progress.txt; }
step start
timeout 400 java $ORT_JAVA_OPTS -jar $T/junit-platform-console-standalone-1.11.4.jar execute --disable-banner \
  -cp "$CP:$T/graph-builder-tests.jar:$T/assertj-core-3.27.3.jar:$T/byte-buddy-1.18.14.jar" \
  --include-tag gpu --select-class dev.loraort.builder.autodiff.CudaKernelsTest --details tree \
  > $O/cuda_kernels_test.txt 2>&1
step "CudaKernelsTest exit $?"
J="java $ORT_JAVA_OPTS -cp $CP dev.loraort.trainer.cli.Main"
python3 -c "import json;print(json.dumps(json.load(open('onnx-models/tiny-qwen2vl/manifest.json'))['source']['config']))" > /tmp/qcfg.json
for id in tiny-gpt2-lm tiny-qwen2vl tiny-roberta-cls tiny-clip; do
  case $id in *-lm|tiny-qwen2vl) t=causal-lm;; tiny-clip) t=contrastive;; *) t=seq-cls;; esac
  extra=""; [ $id = tiny-qwen2vl ] && extra="--hf-config /tmp/qcfg.json --targets q_proj,v_proj,qkv"
  $J prepare --onnx onnx-models/$id/plain/model.onnx --task $t --id $id --out /tmp/g/$id --overwrite $extra > /dev/null 2>&1 \
    || echo "prepare $id failed"
  cp -r onnx-models/$id/fixture /tmp/g/$id/
  echo "$id fused bf16 vs fp32: $($J check --model /tmp/g/$id --kernels fused --bf16 --against /tmp/g/$id --tolerance 0.1 --device cuda 2>&1 | grep -v '^\[' | tail -n 1)"
  case $id in tiny-roberta-cls|tiny-clip) continue;; esac
  for m in conformance-tests/golden/$id/*; do
    r=$($J conform --model /tmp/g/$id --golden $m --device cuda --kernels fused --io cuda-graph 2>&1 | grep -E "final tensors|CONFORMS|DIVERGES|rror" | tr "\n" " ")
    echo "$id $(basename $m) fused cuda-graph: $r"
  done
done > $O/tiny_checks.txt 2>&1
step "tiny checks done"
. scripts/bench/models.sh
for i in $(seq 300); do [ "$(grep -l "plain export exit" /tmp/work/*-plain.log 2>/dev/null | wc -l)" -ge 4 ] && break; sleep 2; done
tail -qn 1 /tmp/work/*-plain.log >> $O/progress.txt
for id in qwen2vl-2b-l8-lm gpt2-large-lm roberta-large-cls clip-vit-b16; do
  step "$id bf16_ab"
  TORCH_MODES=compile timeout 420 bash scripts/bench/bf16_ab.sh /tmp/work $O $id > $O/$id.log 2>&1
  step "$id torch eager fp32"
  bench_model $id
  memory_monitor > $O/$id.mem_torch_eager.txt &
  mon=$!
  timeout 200 python3 scripts/bench/torch_peft_bench.py --config /tmp/work/$id-config --family $family --batch $batch \
    --seq $seq --targets $targets --rank $rank --alpha $alpha --attn sdpa --methods lora 2>&1 | grep '^{' \
    > $O/$id.torch_eager.txt
  kill $mon
  echo "torch eager fp32 peak GPU memory (MiB, nvidia-smi): $(memory_peak $O/$id.mem_torch_eager.txt)" >> $O/$id.torch_eager.txt
done
step done
