#!/bin/sh
# Claim (LSGD): compares favourably with EASGD.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/lsgd-vs-easgd; extra arguments go
# to chorus compare (e.g. --repeat 3).
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --strategies lsgd,easgd --out "${OUT:-runs/examples}/lsgd-vs-easgd" "$@"
