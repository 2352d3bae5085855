#!/bin/sh
# Claim (overlap): worker idle time near zero, accuracy as synchronous, divergence bounded by S.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/overlap; extra arguments go
# to chorus compare (e.g. --repeat 3).
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --strategies elastic-gossip,elastic-gossip/overlap=2,kavg/k=8,kavg/k=8/overlap=2 --out "${OUT:-runs/examples}/overlap" "$@"
