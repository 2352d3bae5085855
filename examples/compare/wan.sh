#!/bin/sh
# Gossip against all-reduce on an emulated WAN (40 ms +- 10 ms, 100 Mbit/s, 0.1% loss; needs root).
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/wan; extra arguments go
# to chorus compare (e.g. --repeat 3).
# LSGD runs at --tau 4 --lambda 0.1 here: a quarter of the leader fetches of its defaults.
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --net wan --run-timeout 300 --strategies allreduce,kavg/k=8,elastic-gossip,gossip,lsgd/tau=4/lambda=0.1 --out "${OUT:-runs/examples}/wan" "$@"
