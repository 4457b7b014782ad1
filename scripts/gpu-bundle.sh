#!/bin/sh
# Runs `npm run test:gpu` on a GPU machine that has the NVIDIA driver but neither Node nor GStreamer
# (nor a compiler, nor a package registry): build a bundle here, copy it there, run it there.
#
#   sh scripts/gpu-bundle.sh make DIR   on a Debian 12 machine with this repo built (npm run build),
#                                       GStreamer's plugins (base, good, bad, libav) and ffmpeg: writes
#                                       DIR (about 55 MB, compressed) with Node, the GStreamer libraries
#                                       and plugins test:gpu needs (their whole library closure, glibc
#                                       and libstdc++ aside), the node_modules jest needs, the built
#                                       addon and dist/, the clips test/gpu/cuda.test.ts decodes
#                                       (scripts/gpu-clips.mjs: H.264, H.265, VP9 with frames decoded
#                                       here, a counter clip), test/gpu/egl-import.c built, and the
#                                       bench's gpu suite files and addon.
#   sh scripts/gpu-bundle.sh run DIR [test:gpu arguments]
#                                       there, in a copy of this repo: unpacks DIR and runs
#                                       scripts/test-gpu.mjs with the bundle's libraries and plugins.
#   sh scripts/gpu-bundle.sh exec DIR COMMAND...
#                                       runs any command there the same way (gst-inspect-1.0 nvcodec;
#                                       node bench/run.mjs --suites gpu --media DIR/bench).
# The bundle's libraries come first on LD_LIBRARY_PATH, so the machine's own libcuda.so.1 and
# libnvcuvid.so.1 (not in the bundle) are the ones nvcodec and the cuda backend load.
set -eu
cmd=${1:?usage: gpu-bundle.sh make|run|exec DIR}
dir=${2:?usage: gpu-bundle.sh make|run|exec DIR}
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
multiarch=x86_64-linux-gnu
plugins="coreelements videotestsrc videoconvertscale app typefindfunctions isomp4 videoparsersbad playback videorate nvcodec png multifile matroska"

case $cmd in
make)
  [ -f "$root/build/Release/frame_source.node" ] || { echo "gpu-bundle: build the addon first (npm run build)" >&2; exit 1; }
  [ -f "$root/dist/index.cjs" ] || { echo "gpu-bundle: build dist/ first (npm run build:js)" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  gstdir=/usr/lib/$multiarch/gstreamer-1.0
  mkdir -p "$stage/gst/lib" "$stage/gst/plugins" "$stage/gst/bin"
  cp /usr/bin/gst-launch-1.0 /usr/bin/gst-inspect-1.0 "$stage/gst/bin/"
  for p in $plugins; do cp "$gstdir/libgst$p.so" "$stage/gst/plugins/"; done
  cp "/usr/lib/$multiarch/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner" "$stage/gst/"
  # Every library the plugins, the scanner and the addon load, except the C and C++ runtimes, which
  # any machine that runs Node has (newer ones do: a bundle's older copy would shadow them).
  for f in "$stage"/gst/plugins/*.so "$stage"/gst/bin/* "$stage/gst/gst-plugin-scanner" "$root/build/Release/frame_source.node"; do
    ldd "$f" | awk '/=> \// { print $3 }'
  done | sort -u | grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s)\.so' |
    while read -r lib; do cp -L "$lib" "$stage/gst/lib/"; done
  # test/gpu/egl-import.c loads GLES through libglvnd's dispatcher, which the NVIDIA driver lacks.
  cp -L /usr/lib/$multiarch/libGLESv2.so.2 "$stage/gst/lib/"
  tar -C "$stage" -cJf "$dir/gst.tar.xz" gst
  # Node compresses for a minute or two: a bundle made again keeps it while it is newer than node.
  node=$(command -v node)
  [ "$dir/node.xz" -nt "$node" ] || xz -9 -T0 -c "$node" > "$dir/node.xz"
  # jest, ts-jest and typescript with their dependencies, and the package's own.
  node - "$root" > "$stage/modules" <<'EOF'
const fs = require('fs'), path = require('path');
const root = process.argv[2];
const seen = new Set();
function find(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const cand = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(cand, 'package.json'))) return fs.realpathSync(cand);
    if (path.dirname(dir) === dir) return null;
  }
}
function walk(dir) {
  if (!dir || seen.has(dir)) return;
  seen.add(dir);
  const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies, ...pj.peerDependencies })) walk(find(dep, dir));
}
const own = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const name of ['jest', 'ts-jest', 'typescript', '@types/jest', '@types/node', ...Object.keys(own.dependencies ?? {})]) walk(find(name, root));
for (const d of [...seen].sort()) console.log(path.relative(root, d));
EOF
  tar -C "$root" -cJf "$dir/modules.tar.xz" -T "$stage/modules"
  # The clips test/gpu/cuda.test.ts decodes, with reference frames decoded here (no gst-libav there).
  node "$root/scripts/gpu-clips.mjs" "$dir/clips"
  # The bench's gpu suite files (1080p H.264 and H.265), for node bench/run.mjs --suites gpu --media
  # DIR/bench; this also builds the bench's own addon where it is missing.
  node "$root/bench/run.mjs" --suites gpu --media "$dir/bench" --prepare
  tar -C "$root" -cJf "$dir/app.tar.xz" dist build/Release/frame_source.node bench/appsink-copy/build/Release/appsink_copy.node
  ${CC:-cc} -std=c11 -O1 -Wall -o "$dir/egl-import" "$root/test/gpu/egl-import.c" -ldl
  du -sh "$dir"
  ;;
run | exec)
  dir=$(cd "$dir" && pwd)
  work=${TMPDIR:-/tmp}/frame-source-gpu-bundle
  # xz may be missing where Python is not: its lzma module reads the same files.
  unxz() {
    if command -v xz >/dev/null; then xz -dc "$1"; else
      python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
    fi
  }
  if [ ! -f "$work/unpacked" ] || [ "$dir/gst.tar.xz" -nt "$work/unpacked" ]; then
    rm -rf "$work" && mkdir -p "$work/bin"
    unxz "$dir/node.xz" > "$work/bin/node" && chmod +x "$work/bin/node"
    unxz "$dir/gst.tar.xz" | tar -C "$work" -x
    touch "$work/unpacked"
  fi
  unxz "$dir/modules.tar.xz" | tar -C "$root" -x
  # -m: extracted files are dated now, not older than the repo copy's sources (the bench would
  # otherwise try to rebuild its addon, with no compiler tool chain for node-gyp there).
  unxz "$dir/app.tar.xz" | tar -C "$root" -x -m
  export PATH="$work/bin:$work/gst/bin:$PATH"
  export LD_LIBRARY_PATH="$work/gst/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export GST_PLUGIN_SYSTEM_PATH="$work/gst/plugins" GST_PLUGIN_PATH="" GST_PLUGIN_SCANNER="$work/gst/gst-plugin-scanner"
  export GST_REGISTRY="$work/registry.bin"
  export FRAME_SOURCE_TEST_CLIPS="$dir/clips"
  export FRAME_SOURCE_TEST_EGL_IMPORT="$dir/egl-import"
  # The NVIDIA driver's EGL vendor file, where the bundle's libglvnd would not look for it.
  for f in /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json; do
    if [ -f "$f" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES="$f"; break; fi
  done
  cd "$root"
  if [ "$cmd" = run ]; then exec node scripts/test-gpu.mjs "$@"; else exec "$@"; fi
  ;;
*)
  echo "usage: gpu-bundle.sh make|run|exec DIR" >&2
  exit 2
  ;;
esac
