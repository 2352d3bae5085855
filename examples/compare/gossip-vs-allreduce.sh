#!/bin/sh
# Claim (Gossiping SGD): Elastic Gossip, Gossiping SGD and all-reduce SGD reach comparable accuracy, all-reduce at a much higher communication cost.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/gossip-vs-allreduce; extra arguments go
# to chorus compare (e.g. --repeat 3).
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --strategies allreduce,elastic-gossip,gossip --out "${OUT:-runs/examples}/gossip-vs-allreduce" "$@"
