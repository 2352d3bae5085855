#!/bin/sh
# Claim (Hier-AVG): with fewer global reductions it keeps K-AVG's speed and gets better test accuracy (two groups of two).
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/hier-vs-kavg; extra arguments go
# to chorus compare (e.g. --repeat 3).
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --strategies kavg/k=16,hier/k1=4/k2=16/groups=size:2 --out "${OUT:-runs/examples}/hier-vs-kavg" "$@"
