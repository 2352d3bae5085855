#!/bin/sh
# Claim (K-AVG): K > 1 reaches a given accuracy sooner in wall time than K = 1, and allows larger step sizes.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/kavg-k; extra arguments go
# to chorus compare (e.g. --repeat 3).
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --strategies kavg/k=1,kavg/k=4,kavg/k=16,kavg/k=16/lr=0.1 --out "${OUT:-runs/examples}/kavg-k" "$@"
