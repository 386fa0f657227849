# (the launcher's -cp does not expand a directory's "*", as java's does: run W's call passed
# /tmp/jars/* and found no classes; the jars are listed one by one since)
# run W, after setup (the test jars came with the last runtime part, in /tmp/testjars): each CUDA
# kernel against its CPU kernel (CudaKernelsTest, JUnit's console launcher), the tiny models' fused
# bf16 graphs against float32, then GPT-2 large against torch.compile + bf16 autocast
. docs/benchmarks/run-w/commands/env.sh
O=/tmp/runw; mkdir -p $O  # everything here; the key files are copied to $OUT (a call returns few files)
T=/tmp/testjars
timeout 200 java $ORT_JAVA_OPTS -jar $T/junit-platform-console-standalone-1.11.4.jar execute --disable-banner \
  -cp "$ORT_JAR:$(ls /tmp/jars/*.jar | tr '\n' ':')$T/graph-builder-tests.jar:$T/assertj-core-3.27.3.jar:$T/byte-buddy-1.18.14.jar" \
  --include-tag gpu --select-class dev.loraort.builder.autodiff.CudaKernelsTest --details summary \
  > $OUT/cuda_kernels_test.txt 2>&1
grep -E "worst|tests (successful|failed)|Failures|MethodSource" $OUT/cuda_kernels_test.txt | tail -n 40
J="java $ORT_JAVA_OPTS -cp $CP dev.loraort.trainer.cli.Main"
python3 -c "import json;print(json.dumps(json.load(open('onnx-models/tiny-qwen2vl/manifest.json'))['source']['config']))" > /tmp/qcfg.json
for id in tiny-roberta-cls tiny-gpt2-lm tiny-clip tiny-qwen2vl; do
  case $id in *-lm|tiny-qwen2vl) t=causal-lm;; tiny-clip) t=contrastive;; *) t=seq-cls;; esac
  extra=""; [ $id = tiny-qwen2vl ] && extra="--hf-config /tmp/qcfg.json --targets q_proj,v_proj,qkv"
  $J prepare --onnx onnx-models/$id/plain/model.onnx --task $t --id $id --out /tmp/g/$id --overwrite $extra > /dev/null 2>&1
  cp -r onnx-models/$id/fixture /tmp/g/$id/
  echo "$id fused: $($J check --model /tmp/g/$id --kernels fused --bf16 --against /tmp/g/$id --tolerance 0.1 --device cuda 2>&1 | grep -v '^\[' | tail -n 1)"
done 2>&1 | tee $OUT/tiny_bf16_check.txt
id=gpt2-large-lm
for i in $(seq 90); do grep -q "plain export exit" /tmp/work/$id-plain.log 2>/dev/null && break; sleep 2; done
TORCH_MODES=compile timeout 240 bash scripts/bench/bf16_ab.sh /tmp/work $O $id > $O/$id.log 2>&1
grep -v "^\s*at " $O/$id.log | tail -n 22; cp $O/$id.bench_bf16.txt $O/$id.torch_bf16.txt $OUT/ 2>/dev/null
