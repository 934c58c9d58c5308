#!/usr/bin/env bash
# Copies the release binary into the platform package (stripped of debug info)
# so `npm pack` can ship it. Usage: stage-binary.sh [PATH_TO_BINARY]
# Default: target/release/mailfault (build it with `cargo build --release`).
set -euo pipefail
js="$(cd "$(dirname "$0")/.." && pwd)"
root="$(dirname "$js")"
src="${1:-$root/target/release/mailfault}"
if [ ! -x "$src" ]; then
  echo "stage-binary: $src is missing or not executable; run \`cargo build --release\` in $root first, or pass the binary's path" >&2
  exit 1
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "stage-binary: the only platform package is linux-x64-gnu, and this machine is $(uname -s)-$(uname -m); build on Linux x86_64" >&2
  exit 1
fi
dest="$js/packages/cli-linux-x64-gnu/bin/mailfault"
mkdir -p "$(dirname "$dest")"
cp "$src" "$dest.tmp"
if command -v strip >/dev/null; then strip --strip-debug "$dest.tmp"; fi
chmod 755 "$dest.tmp"
mv "$dest.tmp" "$dest"
"$dest" --version >/dev/null 2>&1 || "$dest" --help >/dev/null
echo "stage-binary: $dest ($(du -h "$dest" | cut -f1))"
