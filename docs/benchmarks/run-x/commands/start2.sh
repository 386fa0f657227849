# run X, second lease, call 1: the runtime's first part, the test jars; RoBERTa-large's plain
# export in the background (the first lease's machine was given back)
bash .device-runtime/setup.sh || [ $? = 3 ] || exit 1
mkdir -p /tmp/testjars /tmp/lease && cp .device-runtime/testjars/* /tmp/testjars/ && cp -r scripts docs /tmp/lease/
(cd /tmp/lease && setsid nohup bash scripts/bench/fused_ab.sh /tmp/work export roberta-large-cls \
  > /tmp/export.log 2>&1 < /dev/null &)
sleep 1; echo exports started
