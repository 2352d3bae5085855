#!/bin/sh
# Runs every scenario of this directory one after the other (about 30 minutes on 2 cores);
# lan and wan only as root.
set -e
here=$(dirname "$0")
for s in "$here"/*.sh; do
  name=$(basename "$s" .sh)
  [ "$name" = run-all ] && continue
  if { [ "$name" = lan ] || [ "$name" = wan ]; } && [ "$(id -u)" != 0 ]; then
    echo "skipping $name: emulated networks need root"; continue
  fi
  echo "== $name"
  "$s" "$@"
done
