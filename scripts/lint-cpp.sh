#!/bin/sh
# npm run lint:cpp: checks the C++ of csrc/ (and the bench's small addon and C program) with
# clang-format and clang-tidy. clang-tidy compiles each file with exactly the flags of the addon's
# build: it reads build/compile_commands.json, which node-gyp's own gyp writes from binding.gyp here.
# `sh scripts/lint-cpp.sh --fix` rewrites the files with clang-format instead of checking them.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

for tool in clang-format clang-tidy; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "lint:cpp: $tool is not installed (Debian/Ubuntu: apt-get install clang-format clang-tidy)" >&2
    exit 1
  fi
done

sources=$(find csrc bench/appsink-copy -name '*.cc' -o -name '*.c' -o -name '*.h' | sort)
if [ "${1:-}" = "--fix" ]; then
  # shellcheck disable=SC2086
  clang-format -i $sources
  exit 0
fi
# shellcheck disable=SC2086
clang-format --dry-run -Werror $sources

# gyp's compile_commands_json generator writes build/<config>/compile_commands.json next to the
# Makefile node-gyp made, and leaves the Makefile and the built addon alone.
mkdir -p build
npx --no-install node-gyp configure -- -f compile_commands_json >build/compile-commands.log 2>&1 ||
  { cat build/compile-commands.log >&2; exit 1; }
# Its "directory" is relative ("."); clang tools want an absolute one. Only csrc/ is checked: the
# list comes from binding.gyp, so a backend built only on another OS is left out here as it is in
# the build.
node -e '
  const fs = require("node:fs");
  const cmds = JSON.parse(fs.readFileSync("build/Release/compile_commands.json", "utf8"));
  for (const c of cmds) c.directory = process.cwd();
  fs.writeFileSync("build/compile_commands.json", JSON.stringify(cmds, null, 2));
  for (const c of cmds) if (c.file.includes("/csrc/")) console.log(c.file);
' >build/tidy-files.txt
# One clang-tidy a file, as many at once as there are cores; any finding fails (.clang-tidy says
# which checks run and why). clang-tidy only warns about a .clang-tidy it cannot parse and then runs
# its default checks, so that warning fails the run too.
status=0
xargs -P "$(nproc)" -n 1 clang-tidy -p build --quiet --warnings-as-errors='*' <build/tidy-files.txt >build/tidy.log 2>&1 ||
  status=1
if [ "$status" -ne 0 ] || grep -q 'Error parsing' build/tidy.log; then
  grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' build/tidy.log >&2
  exit 1
fi
echo "lint:cpp: clang-format and clang-tidy clean ($(wc -l <build/tidy-files.txt) files)"
