# lease call 1 (with the runtime's first part): the plain exports start in the background from a copy
# of the scripts that outlives this call
bash .device-runtime/setup.sh || [ $? = 3 ] || exit 1
mkdir -p /tmp/lease && cp -r scripts onnx-models /tmp/lease/
cd /tmp/lease && setsid nohup bash scripts/bench/fused_ab.sh /tmp/work export \
  roberta-large-cls clip-vit-b16 gpt2-large-lm qwen2vl-2b-l8-lm > /tmp/export.log 2>&1 < /dev/null &
sleep 2; echo exports started
