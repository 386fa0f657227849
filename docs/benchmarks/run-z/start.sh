# next run, the first call goes on here: the GPT-2 large plain export in the background while the
# other parts arrive; the scripts kept in /tmp/lease (later calls' working trees may differ).
mkdir -p /tmp/lease && cp -r scripts docs /tmp/lease/
(cd /tmp/lease && setsid nohup bash scripts/bench/fused_ab.sh /tmp/work export gpt2-large-lm \
  > /tmp/export.log 2>&1 < /dev/null &)
sleep 1; echo export started; nvidia-smi --query-gpu=name,driver_version,memory.used --format=csv
