#!/usr/bin/env bash
# The summary of a study that is still running, over the seeds whose cells are all finished (with
# sharpness measured, when asked for): links those cells into PARTIAL/runs and runs `study` there
# with --seeds K (and the study's own --first-seed, if it has one), so nothing is trained and the
# running study's own files are not written.
#   bash scripts/results/study_partial.sh STUDY PARTIAL CELLS_PER_SEED JAR [study options but --out, --seeds]
# e.g. CELLS_PER_SEED = 5 for lora + eflat-lora at 4 rho and one lr. Writes PARTIAL/summary.md,
# study.csv, study.svg.
set -euo pipefail
study=${1:?STUDY}; partial=${2:?PARTIAL}; per_seed=${3:?CELLS_PER_SEED}; jar=${4:?JAR}; shift 4
key=result.json; pattern=test_accuracy
case " $* " in *" --sharpness "*) pattern=sharpness_adversarial ;; esac
first=0 # a study with --first-seed K counts its seeds from K
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = --first-seed ]; then first=${args[$((i + 1))]}; fi
done
k=0
while [ "$(grep -l "$pattern" "$study"/runs/*-seed$((first + k))/$key 2>/dev/null | wc -l)" -eq "$per_seed" ]; do
  k=$((k + 1))
done
echo "$study: $k seeds complete" >&2
[ "$k" -gt 0 ] || exit 0
rm -rf "$partial"; mkdir -p "$partial/runs"
for d in "$study"/runs/*; do
  s=${d##*-seed}
  if [ "$s" -ge "$first" ] && [ "$s" -lt $((first + k)) ]; then
    ln -s "$(cd "$d" && pwd)" "$partial/runs/$(basename "$d")"
  fi
done
java -jar "$jar" study --out "$partial" --seeds "$k" "$@"
