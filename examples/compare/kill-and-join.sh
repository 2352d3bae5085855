#!/bin/sh
# Fault tolerance: peer 3 is killed at 5 s and a fresh peer joins at 8 s, the same scenario for every strategy. Every peer computes 20x slower so that the run outlasts the faults.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/kill-and-join; extra arguments go
# to chorus compare (e.g. --repeat 3).
# LSGD runs at --tau 4 --lambda 0.1 here: a quarter of the leader fetches of its defaults.
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --fault slow:0:20 --fault slow:1:20 --fault slow:2:20 --fault slow:3:20 --fault kill:3@5 --fault join@8 --strategies allreduce,kavg,hier,elastic-gossip,gossip,easgd,lsgd/tau=4/lambda=0.1,downpour --out "${OUT:-runs/examples}/kill-and-join" "$@"
