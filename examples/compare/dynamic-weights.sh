#!/bin/sh
# Claim (dynamic weighting): a peer returning with stale parameters (peer 2 paused 3 s after the start for 4 s) does not drag the others back when contributions are weighted by how current they are. Every peer computes 20x slower so that the run outlasts the pause.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/dynamic-weights; extra arguments go
# to chorus compare (e.g. --repeat 3).
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --fault slow:0:20 --fault slow:1:20 --fault slow:2:20 --fault slow:3:20 --fault stop:2@3+4 --strategies kavg/k=8,kavg/k=8/dynamic-weights,elastic-gossip,elastic-gossip/dynamic-weights --out "${OUT:-runs/examples}/dynamic-weights" "$@"
