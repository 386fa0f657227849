# run W, call 1: the runtime's first part; the plain exports of the four models in the background
bash .device-runtime/setup.sh || [ $? = 3 ] || exit 1
mkdir -p /tmp/lease && cp -r scripts onnx-models /tmp/lease/
(cd /tmp/lease && setsid nohup bash scripts/bench/fused_ab.sh /tmp/work export \
  gpt2-large-lm qwen2vl-2b-l8-lm roberta-large-cls clip-vit-b16 > /tmp/export.log 2>&1 < /dev/null &)
sleep 1; echo exports started
