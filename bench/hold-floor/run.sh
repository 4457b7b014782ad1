#!/bin/sh
# CPU ms a frame of the fakesink floor with K = 0, 1, 2, 4, 8 frames kept (see hold-floor.c): the
# steady state, as npm run bench measures it (FRAMES frames minus 100), in ROUNDS interleaved rounds.
#   sh run.sh [FORMAT WIDTH HEIGHT FRAMES ROUNDS]   (default RGBA 1280 720 2100 5)
set -eu
cd "$(dirname "$0")"
F=${1:-RGBA} W=${2:-1280} H=${3:-720} N=${4:-2100} R=${5:-5}
cc -O2 hold-floor.c -o /tmp/hold-floor $(pkg-config --cflags --libs gstreamer-1.0)
for r in $(seq "$R"); do
  line="round $r:"
  for k in 0 1 2 4 8; do
    a=$(/tmp/hold-floor "$k" "$N" "$F" "$W" "$H")
    b=$(/tmp/hold-floor "$k" 100 "$F" "$W" "$H")
    line="$line K=$k $(echo "$a $b" | awk -v n="$N" '{printf "%.3f", ($1 - $2) / (n - 100)}')"
  done
  echo "$line"
done
