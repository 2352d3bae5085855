#!/bin/sh
# Gossip against all-reduce on an emulated commodity LAN (0.2 ms, 1 Gbit/s; needs root for network namespaces).
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/lan; extra arguments go
# to chorus compare (e.g. --repeat 3).
# LSGD runs at --tau 4 --lambda 0.1 here: a quarter of the leader fetches of its defaults.
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --net lan --strategies allreduce,kavg/k=8,elastic-gossip,gossip,lsgd/tau=4/lambda=0.1 --out "${OUT:-runs/examples}/lan" "$@"
