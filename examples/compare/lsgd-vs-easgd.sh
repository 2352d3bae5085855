#!/bin/sh
# Claim (LSGD): compares favourably with EASGD.
# Writes summary.md, summary.csv and plots to ${OUT:-runs/examples}/lsgd-vs-easgd; extra arguments go
# to chorus compare. lsgd/tau=4/lambda=0.1 is the bandwidth-saving setting: a quarter of the fetches.
set -e
exec "${CHORUS:-build/chorus}" compare --peers 4 --model mlp --epochs 2 --strategies lsgd,lsgd/tau=4/lambda=0.1,easgd --repeat 2 --out "${OUT:-runs/examples}/lsgd-vs-easgd" "$@"
