#!/bin/sh
# Every strategy side by side on loopback, twice each, with one process training alone
# (`local`) as the reference.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/all-strategies; extra
# arguments go to chorus compare.
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --repeat 2 --strategies local,allreduce,kavg,hier,elastic-gossip,gossip,easgd,lsgd,downpour --out "${OUT:-runs/examples}/all-strategies" "$@"
