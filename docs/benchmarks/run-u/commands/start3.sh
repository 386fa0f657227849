# lease 3, call 1: as start.sh, the three models lease-c.sh benches
bash .device-runtime/setup.sh || [ $? = 3 ] || exit 1
mkdir -p /tmp/lease && cp -r scripts onnx-models /tmp/lease/
cd /tmp/lease && setsid nohup bash scripts/bench/fused_ab.sh /tmp/work export \
  gpt2-large-lm qwen2vl-2b-l8-lm roberta-large-cls > /tmp/export.log 2>&1 < /dev/null &
sleep 2; echo exports started
