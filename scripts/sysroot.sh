#!/usr/bin/env bash
# Assembles a Debian userland in a folder without touching this machine's apt or dpkg state:
# apt resolves the dependency closure of the named packages from a private configuration and only
# downloads it (--download-only, empty dpkg status), then `dpkg -x` unpacks every .deb into the root.
# The prebuilds compile against such roots (sysroots) and the tests run the addon inside them.
#
#   scripts/sysroot.sh <suite> <arch> <root> <package>...
#
# Idempotent: a root whose stamp lists the same suite, arch and packages is reused as it is.
# Downloads are kept in <root>.apt/ so a rebuilt root needs no network.
# The Debian mirror is the one this machine's apt uses (FRAME_SOURCE_DEBIAN_MIRROR overrides it).
set -euo pipefail

if [ "$#" -lt 4 ]; then
  echo "usage: $0 <suite> <arch> <root> <package>..." >&2
  exit 2
fi
suite=$1 arch=$2
# apt resolves relative Dir:: paths against its own folders: work with absolute ones.
root=$(realpath -m "$3")
shift 3
packages=("$@")

# Two test workers may ask for the same root at once: one assembles it, the other waits.
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9

want="suite=$suite arch=$arch packages=${packages[*]}"
stamp="$root/.sysroot-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

mirror=${FRAME_SOURCE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # deb822 files first (Debian 12's default), then one-line sources.
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }')
fi
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -z "$mirror" ] || [ ! -f "$keyring" ] || ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "sysroot: cannot download Debian packages here (needs apt-get, dpkg, $keyring and a Debian source in /etc/apt)" >&2
  exit 3
fi

apt_dir="$root.apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc"
: >"$apt_dir/status"
echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt_dir/etc/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/etc/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir"
  -o "Dir::Cache::archives=$apt_dir/archives"
  -o "APT::Architecture=$arch"
  -o "APT::Architectures::=$arch"
  -o APT::Install-Recommends=false
  -o Debug::NoLocking=true
)

start=$(date +%s)
# The lists are refreshed only when a package is missing from the cache: a cached closure
# must keep working offline.
if ! apt-get "${apt_opts[@]}" install -y -qq --download-only "${packages[@]}" >"$apt_dir/install.log" 2>&1; then
  apt-get "${apt_opts[@]}" update -qq
  apt-get "${apt_opts[@]}" install -y -qq --download-only "${packages[@]}" >"$apt_dir/install.log" 2>&1 ||
    { cat "$apt_dir/install.log" >&2; exit 1; }
fi

# Unpack into a fresh folder, then swap it in, so an interrupted run never leaves half a root.
tmp="$root.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
n=0
for deb in "$apt_dir"/archives/*.deb; do
  dpkg -x "$deb" "$tmp"
  n=$((n + 1))
done
# Absolute symlinks (lib64 -> /lib/..., libgcc_s.so -> /lib/...) would point into this machine's
# own userland: make them relative so they stay inside the root.
find "$tmp" -type l -lname '/*' | while read -r link; do
  target=$(readlink "$link")
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$tmp$target")" "$link"
done
echo "$want" >"$tmp/.sysroot-stamp"
rm -rf "$root"
mv "$tmp" "$root"
size=$(du -sh "$apt_dir/archives" | cut -f1)
echo "sysroot: $suite/$arch: $n packages ($size of .debs) unpacked into $root in $(($(date +%s) - start)) s"
