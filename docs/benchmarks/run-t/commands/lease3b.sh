# lease 3, part 2: padding on real size in strict fp32 at a small lr; the golden traces replayed as CUDA graphs
J="java ${ORT_JAVA_OPTS:-} -cp $CP dev.loraort.trainer.cli.Main"
for i in $(seq 150); do grep -q "plain export exit" /tmp/work/roberta-large-cls-plain.log 2>/dev/null && break; sleep 2; done
NO_CHECK=1 NO_TORCH=1 VARIANTS=" " bash scripts/bench/fused_ab.sh /tmp/work run /tmp/x roberta-large-cls 2>&1 | tail -n 1
python3 - <<'PY'
import json, random
random.seed(0)
src = [json.loads(l) for l in open("/tmp/work/roberta-large-cls.jsonl")]
with open("/tmp/work/var.jsonl", "w") as f:
    for i in range(512):
        e = dict(src[i % len(src)])
        n = random.randint(16, 128)
        for k, v in list(e.items()):
            if isinstance(v, list) and len(v) == 128:
                e[k] = v[:n]
        f.write(json.dumps(e) + "\n")
print("fields", list(src[0].keys()), "examples", len(src))
PY
for pad in 1 128; do
  $J train --model /tmp/work/prepared/roberta-large-cls --data /tmp/work/var.jsonl --steps 48 --batch-size 32 \
    --device cuda --no-tf32 --lr 1e-4 --no-progress --pad-to-multiple-of $pad --out /tmp/padf$pad --overwrite \
    > "$OUT/padf$pad.log" 2>&1
  echo "pad $pad: $(grep -E '^done' "$OUT/padf$pad.log")"
done
paste <(grep -o "step [0-9]*/48 loss [0-9.]*" $OUT/padf1.log) <(grep -o "loss [0-9.]* .* [0-9.]* ms" $OUT/padf128.log) | head -30
grep -o "[0-9.]* ms$" $OUT/padf1.log | tail -n 20 | sort -n | sed -n 10p | sed 's/^/pad 1 median of last 20 printed steps: /'
grep -o "[0-9.]* ms$" $OUT/padf128.log | tail -n 20 | sort -n | sed -n 10p | sed 's/^/pad 128 median of last 20 printed steps: /'
KERNELS=fused IOS=cuda-graph timeout 400 bash scripts/bench/conform_fused.sh 2>&1 | tee $OUT/conform.txt | tail -n 22
