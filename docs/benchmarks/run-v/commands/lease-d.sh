# run V: bf16 against strict fp32 over 200 steps on the tiny models (bf16_loss.sh)
. docs/benchmarks/run-v/commands/env.sh
timeout 300 bash scripts/bench/bf16_loss.sh /tmp/loss 2>&1 | grep -v "curves.png" > $OUT/loss.log
grep "vs\|evaluation\|loss" $OUT/loss.log | tail -n 20
