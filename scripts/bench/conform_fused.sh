#!/usr/bin/env bash
# Every golden trace through prepare's graphs of the tiny plain exports on the CUDA EP, through train.onnx and
# train_fused.onnx (run from the repo root; CP = the trainer's classpath, ORT_JAVA_OPTS as env.sh sets it),
# with each --io of IOS (default: copy):
#   CP=... [KERNELS="plain fused"] [IOS="copy cuda-graph"] bash scripts/bench/conform_fused.sh
J="java $ORT_JAVA_OPTS -cp $CP dev.loraort.trainer.cli.Main"
python3 -c "import json;print(json.dumps(json.load(open('onnx-models/tiny-qwen2vl/manifest.json'))['source']['config']))" > /tmp/qcfg.json
for id in tiny-roberta-cls tiny-gpt2-lm tiny-clip tiny-qwen2vl; do
  case $id in *-lm|tiny-qwen2vl) t=causal-lm;; tiny-clip) t=contrastive;; *) t=seq-cls;; esac
  extra=""; [ $id = tiny-qwen2vl ] && extra="--hf-config /tmp/qcfg.json --targets q_proj,v_proj,qkv"
  $J prepare --onnx onnx-models/$id/plain/model.onnx --task $t --id $id --out /tmp/g/$id $extra > /dev/null 2>&1 || echo "prepare $id failed"
  for m in conformance-tests/golden/$id/*; do
    for k in ${KERNELS:-plain fused}; do
      for io in ${IOS:-copy}; do
        r=$($J conform --model /tmp/g/$id --golden $m --device cuda --kernels $k --io $io 2>&1 | grep -E "final tensors|CONFORMS|DIVERGES|error" | tr "\n" " ")
        echo "$id $(basename $m) $k $io: $r"
      done
    done
  done
done
