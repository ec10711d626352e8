#!/bin/bash
# `seqsuite eval` of a textgen run alone and beside a training run, two installs side by
# side: OLD (e.g. a wheel before inference held a thread claim) and NEW (this checkout).
#   OLD=/path/to/old/venv/bin/seqsuite bash bench/busy_eval.sh   (from the repository root)
# Figures: docs/results.md, "Inference beside training".
set -u
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 SEQSUITE_CACHE=/tmp/busy/cache
OLD=${OLD:?set OLD to the seqsuite command to compare with}
NEW=${NEW:-$(realpath .venv/bin/seqsuite)}
TEXT=$(realpath "${TEXT:-../shared/data/tinyshakespeare.txt}")
mkdir -p /tmp/busy && cd /tmp/busy
head -c 600000 "$TEXT" > text.txt
[ -f tg/metrics.json ] || $NEW run textgen --data text.txt --out tg --time-budget 20 --quiet > /dev/null
# warm the cache of both
$OLD eval tg --json > /dev/null; $NEW eval tg --json > /dev/null
timed() { local s=$(date +%s.%N); "$@" > /dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
for round in 1 2 3; do
  for which in OLD NEW; do
    bin=${!which}
    alone=$(timed $bin eval tg --json)
    rm -rf train_$which; $NEW run textgen --data text.txt --out train_$which --epochs 100 --time-budget 60 --quiet > train_$which.log 2>&1 &
    trainer=$!; sleep 8
    busy=$(timed $bin eval tg --json)
    kill -INT $trainer; wait $trainer 2>/dev/null
    echo "round $round $which eval alone ${alone} s, beside a training run ${busy} s"
  done
done
