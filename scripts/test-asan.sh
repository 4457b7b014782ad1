#!/bin/sh
# npm run test:asan: builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into a
# copy of the package (build-asan/, so the normal build stays as it is) and runs the soak and the
# exit-at-each-stage scenarios against it. Fails on any sanitizer report. Leak detection is off:
# V8 and GLib keep one-time allocations for the life of the process (leaks are the leaks tracer's job).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build-asan"
rm -rf "$out" && mkdir -p "$out/dist"
cp -r "$root/binding.gyp" "$root/package.json" "$root/csrc" "$out/"
cp "$root/dist/index.cjs" "$out/dist/"
ln -s "$root/node_modules" "$out/node_modules"
(cd "$out" && CXXFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -g" \
  LDFLAGS="-fsanitize=address,undefined" npx node-gyp rebuild >build.log 2>&1) || { tail -20 "$out/build.log"; exit 1; }

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
log="$out/sanitizers.log"
: >"$log"
# ASan's quarantine holds freed memory back, so RSS is no measure here: the bound is lifted.
node --expose-gc "$root/scripts/soak.mjs" --frames 5000 --bound-mb 100000 --dist "$out/dist/index.cjs" 2>>"$log"
for stage in constructed negotiated playing holding closing closed; do
  for how in exit natural; do
    node "$root/test/fixtures/stages.js" "$out/dist/index.cjs" "$stage" "$how" >/dev/null 2>>"$log"
  done
done
if grep -E "ERROR: AddressSanitizer|runtime error:" "$log"; then exit 1; fi
echo "test:asan: soak (5,000 frames) and 12 exit scenarios clean under ASan + UBSan"
