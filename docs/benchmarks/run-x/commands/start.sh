# run X, call 1: the runtime's first part; the plain exports of the four models in the background;
# the scripts and the tiny models kept in /tmp/lease (later calls' working trees may differ). The lease
# untracked onnx-models/ to fit the 64 MiB a call carries: the tiny models' plain exports, fixtures
# and manifests came as .lease/onnx-models.
bash .device-runtime/setup.sh || [ $? = 3 ] || exit 1
mkdir -p /tmp/lease && cp -r scripts conformance-tests docs .lease/onnx-models /tmp/lease/
(cd /tmp/lease && setsid nohup bash scripts/bench/fused_ab.sh /tmp/work export \
  qwen2vl-2b-l8-lm gpt2-large-lm roberta-large-cls clip-vit-b16 > /tmp/export.log 2>&1 < /dev/null &)
sleep 1; echo exports started; nvidia-smi --query-gpu=name,driver_version,memory.used --format=csv
